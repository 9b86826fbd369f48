"""Start-up imports only what a command needs (issue #23): not a timed test, a list of modules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("openai", "alembic", "sqlalchemy", "sqlmodel", "arxivfilter.pipeline", "pylatexenc")
# what the settings and logging bring (0.2 s of CPU): not needed to print help or the version
SETTINGS = ("structlog", "pydantic", "arxivfilter.config", "rich.traceback")


def _loaded(code: str, heavy: tuple[str, ...] = HEAVY + SETTINGS) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {heavy!r} if m in sys.modules))"
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


def test_help_loads_nothing_heavy() -> None:
    run = "import contextlib, io\nfrom arxivfilter.cli import main\n"
    run += "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
    assert _loaded(run + "    main(['--help'])") == set()
    # a command's help: recent typer imports pydantic itself (its parameter adapters)
    assert _loaded(run + "    main(['run', '--help'])") <= {"pydantic"}


def test_alembic_only_when_a_migration_is_due(tmp_path: Path) -> None:
    """A database at the head revision opens without importing alembic."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = _loaded(f"from arxivfilter import store\nstore.make_engine({url!r})", HEAVY)
    assert "alembic" in first  # created: migrated
    again = _loaded(f"from arxivfilter import store\nstore.make_engine({url!r})", HEAVY)
    assert "alembic" not in again and "openai" not in again


_RUN = """
import os, sys
from arxivfilter.cli import main
from arxivfilter.score.sdk import loaded
rc = main(["run", "--source", "five.jsonl", "--date", "2025-12-16", "--scorer", "llm"])
print("RESULT", rc, loaded())
"""


def test_a_rerun_with_every_paper_cached_never_loads_the_llm_sdk(tmp_path: Path) -> None:
    """The openai SDK (about 0.4 s of CPU) is imported when a call is about to be made: the
    first run loads it; the re-run, every judgement cached and the LLM unreachable, does not."""
    from tests.stub_llm import running

    root = Path(__file__).resolve().parent.parent
    day = (root / "examples" / "2025-12-16.jsonl").read_text(encoding="utf-8").splitlines()
    (tmp_path / "five.jsonl").write_text("\n".join(day[:5]) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARXIVFILTER_", "OPENAI_"))}
    env["ARXIVFILTER_DB_URL"] = f"sqlite:///{tmp_path / 'a.db'}"

    def run(base_url: str) -> str:
        out = subprocess.run(
            [sys.executable, "-c", _RUN],
            cwd=tmp_path,
            env={**env, "OPENAI_BASE_URL": base_url},
            capture_output=True,
            text=True,
            timeout=300,
        )
        return next(line for line in out.stdout.splitlines() if line.startswith("RESULT"))

    with running() as stub:
        assert run(stub.base_url) == "RESULT 0 True"
    # nothing listens on port 9: a call would fail the run
    assert run("http://127.0.0.1:9/v1") == "RESULT 0 False"


DEMO = Path(__file__).resolve().parents[1] / "examples" / "2025-12-16.jsonl"


def _freeze_count(tmp_path: Path, call: str) -> int:
    """``gc.get_freeze_count()`` at the exit of a process that ran the demo day via ``call``."""
    out = tmp_path / "frozen.txt"
    code = (
        "import atexit, gc, pathlib, sys\n"
        f"atexit.register(lambda: pathlib.Path({str(out)!r}).write_text(str(gc.get_freeze_count())))\n"
        f"sys.argv = ['arxivfilter', 'run', '--source', {str(DEMO)!r}, '--categories', 'cs.OS']\n"
        f"{call}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return int(out.read_text())


def test_the_program_freezes_what_its_imports_built_and_main_does_not(tmp_path: Path) -> None:
    """The console script (cli.entry) moves the imported modules' objects out of the
    collector's reach (gc.freeze: a cached re-run 1.0 -> 0.8 s of CPU); a library or test
    caller of cli.main keeps its collector as it was."""
    assert _freeze_count(tmp_path, "from arxivfilter.cli import entry; entry()") > 10_000
    code = "from arxivfilter.cli import main; sys.exit(main())"
    assert _freeze_count(tmp_path, code) == 0


def test_entry_leaves_a_later_in_process_main_unfrozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller that catches entry()'s exit and calls main() again gets a plain main()."""
    from arxivfilter import cli

    monkeypatch.setattr(sys, "argv", ["arxivfilter", "--version"])
    with pytest.raises(SystemExit) as done:
        cli.entry()
    assert done.value.code == 0
    assert cli.STATE.own_process is False
