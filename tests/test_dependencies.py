"""The install users get: every imported library declared, the shipped profiles' learned
scoring in the core install, a missing optional database driver one line and exit 2."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

from arxivfilter.cli import main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    """The normalised distribution name of a requirement string."""
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _imports(folder: Path) -> set[str]:
    """Top-level modules imported anywhere under ``folder`` (absolute imports only)."""
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"arxivfilter", "tests", "__future__"}


def _distributions(modules: set[str]) -> dict[str, set[str]]:
    """module -> the distributions installing it (normalised names)."""
    installed = importlib.metadata.packages_distributions()
    return {m: {_name(d) for d in installed.get(m, [])} for m in sorted(modules)}


CORE = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
DEV = {_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}


def test_every_module_the_package_imports_is_a_core_dependency() -> None:
    """sqlalchemy, numpy, scipy, scikit-learn ... are imported by src/: all declared as core."""
    missing = {
        m: dists
        for m, dists in _distributions(_imports(ROOT / "src" / "arxivfilter")).items()
        if not dists & CORE
    }
    assert not missing, f"imported by src/ but not in [project] dependencies: {missing}"


def test_every_module_tests_and_benches_import_is_declared() -> None:
    modules = _imports(ROOT / "tests") | _imports(ROOT / "bench")
    missing = {m: d for m, d in _distributions(modules).items() if not d & (CORE | DEV)}
    assert not missing, f"imported by tests/bench but not declared (core or dev): {missing}"


def test_learned_scoring_is_in_the_core_install() -> None:
    """A shipped profile names liked examples, so its library comes with ``pip install .``."""
    assert {"scikit-learn", "numpy", "scipy"} <= CORE


def test_every_dependency_has_a_lower_bound() -> None:
    reqs = (
        PYPROJECT["project"]["dependencies"]
        + PYPROJECT["project"]["optional-dependencies"]["postgres"]
    )
    assert all(">=" in r for r in reqs), [r for r in reqs if ">=" not in r]


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("postgresql+psycopg://user:hunter2@localhost/db", "pip install 'arxivfilter[postgres]'"),
        ("postgresql://user:hunter2@localhost/db", "pip install 'arxivfilter[postgres]'"),
    ],
)
def test_missing_postgres_driver_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str, needle: str
) -> None:
    """A PostgreSQL URL without psycopg installed: one line naming the extra, exit 2."""
    for name in [m for m in sys.modules if m == "psycopg" or m.startswith("psycopg.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` now fails
    monkeypatch.setenv("ARXIVFILTER_DB_URL", url)
    code = main(["runs"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("arxivfilter: error: database URL postgresql")
    assert needle in lines[0]
    assert "hunter2" not in err


def test_missing_other_driver_names_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any other missing DBAPI is also one line naming the module, exit 2."""
    monkeypatch.setitem(sys.modules, "pymysql", None)
    monkeypatch.setenv("ARXIVFILTER_DB_URL", "mysql+pymysql://user:hunter2@localhost/db")
    code = main(["runs"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "'pymysql' is not installed" in err
    assert len(err.strip().splitlines()) == 1
    assert "hunter2" not in err
