"""The install users get: every imported library declared, the shipped profiles' learned
scoring in the core install, a missing optional database driver one line and exit 2."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
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
    local = {p.stem for p in (ROOT / "bench").glob("*.py")}  # bench scripts import each other
    return found - set(sys.stdlib_module_names) - {"arxivfilter", "tests", "__future__"} - local


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


# --------------------------------------------------------------------------- the lock file

LOCK = ROOT / "requirements.lock"
LOCK_COMMAND = (
    "uv pip compile pyproject.toml --extra postgres --universal --python-version 3.11 "
    "--generate-hashes -o requirements.lock"
)


def _locked() -> dict[str, list[tuple[str, str]]]:
    """name -> [(version, marker)] of every pin in requirements.lock (one per marker branch)."""
    pins: dict[str, list[tuple[str, str]]] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = re.match(r"([A-Za-z0-9._-]+)==([^ ;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?$", line)
        if match:
            pins.setdefault(_name(match.group(1)), []).append(
                (match.group(2), (match.group(3) or "").strip())
            )
    return pins


def test_lock_file_is_made_by_the_documented_command() -> None:
    header = LOCK.read_text(encoding="utf-8").splitlines()[:2]
    assert header[1].strip("# ").strip() == LOCK_COMMAND


def test_lock_pins_every_dependency_within_its_bounds() -> None:
    """The lock is in sync with pyproject.toml: each direct dependency (core + postgres) is
    pinned at a version its specifier allows. (.ci/run also re-compiles it and compares.)"""
    from packaging.requirements import Requirement

    pins = _locked()
    reqs = [
        Requirement(r)
        for r in PYPROJECT["project"]["dependencies"]
        + PYPROJECT["project"]["optional-dependencies"]["postgres"]
    ]
    for req in reqs:
        name = _name(req.name)
        assert name in pins, f"{req} is not in requirements.lock: run {LOCK_COMMAND}"
        for version, _marker in pins[name]:
            assert req.specifier.contains(version, prereleases=True), (
                f"requirements.lock pins {name}=={version}, outside {req}: run {LOCK_COMMAND}"
            )


def test_every_locked_package_carries_hashes() -> None:
    text = LOCK.read_text(encoding="utf-8")
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert blocks
    for block in blocks:
        assert "--hash=sha256:" in block, block.splitlines()[0]


def test_nightly_installs_from_the_lock() -> None:
    """The workflow's Install step: hashes required from the lock, then the project alone."""
    workflow = (ROOT / ".github" / "workflows" / "nightly.yml").read_text(encoding="utf-8")
    step = workflow.split("- name: Install", 1)[1].split("- name:", 1)[0]
    assert "--require-hashes -r requirements.lock" in step
    assert "--no-deps ." in step


def test_dockerfile_installs_from_the_lock() -> None:
    """The image installs the locked versions (hashes required) before the project itself."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY requirements.lock" in dockerfile
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "--no-deps" in dockerfile
    assert dockerfile.index("requirements.lock") < dockerfile.index("--no-deps")


def test_docker_image_has_no_fixed_owner() -> None:
    """The image works for any uid (``docker run --user "$(id -u):$(id -g)"``): /work is
    writable by all, owned by nobody in particular, and HOME does not need an account."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "chown" not in dockerfile and "useradd" not in dockerfile
    assert re.search(r"chmod 1777 /work /work/data /work/digests", dockerfile)
    assert "HOME=/work" in dockerfile
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert '--user "$(id -u):$(id -g)"' in readme


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to run as an arbitrary uid",
)
def test_runs_as_an_arbitrary_uid_without_an_account() -> None:
    """What the image does under ``--user 54321:54321``: a uid with no passwd entry, HOME=/work,
    in a world-writable sticky /work (as the Dockerfile makes it)."""
    as_uid = ["setpriv", "--reuid=54321", "--regid=54321", "--clear-groups", sys.executable]
    probe = subprocess.run([*as_uid, "-c", "import arxivfilter"], capture_output=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip("this Python or checkout is not readable by another uid")
    work = Path(tempfile.mkdtemp(prefix="arxivfilter-uid-", dir="/tmp"))
    try:
        work.chmod(0o1777)
        proc = subprocess.run(
            [*as_uid, "-m", "arxivfilter.cli", "run", "--source", str(ROOT / "examples" / "2025-12-16.jsonl"), "--categories", "cs.OS"],
            cwd=work,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert (work / "data" / "arxivfilter.db").stat().st_uid == 54321
        assert any((work / "digests").rglob("*.md"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
