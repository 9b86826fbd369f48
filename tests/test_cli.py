"""The command line: one clear line and the documented exit code for every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arxivfilter.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "2025-12-16.jsonl"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("arxivfilter: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("2025-13-01", "2025-13-01"),
        ("tomorrow", "tomorrow"),
        ("1990-01-01", "before arXiv"),
        ("2025-1-5", "2025-1-5"),
    ],
)
def test_bad_dates_are_exit_2(capsys: pytest.CaptureFixture[str], value: str, needle: str) -> None:
    """Malformed dates and dates before arXiv existed: one line, exit 2."""
    code, _, err = run_cli(capsys, "fetch", "--date", value)
    assert code == 2
    assert needle in error_line(err)


def test_future_date_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A date later than today in New York is an error."""
    code, _, err = run_cli(capsys, "fetch", "--date", "2999-01-01")
    assert code == 2
    assert "future" in error_line(err)


def test_weekend_date_says_no_announcement(capsys: pytest.CaptureFixture[str]) -> None:
    """A Saturday: 'no announcement on D', exit 0, nothing stored, no request."""
    code, out, _ = run_cli(capsys, "fetch", "--date", "2025-12-13", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["fetch"]["papers"] == 0
    assert "no announcement on 2025-12-13 (a Saturday)" in data["fetch"]["notes"]


def test_unknown_profile_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --profile names the closest known one."""
    code, _, err = run_cli(capsys, "score", "--date", "2025-12-16", "--profile", "llm-inferenc")
    assert code == 2
    assert "llm-inference" in error_line(err)


def test_scorer_llm_without_key_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """--scorer llm with neither a key nor a base URL configured is a usage error."""
    code, _, err = run_cli(capsys, "score", "--date", "2025-12-16", "--scorer", "llm")
    assert code == 2
    assert "OPENAI_API_KEY" in error_line(err)


def test_unknown_config_key_names_the_closest(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown key in the config file is exit 2 and names the closest valid key."""
    Path("config").mkdir()
    Path("config/arxivfilter.toml").write_text("[llm]\nconcurency = 2\n")
    code, _, err = run_cli(capsys, "config")
    assert code == 2
    assert "concurrency" in error_line(err)


def test_wrong_type_in_env_is_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ARXIVFILTER_LLM__CONCURRENCY=lots is one clear line naming the key."""
    monkeypatch.setenv("ARXIVFILTER_LLM__CONCURRENCY", "lots")
    code, _, err = run_cli(capsys, "config")
    assert code == 2
    assert "concurrency" in error_line(err)


def test_env_naming_no_key_is_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ARXIVFILTER_SECTION__KEY naming no key is an error."""
    monkeypatch.setenv("ARXIVFILTER_LLM__CONCURENCY", "2")
    code, _, err = run_cli(capsys, "config")
    assert code == 2
    assert "concurrency" in error_line(err)


def test_profile_threshold_150_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """A profile with threshold 150 is rejected with the file and key named."""
    Path("config/profiles").mkdir(parents=True)
    Path("config/profiles/bad.toml").write_text(
        'name = "bad"\ndescription = "x"\nthreshold = 150\n'
    )
    code, _, err = run_cli(capsys, "profiles")
    assert code == 2
    assert "bad.toml" in err and "threshold" in err


@pytest.mark.parametrize(
    ("line", "needle"),
    [('examples_file = "nope.tsv"', "nope.tsv"), ('examples = ["not-an-id"]', "not-an-id")],
)
def test_profiles_validates_liked_examples(
    capsys: pytest.CaptureFixture[str], line: str, needle: str
) -> None:
    """``profiles`` rejects what ``run`` would: a missing examples file, a malformed id."""
    Path("config/profiles").mkdir(parents=True)
    Path("config/profiles/bad.toml").write_text(
        f'name = "bad"\ndescription = "x"\nthreshold = 50\n{line}\n'
    )
    code, _, err = run_cli(capsys, "profiles")
    assert code == 2
    assert needle in error_line(err)


def test_config_masks_the_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`config` shows where each value came from and never prints the API key."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SECRET-1234567890")
    code, out, _ = run_cli(capsys, "config")
    assert code == 0
    assert "SECRET" not in out
    assert "llm.api_key = ****7890    # env OPENAI_API_KEY" in out
    assert "llm.concurrency = 8    # " in out


def test_missing_source_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """--source pointing nowhere is exit 2."""
    code, _, err = run_cli(capsys, "fetch", "--source", "nowhere.jsonl")
    assert code == 2
    assert "nowhere.jsonl" in error_line(err)


