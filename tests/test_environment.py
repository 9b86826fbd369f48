"""The environment as GitHub gives it: a variable set to "" is unset, everywhere.

GitHub Actions passes an unset ``${{ vars.X }}`` or ``${{ secrets.X }}`` to the process as an
empty string, so every variable the tool reads must treat "" like an absent variable: no
override, no error, no warning, and never a value the openai SDK re-reads on its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import respx

from arxivfilter.cli import main
from arxivfilter.config import ENV_ALIASES, load_settings
from arxivfilter.score.llm import build_llm_client
from tests.harness import FakeLlm

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "2025-12-16.jsonl"
OPENAI_DEFAULT = "https://api.openai.com/v1"

#: every variable DESIGN.md names, plus one ARXIVFILTER_SECTION__KEY per section
EMPTY_ENV = {
    **dict.fromkeys(ENV_ALIASES, ""),
    "ARXIVFILTER_CONFIG": "",
    "ARXIVFILTER_ARXIV__DELAY_SECONDS": "",
    "ARXIVFILTER_ARXIV__CATEGORIES": "",
    "ARXIVFILTER_STORAGE__BUSY_TIMEOUT_SECONDS": "",
    "ARXIVFILTER_LLM__CONCURRENCY": "",
    "ARXIVFILTER_LLM__PREFILTER": "",
    "ARXIVFILTER_LLM__MAX_COST": "",
    "ARXIVFILTER_SCORE__SCORER": "",
    "ARXIVFILTER_REPORT__FEED_DAYS": "",
    "ARXIVFILTER_RUN__LOCK_TIMEOUT_SECONDS": "",
    "ARXIVFILTER_SCHEDULE__CRON": "",
    "ARXIVFILTER_LOG__LEVEL": "",
}


def test_env_value_treats_empty_and_blank_as_unset() -> None:
    from arxivfilter.config import env_value

    assert env_value("X", {"X": ""}) is None
    assert env_value("X", {"X": "  "}) is None
    assert env_value("X", {}) is None
    assert env_value("X", {"X": "v"}) == "v"


def test_every_empty_variable_leaves_the_defaults() -> None:
    """Each variable set to "" gives the same settings as none set, every origin "default"."""
    empty = load_settings(env=EMPTY_ENV)
    unset = load_settings(env={})
    assert empty.model_dump() == unset.model_dump()
    assert empty.origins == unset.origins
    assert not empty.llm_configured


def test_empty_variables_warn_about_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty ARXIVFILTER_* variable, even one naming nothing, is neither used nor reported."""
    for name, value in {
        **EMPTY_ENV,
        "ARXIVFILTER_NOT_A_KEY": "",
        "ARXIVFILTER_LLM__NOPE": "",
    }.items():
        monkeypatch.setenv(name, value)
    code = main(["config", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    rows = {r["key"]: r for r in json.loads(captured.out)}
    assert rows["llm.concurrency"]["value"] == "8"
    assert not rows["llm.concurrency"]["origin"].startswith("env")
    assert rows["storage.db_url"]["value"] == "sqlite:///data/arxivfilter.db"


def test_empty_override_keeps_the_file_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """ "" does not blank a value the config file sets."""
    Path("config").mkdir()
    Path("config/arxivfilter.toml").write_text(
        '[llm]\nconcurrency = 3\nmodel = "m-from-file"\n[arxiv]\ncontact = "me@example.org"\n'
    )
    monkeypatch.setenv("ARXIVFILTER_LLM__CONCURRENCY", "")
    monkeypatch.setenv("ARXIVFILTER_MODEL", "")
    monkeypatch.setenv("ARXIVFILTER_CONTACT", "")
    settings = load_settings()
    assert settings.llm.concurrency == 3
    assert settings.llm.model == "m-from-file"
    assert settings.arxiv.contact == "me@example.org"


def test_sdk_never_rereads_an_empty_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """OPENAI_BASE_URL="" with a key: the client talks to OpenAI's default endpoint."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000000000")
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    client = build_llm_client(load_settings())
    assert str(client.base_url).rstrip("/") == OPENAI_DEFAULT


def test_sdk_never_reads_the_environment_for_the_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Settings without a base URL mean the default, whatever the process environment holds."""
    settings = load_settings(env={"OPENAI_API_KEY": "sk-test-0000000000"})
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere.invalid/v1")
    client = build_llm_client(settings)
    assert str(client.base_url).rstrip("/") == OPENAI_DEFAULT


def test_run_with_key_and_empty_base_url_reaches_openai(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's reproduction: the nightly's env with a key secret and no base URL variable.

    ``OPENAI_API_KEY=sk-x OPENAI_BASE_URL= arxivfilter run --source DEMO --scorer llm`` used to
    fail every call with ``no answer from the LLM server at :///`` (exit 3).
    """
    for name in ("OPENAI_BASE_URL", "ARXIVFILTER_MODEL", "ARXIVFILTER_CONTACT"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    llm = FakeLlm()
    with respx.mock(assert_all_called=True) as router:
        router.post("https://api.openai.com/v1/chat/completions").mock(side_effect=llm)
        code = main(
            ["run", "--source", str(DEMO), "--scorer", "llm", "--categories", "cs.OS", "--json"]
        )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["score"]["failed"] == 0
    assert summary["score"]["judged"] == len(llm.requests) > 0
    assert all(r["model"] == "gpt-4.1-nano" for r in llm.requests)


def test_empty_log_level_and_lock_file_are_defaults(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ARXIVFILTER_LOG_LEVEL= and ARXIVFILTER_LOCK_FILE= run with info logging and the default lock."""
    monkeypatch.setenv("ARXIVFILTER_LOG_LEVEL", "")
    monkeypatch.setenv("ARXIVFILTER_LOG__LEVEL", "")
    monkeypatch.setenv("ARXIVFILTER_LOCK_FILE", "")
    monkeypatch.setenv("ARXIVFILTER_DB_URL", "")
    monkeypatch.setenv("ARXIVFILTER_DIGESTS_DIR", "")
    monkeypatch.setenv("ARXIVFILTER_RAW_DIR", "")
    code = main(["run", "--source", str(DEMO), "--categories", "cs.OS", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert Path("data/arxivfilter.db").is_file()
    assert Path("data/arxivfilter.lock").exists()
    assert any(Path("digests").rglob("*.md"))
    assert all(json.loads(line)["level"] != "debug" for line in captured.err.splitlines() if line)
