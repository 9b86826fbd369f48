"""Start-up imports only what a command needs (issue #23): not a timed test, a list of modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = ("openai", "alembic", "sqlalchemy", "sqlmodel", "arxivfilter.pipeline", "pylatexenc")


def _loaded(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_the_cli_module_loads_no_storage_nor_llm_client() -> None:
    """``--help`` and ``--version`` need neither the pipeline, SQLAlchemy, alembic nor openai."""
    assert _loaded("import arxivfilter.cli") == set()


def test_version_loads_nothing_heavy() -> None:
    code = (
        "import contextlib, io\nfrom arxivfilter.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--version'])"
    )
    assert _loaded(code) == set()


def test_alembic_only_when_a_migration_is_due(tmp_path: Path) -> None:
    """A database at the head revision opens without importing alembic."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = _loaded(f"from arxivfilter import store\nstore.make_engine({url!r})")
    assert "alembic" in first  # created: migrated
    again = _loaded(f"from arxivfilter import store\nstore.make_engine({url!r})")
    assert "alembic" not in again and "openai" not in again