def test_demo_run_export_show_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offline demo: run over the shipped day, then export, show and runs read it back."""
    code, out, _ = run_cli(capsys, "run", "--source", str(DEMO), "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["fetch"]["papers"] == 300
    assert summary["score"]["judged"] == 600  # two shipped profiles
    assert Path("digests/llm-inference/2025/2025-12-16.md").is_file()

    # a warning while the config loads (an unknown variable) goes to stderr, not into the data
    monkeypatch.setenv("ARXIVFILTER_NOPE", "1")
    code, out, err = run_cli(capsys, "export", "--date", "2025-12-16", "--format", "jsonl")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 300
    assert "ARXIVFILTER_NOPE" in err
    records = [json.loads(line) for line in lines]
    assert [r["arxiv_id"] for r in records] == sorted(r["arxiv_id"] for r in records)
    first = records[0]
    assert first["schema"] == 1 and set(first["scores"]) == {"llm-inference", "llm-systems"}
    assert first["scores"]["llm-inference"]["hype"] is None
    assert first["scores"]["llm-inference"]["scorer"] == "local"

    code, out, _ = run_cli(capsys, "show", first["arxiv_id"])
    assert code == 0 and first["title"] in out
    assert "None" not in out  # no version in the dump, no hype from the local scorer

    code, out, _ = run_cli(capsys, "runs", "--json")
    newest = json.loads(out)[0]
    assert code == 0 and newest["status"] == "ok"
    assert (newest["date_from"], newest["date_to"]) == ("2025-12-16", "2025-12-16")


def test_dry_run_stores_but_judges_and_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run fetches and stores, then counts what scoring would judge: no judgement, no
    digest; the summary says it is a plan."""
    code, out, _ = run_cli(capsys, "run", "--source", str(DEMO), "--dry-run", "--json")
    summary = json.loads(out)
    assert code == 0 and summary["dry_run"] is True
    assert summary["fetch"]["papers"] == 300
    assert (summary["score"]["judged"], summary["score"]["unscored"]) == (0, 600)
    assert not Path("digests").exists()
    code, out, _ = run_cli(capsys, "run", "--source", str(DEMO), "--dry-run")
    assert code == 0 and "600 would be made" in out


def test_empty_dates_are_said(capsys: pytest.CaptureFixture[str]) -> None:
    """``report`` of a date with nothing stored, and a replay range the source does not
    cover, succeed (nothing to do) but say so."""
    code, _, err = run_cli(capsys, "report", "--date", "2025-12-16")
    assert code == 0 and "no paper is stored for this date" in err
    code, out, err = run_cli(
        capsys, "run", "--source", str(DEMO), "--from", "2025-12-17", "--to", "2025-12-19", "--json"
    )
    assert code == 0 and "holds no paper in the range" in err
    assert any("holds no paper announced in" in n for n in json.loads(out)["fetch"]["notes"])


@pytest.mark.parametrize(
    ("args", "needle"), [(["--profile", "nope"], "nope"), (["--scorer", "llm"], "API key")]
)
def test_schedule_checks_its_options_at_start(
    capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    """What would fail every night fails at start: exit 2, one line, no scheduler started."""
    code, _, err = run_cli(capsys, "schedule", *args)
    assert code == 2
    assert needle in error_line(err)


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    """``--version`` as well as the ``version`` command."""
    from arxivfilter import __version__

    assert run_cli(capsys, "--version")[:2] == (0, f"{__version__}\n")
    assert run_cli(capsys, "version")[:2] == (0, f"{__version__}\n")


def test_second_demo_run_is_free_and_identical(capsys: pytest.CaptureFixture[str]) -> None:
    """Re-running the same day changes nothing: no new judgements, byte-identical files."""
    assert run_cli(capsys, "run", "--source", str(DEMO))[0] == 0
    files = {p: p.read_bytes() for p in Path("digests").rglob("*") if p.is_file()}
    code, out, _ = run_cli(capsys, "run", "--source", str(DEMO), "--json")
    summary = json.loads(out)
    assert code == 0
    assert summary["score"]["judged"] == 0 and summary["score"]["cached"] == 600
    assert summary["report"]["written"] == []
    assert {p: p.read_bytes() for p in Path("digests").rglob("*") if p.is_file()} == files


def test_export_round_trips_through_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The export is a --source: replaying it into a fresh database gives the same export."""
    run_cli(capsys, "fetch", "--source", str(DEMO))
    code, first, _ = run_cli(capsys, "export", "--date", "2025-12-16")
    assert code == 0
    dump = tmp_path / "export.jsonl"
    dump.write_text(first)
    other = tmp_path / "other.db"
    import os

    os.environ["ARXIVFILTER_DB_URL"] = f"sqlite:///{other}"
    try:
        assert run_cli(capsys, "fetch", "--source", str(dump))[0] == 0
        code, second, _ = run_cli(capsys, "export", "--date", "2025-12-16")
    finally:
        del os.environ["ARXIVFILTER_DB_URL"]
    assert second == first


def test_lock_held_is_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    """A second run while the lock is held exits 4 with a clear line."""
    from filelock import FileLock

    Path("data").mkdir()
    with FileLock("data/arxivfilter.lock"):
        code, _, err = run_cli(capsys, "run", "--source", str(DEMO))
    assert code == 4
    assert "lock" in error_line(err)


def test_unknown_option_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown option is a usage error: one line, exit 2, no traceback."""
    code, _, err = run_cli(capsys, "run", "--bogus")
    assert code == 2
    assert "--bogus" in error_line(err)


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Bare `arxivfilter` shows the commands."""
    code, _, err = run_cli(capsys)
    assert code == 2
    assert "fetch" in err and "report" in err


def test_demo_run_on_each_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, db_url: str
) -> None:
    """The whole run on SQLite and on PostgreSQL: same counts, free second run, same export."""
    monkeypatch.setenv("ARXIVFILTER_DB_URL", db_url)
    code, out, _ = run_cli(capsys, "run", "--source", str(DEMO), "--json")
    assert code == 0, out
    first = json.loads(out)
    assert first["fetch"]["papers"] == 300 and first["score"]["judged"] == 600
    digest = Path("digests/llm-systems/2025/2025-12-16.md").read_bytes()
    code, out, _ = run_cli(capsys, "run", "--source", str(DEMO), "--json")
    again = json.loads(out)
    assert code == 0 and again["score"]["cached"] == 600 and again["report"]["written"] == []
    assert Path("digests/llm-systems/2025/2025-12-16.md").read_bytes() == digest
    code, out, _ = run_cli(capsys, "export", "--date", "2025-12-16")
    assert code == 0 and len(out.splitlines()) == 300
