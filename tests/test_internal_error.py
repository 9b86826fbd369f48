"""A crash is never "done": an unexpected exception is one line, exit 70, recorded as crashed.

Exit 1 means "done with some failures" to the nightly workflow (it commits), so a bug must
never exit 0 or 1 (Python's own traceback exit is 1). Faults are injected into a stage and
run through the CLI in-process, as a real process, through the library, and through
``schedule``'s job.
"""

from __future__ import annotations

import errno
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from arxivfilter import pipeline
from arxivfilter.cli import main
from arxivfilter.config import load_settings
from arxivfilter.fetch import stage as fetch_stage
from arxivfilter.score.local import LocalScorer

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "2025-12-16.jsonl"
KEY = "sk-secret-crash-0123456789"


def _boom(*_args: Any, **_kwargs: Any) -> Any:
    raise ModuleNotFoundError("No module named 'numpy'", name="numpy")


def _runs(folder: Path = Path()) -> list[dict[str, Any]]:
    conn = sqlite3.connect(folder / "data" / "arxivfilter.db")
    try:
        rows = conn.execute(
            "SELECT command, status, exit_code, message, counts FROM runs ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    return [
        {"command": c, "status": s, "exit_code": e, "message": m, "counts": json.loads(n)}
        for c, s, e, m, n in rows
    ]


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("arxivfilter: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_crash_in_scoring_is_exit_70_through_the_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's night: the learned model's library is missing. One line, exit 70, crashed."""
    monkeypatch.setattr(LocalScorer, "learned_model", _boom)
    code = main(["run", "--source", str(DEMO), "--categories", "cs.OS"])
    err = capsys.readouterr().err
    assert code == 70
    line = _one_error_line(err)
    assert "internal error" in line and "ModuleNotFoundError: No module named 'numpy'" in line
    (run,) = _runs()
    assert run["status"] == "crashed" and run["exit_code"] == 70
    assert "ModuleNotFoundError" in run["message"]
    assert "Traceback (most recent call last)" in run["counts"]["traceback"]
    assert "learned_model" in run["counts"]["traceback"]
    assert run["counts"]["fetch"]["papers"] > 0  # what it had done is kept


def test_crash_traceback_goes_to_the_debug_log(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "write_reports", _boom)
    monkeypatch.setenv("ARXIVFILTER_LOG_LEVEL", "debug")
    code = main(["run", "--source", str(DEMO), "--categories", "cs.OS"])
    err = capsys.readouterr().err
    assert code == 70
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    (crash,) = [e for e in events if e["event"] == "internal error"]
    assert crash["level"] == "debug"
    assert "Traceback (most recent call last)" in crash["traceback"]
    assert "write_reports" in crash["traceback"] or "_boom" in crash["traceback"]
    assert len([line for line in err.splitlines() if line.startswith("arxivfilter: error:")]) == 1


def test_crash_through_the_library_raises_exit_70_and_records_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from arxivfilter.errors import InternalError

    monkeypatch.setattr(fetch_stage, "iter_replay", _boom)
    settings = load_settings(env={"OPENAI_API_KEY": KEY, "ARXIVFILTER_SCORE__SCORER": "local"})
    app = pipeline.App(settings)
    try:
        with pytest.raises(InternalError) as info:
            pipeline.run(app, pipeline.Options(source=DEMO, categories=["cs.OS"]))
    finally:
        app.close()
    assert info.value.exit_code == 70
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    (run,) = _runs()
    assert (run["status"], run["exit_code"]) == ("crashed", 70)


def test_crash_text_with_the_key_is_masked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def leak(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError(f"bad header Authorization: Bearer {KEY}")

    monkeypatch.setattr(pipeline, "write_reports", leak)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("ARXIVFILTER_SCORE__SCORER", "local")
    code = main(["run", "--source", str(DEMO), "--categories", "cs.OS"])
    err = capsys.readouterr().err
    assert code == 70
    assert KEY not in err
    (run,) = _runs()
    assert KEY not in json.dumps(run)
    assert "RuntimeError" in run["counts"]["traceback"]


def test_crash_outside_a_run_is_exit_70(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that records no run (export) crashing: still one line and 70."""
    import arxivfilter.export

    assert main(["run", "--source", str(DEMO), "--categories", "cs.OS"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(arxivfilter.export, "export_records", _boom)
    code = main(["export", "--date", "2025-12-16", "--categories", "cs.OS"])
    captured = capsys.readouterr()
    assert code == 70
    _one_error_line(captured.err)
    assert captured.out == ""


@pytest.mark.parametrize(
    ("number", "code"), [(errno.ENOENT, 70), (errno.EBADF, 70), (errno.ENOSPC, 5), (errno.EPERM, 5)]
)
def test_an_unexpected_oserror_is_not_done(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, number: int, code: int
) -> None:
    """An OSError that is not local storage failing used to exit 1 ("done"): now 70."""

    def fail(*_a: Any, **_k: Any) -> Any:
        raise OSError(number, "injected")

    monkeypatch.setattr(pipeline, "write_reports", fail)
    assert main(["run", "--source", str(DEMO), "--categories", "cs.OS"]) == code
    _one_error_line(capsys.readouterr().err)
    (run,) = _runs()
    assert run["exit_code"] == code
    assert run["status"] == ("crashed" if code == 70 else "failed")


def test_a_crashed_run_is_listed_and_the_next_run_works(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(pipeline, "write_reports", _boom)
        assert main(["run", "--source", str(DEMO), "--categories", "cs.OS"]) == 70
    assert main(["run", "--source", str(DEMO), "--categories", "cs.OS"]) == 0
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    newest, crashed = json.loads(capsys.readouterr().out)
    assert newest["status"] == "ok"
    assert crashed["status"] == "crashed" and crashed["exit_code"] == 70
    assert "Traceback" in crashed["traceback"]


def test_schedule_job_crash_is_70_logged_and_recorded(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``schedule``'s nightly job: a crash returns 70 with one error event, the scheduler lives on."""
    import arxivfilter.schedule

    results: list[int] = []
    monkeypatch.setattr(arxivfilter.schedule, "serve", lambda _settings, job: results.append(job()))
    monkeypatch.setattr(pipeline, "fetch", _boom)
    monkeypatch.setenv("ARXIVFILTER_SCORE__SCORER", "local")
    code = main(["schedule", "--categories", "cs.OS"])
    err = capsys.readouterr().err
    assert code == 0
    assert results == [70]
    assert "Traceback" not in err
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    (failed,) = [e for e in events if e["event"] == "scheduled run failed"]
    assert failed["exit_code"] == 70 and "ModuleNotFoundError" in failed["error"]
    (run,) = _runs()
    assert (run["status"], run["exit_code"]) == ("crashed", 70)


@pytest.mark.slow
def test_crash_in_a_real_process_exits_70(tmp_path: Path) -> None:
    """The console script's process: exit status 70, one line on stderr, no traceback."""
    script = textwrap.dedent(
        f"""
        import sys
        from arxivfilter import pipeline
        def boom(*a, **k):
            raise ZeroDivisionError("injected in the report stage")
        pipeline.write_reports = boom
        from arxivfilter.cli import entry
        sys.argv = ["arxivfilter", "run", "--source", {str(DEMO)!r}, "--categories", "cs.OS"]
        entry()
        """
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 70, proc.stderr
    line = _one_error_line(proc.stderr)
    assert "ZeroDivisionError: injected in the report stage" in line
    assert [r["status"] for r in _runs(tmp_path)] == ["crashed"]
