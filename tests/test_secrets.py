"""The API key never leaves the process except in the Authorization header.

With a key set (in the environment or the config file) and debug logging, every command
runs against a respx-mocked LLM that echoes the key back in error bodies, prose and even
in its judgements; then the key is looked for in every log line, every output, every row
of every table, every file written, and every exception message.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import httpx
import pytest
import respx

from arxivfilter import pipeline
from arxivfilter.cli import main
from arxivfilter.config import load_settings
from arxivfilter.errors import UpstreamError
from tests.harness import LLM_BASE, LLM_CHAT, FakeLlm, api_error, completion, dump_tables

KEY = "sk-test-SECRETMIDDLE-9f8e7d6c5b4a3210"
FRAGMENT = "SECRETMIDDLE"
DAY = "2025-12-16"
IDS = [f"2512.{n:05d}" for n in range(1, 6)]


def write_source() -> Path:
    path = Path(f"src-data/{DAY}.jsonl")
    path.parent.mkdir()
    lines = [
        {
            "id": pid,
            "title": f"Serving LLMs quickly, part {n}",
            "summary": f"We make inference {n}x faster with a paged KV cache.",
            "authors": ["Ada Lovelace"],
            "categories": ["cs.DC"],
        }
        for n, pid in enumerate(IDS, start=1)
    ]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def leaky_llm() -> FakeLlm:
    """A server that echoes the key wherever it can."""
    llm = FakeLlm(tags=("serving",))
    seen: dict[str, int] = {}

    def first_500(_request: httpx.Request, pid: str) -> httpx.Response | None:
        seen[pid] = seen.get(pid, 0) + 1
        if seen[pid] == 1:
            return api_error(500, f"upstream failed for key {KEY} (Bearer {KEY})")
        return None

    llm.faults = {
        IDS[0]: first_500,
        IDS[1]: lambda _r, _p: completion(f"I cannot judge this. Your key is {KEY}."),
        IDS[2]: lambda _r, pid: completion(
            {**llm.judgement(pid), "reason": f"Relevant. (key {KEY})", "tldr": f"Uses {KEY}."}
        ),
        IDS[3]: lambda _r, _p: completion('{"relevance": 50, "hype": 1, "tldr": "' + KEY),
    }
    return llm


def assert_clean(text: str, where: str) -> None:
    assert FRAGMENT not in text, f"the API key leaked into {where}"


@pytest.mark.parametrize("key_in", ["env", "file"])
def test_the_key_is_in_no_log_row_file_or_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, key_in: str
) -> None:
    """fetch, score (with a 401 at the end), report, export, show, runs, config: the key is nowhere."""
    if key_in == "env":
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
    else:
        Path("config").mkdir()
        Path("config/arxivfilter.toml").write_text(f'[llm]\napi_key = "{KEY}"\n')
    monkeypatch.setenv("OPENAI_BASE_URL", LLM_BASE)
    monkeypatch.setenv("ARXIVFILTER_MODEL", "test-model")
    monkeypatch.setenv("ARXIVFILTER_LOG_LEVEL", "debug")
    monkeypatch.setenv("ARXIVFILTER_LLM__RETRY_ATTEMPTS", "2")
    source = write_source()
    llm = leaky_llm()
    outputs: list[str] = []
    codes: list[int] = []

    def run(*args: str) -> None:
        codes.append(main(list(args)))
        captured = capsys.readouterr()
        outputs.extend([captured.out, captured.err])

    with respx.mock(assert_all_called=False) as router:
        chat = router.post(LLM_CHAT).mock(side_effect=llm)
        run("fetch", "--source", str(source))
        run("score", "--date", DAY, "--scorer", "llm")
        run("report", "--date", DAY)
        run("run", "--source", str(source))
        run("export", "--date", DAY)
        run("export", "--date", DAY, "-o", "export.jsonl")
        run("show", IDS[2])
        run("show", IDS[2], "--json")
        run("runs")
        run("runs", "--json")
        run("config")
        run("config", "--json")
        run("profiles")
        llm.faults = {}
        llm.default_fault = lambda _r, _p: api_error(
            401, f"Incorrect API key provided: {KEY}.", "invalid_api_key"
        )
        run("score", "--date", DAY, "--rescore")
        assert all(r.request.headers["Authorization"] == f"Bearer {KEY}" for r in chat.calls)

    assert codes[:3] == [0, 1, 0] and codes[-1] == 3, codes
    assert any('"level": "debug"' in o or "[debug" in o for o in outputs), "debug logging is on"
    for n, text in enumerate(outputs):
        assert_clean(text, f"output {n}")

    rows = dump_tables(Path("data/arxivfilter.db"))
    assert rows["llm_calls"] and rows["judgements"]
    for table, content in rows.items():
        assert_clean(repr(content), f"table {table}")
    for path in sorted(Path().rglob("*")):
        if path.is_file() and path.name != "arxivfilter.toml":
            data = path.read_bytes()
            assert FRAGMENT.encode() not in data, f"the API key leaked into {path}"


def test_exceptions_carry_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 401's exception, its cause chain and its traceback text hold no trace of the key."""
    source = write_source()
    settings = load_settings(
        env={"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": LLM_BASE, "ARXIVFILTER_LOG_LEVEL": "debug"}
    )
    with respx.mock as router:
        router.post(LLM_CHAT).mock(
            return_value=api_error(401, f"Incorrect API key provided: {KEY}", "invalid_api_key")
        )
        app = pipeline.App(settings, llm_http=httpx.AsyncClient())
        try:
            with pytest.raises(UpstreamError) as info:
                pipeline.run(app, pipeline.Options(source=source, categories=["cs.DC"]))
        finally:
            app.close()
    exc = info.value
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    cause = _shown_cause(exc)
    while cause is not None:
        texts.append(repr(cause))
        cause = _shown_cause(cause)
    for text in texts:
        assert_clean(text, "an exception")
    assert "API key" in str(exc)


def _shown_cause(exc: BaseException) -> BaseException | None:
    """The exception Python would print as this one's cause or context."""
    return exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
