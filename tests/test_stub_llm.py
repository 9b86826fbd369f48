"""The stub OpenAI-compatible server, and the LLM scorer against it over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from arxivfilter.config import Profile, Settings
from arxivfilter.errors import UpstreamError
from arxivfilter.models import JudgementResult, LlmCall, Paper, PaperText
from arxivfilter.score.llm import LlmScorer, build_llm_client
from tests.stub_llm import StubConfig, StubServer, judgement_for, running

ROOT = Path(__file__).resolve().parents[1]
PROFILE = Profile(
    name="llm-systems",
    description="Systems research for large models.",
    threshold=70,
    tags={"serving": "serving", "training": "training", "storage": "storage", "kernel": "kernels"},
)


class Sink:
    """In-memory sink that fails the test if a paper is judged twice."""

    def __init__(self) -> None:
        self.results: dict[str, JudgementResult] = {}
        self.calls: list[LlmCall] = []

    def judgement(self, paper: PaperText, result: JudgementResult) -> None:
        assert paper.arxiv_id not in self.results
        self.results[paper.arxiv_id] = result

    def llm_call(self, call: LlmCall) -> None:
        self.calls.append(call)

    def may_start_call(self) -> bool:
        return True


class FakeClock:
    """Time that moves only when the scorer 'sleeps' (shared with the stub's rpm window)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def papers(n: int) -> list[PaperText]:
    return [
        Paper(
            arxiv_id=f"2502.{i:05d}",
            title=f"Paper {i}",
            abstract=f"We study serving system number {i} and cut latency by {i}%.",
            categories=["cs.DC"],
            text_hash=f"t{i}",
        )
        for i in range(1, n + 1)
    ]


def judge(
    server: StubServer, items: Sequence[PaperText], clock: FakeClock | None = None, **llm: Any
) -> Sink:
    s = Settings()
    s.llm.base_url = server.base_url
    s.llm.model = "stub-model"
    s.llm.concurrency = 4
    s.llm.retry_attempts = 4
    for name, value in llm.items():
        setattr(s.llm, name, value)
    clock = clock or FakeClock()
    scorer = LlmScorer(build_llm_client(s), s, sleep=clock.sleep, clock=clock)
    sink = Sink()
    asyncio.run(scorer.judge(PROFILE, items, sink))
    return sink


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with running() as server:
        yield server


def test_all_papers_judged_deterministically(stub: StubServer) -> None:
    """Every paper gets a valid judgement that depends only on its text; concurrency stays bounded."""
    stub.config.latency = 0.01
    items = papers(20)
    sink = judge(stub, items, concurrency=4)
    assert len(sink.results) == 20
    assert all(r.status == "ok" for r in sink.results.values())
    assert all(set(r.tags) <= set(PROFILE.tags) for r in sink.results.values())
    assert 1 < stub.stats.peak_concurrency <= 4
    assert all(c.prompt_tokens and c.completion_tokens for c in sink.calls)
    with running() as other:
        again = judge(other, list(reversed(items)), concurrency=2)
    assert {k: v.model_dump() for k, v in again.results.items()} == {
        k: v.model_dump() for k, v in sink.results.items()
    }


def test_429_flood_with_retry_after_loses_nothing(stub: StubServer) -> None:
    """Each request answered 429 twice first: Retry-After is honoured and every paper ends ok."""
    stub.config.rate_limit_first = 2
    stub.config.retry_after = 3
    clock = FakeClock()
    sink = judge(stub, papers(10), clock)
    assert all(r.status == "ok" for r in sink.results.values())
    assert len(sink.results) == 10
    assert stub.stats.statuses[429] == 20
    # a shared pause, then a pace (score/pacing.py): every wait bounded
    assert clock.sleeps and all(0 < s <= 3 * 2 * 10 for s in clock.sleeps)


def test_requests_per_minute_limit_with_shared_clock(stub: StubServer) -> None:
    """An rpm limit answered with 429 + Retry-After is waited out; no paper is lost."""
    clock = FakeClock()
    stub.config.rpm = 5
    stub.config.clock = clock
    sink = judge(stub, papers(12), clock, concurrency=3, retry_attempts=10)
    assert len(sink.results) == 12
    assert all(r.status == "ok" for r in sink.results.values())
    assert stub.stats.statuses[429] > 0
    assert all(s >= 1 for s in clock.sleeps)
    assert clock.now - 1000.0 >= 60.0  # 12 requests at 5 per minute span two windows


def test_injected_500s_no_paper_lost(stub: StubServer) -> None:
    """A 30 % share of 500s is retried away: all 30 papers judged ok exactly once."""
    stub.config.error_rate = 0.3
    sink = judge(stub, papers(30), retry_attempts=8)
    assert len(sink.results) == 30
    assert all(r.status == "ok" for r in sink.results.values())
    assert stub.stats.statuses[500] > 0


def test_llama_cpp_style_refusal_switches_to_json_object(stub: StubServer) -> None:
    """A 500 refusal of json_schema switches the run to json_object after one probe."""
    stub.config.refuse_json_schema = True
    sink = judge(stub, papers(8))
    assert all(r.status == "ok" for r in sink.results.values())
    assert stub.stats.modes["json_schema"] == 1
    assert stub.stats.modes["json_object"] == 8
    assert {c.mode for c in sink.calls} == {"json_schema", "json_object"}


def test_malformed_replies_are_recorded_failures(stub: StubServer) -> None:
    """JSON cut off in every reply: each paper is failed with the reason, none stored as ok."""
    stub.config.malformed_rate = 1.0
    sink = judge(stub, papers(3))
    assert len(sink.results) == 3
    for result in sink.results.values():
        assert result.status == "failed"
        assert result.relevance is None
        assert "not valid JSON" in (result.error or "")
    assert stub.stats.calls == 6  # one follow-up each


def test_hanging_calls_time_out_and_nothing_is_lost(stub: StubServer) -> None:
    """Calls that hang hit the client timeout; each paper ends ok or failed with 'timed out'."""
    stub.config.hang_rate = 0.5
    stub.config.hang_seconds = 2.0
    sink = judge(stub, papers(6), concurrency=6, timeout_seconds=0.3, retry_attempts=2)
    assert len(sink.results) == 6
    statuses = {r.status for r in sink.results.values()}
    assert "ok" in statuses
    for result in sink.results.values():
        assert result.status == "ok" or "timed out" in (result.error or "")
    assert any("timed out" in (c.error or "") for c in sink.calls)


def test_bad_key_and_exhausted_quota_stop_the_run(stub: StubServer) -> None:
    """401 and 429 insufficient_quota from the stub raise UpstreamError."""
    stub.config.api_key = "right-key"
    with pytest.raises(UpstreamError, match="API key"):
        judge(stub, papers(3))
    stub.config.api_key = None
    stub.config.quota_exhausted = True
    with pytest.raises(UpstreamError, match="quota"):
        judge(stub, papers(3))


def test_context_length_error_fails_only_that_paper(stub: StubServer) -> None:
    """A prompt over the stub's context is a failed paper, not a refusal."""
    stub.config.max_prompt_chars = 4000
    items = papers(2)
    items[0] = items[0].model_copy(update={"abstract": "long words " * 400})
    sink = judge(stub, items, concurrency=1, abstract_chars=5000)
    assert sink.results["2502.00001"].status == "failed"
    assert "context window" in (sink.results["2502.00001"].error or "")
    assert sink.results["2502.00002"].status == "ok"
    assert stub.stats.modes["json_object"] == 0


def test_batches_and_cached_usage(stub: StubServer) -> None:
    """Several papers per call are answered by id; the repeated system message counts as cached."""
    sink = judge(stub, papers(20), concurrency=1, papers_per_call=5)
    assert len(sink.results) == 20
    assert all(r.status == "ok" for r in sink.results.values())
    assert stub.stats.calls == 4
    assert [c.papers for c in sink.calls] == [5, 5, 5, 5]
    assert sink.calls[0].cached_tokens == 0
    assert all((c.cached_tokens or 0) > 0 for c in sink.calls[1:])


def test_judgement_is_a_function_of_the_text() -> None:
    """The stub's answer for a paper depends on its block only, tags from the vocabulary."""
    one = judgement_for("a", "Title: x\nAbstract: y", ["serving", "storage"])
    assert one == judgement_for("a", "Title: x\nAbstract: y", ["serving", "storage"])
    assert 0 <= one["relevance"] <= 100
    assert set(one["tags"]) <= {"serving", "storage"}


def test_loopback_only() -> None:
    """The stub refuses to listen anywhere but loopback."""
    with pytest.raises(ValueError, match="loopback"):
        StubServer(StubConfig(), host="0.0.0.0")


def test_serves_as_a_production_server_would(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the stub adds to its configured latency is its own work, not TCP's: its sockets
    have TCP_NODELAY (with Nagle's algorithm the body, written after the headers, waited for
    the client's delayed ACK: 40 ms a call, a tenth of the benchmark's wall time at
    concurrency 64), and it listens with a backlog a burst of 64 clients fits in."""
    import socket

    from tests import stub_llm

    seen: list[int] = []
    setup = stub_llm._Handler.setup

    def recording(handler: Any) -> None:
        setup(handler)
        seen.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(stub_llm._Handler, "setup", recording)
    with running(StubConfig()) as stub:
        assert httpx.get(stub.base_url + "/models", timeout=10).status_code == 200
        listening = stub.httpd.socket
        assert stub.httpd.request_queue_size >= 128
        assert listening.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
    assert seen and all(seen)


def _wait_for(path: Path, proc: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if path.exists():
            return int(path.read_text())
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    raise AssertionError("stub did not start")


@pytest.mark.parametrize("how", ["script", "module"])
def test_runs_as_a_separate_process(tmp_path: Path, how: str) -> None:
    """``python tests/stub_llm.py`` and ``python -m tests.stub_llm`` serve, report stats, take config."""
    port_file = tmp_path / "port"
    target = [str(ROOT / "tests" / "stub_llm.py")] if how == "script" else ["-m", "tests.stub_llm"]
    proc = subprocess.Popen(
        [
            sys.executable,
            *target,
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--error-rate",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        port = _wait_for(port_file, proc)
        base = f"http://127.0.0.1:{port}"
        assert httpx.post(f"{base}/config", json={"latency": 0.0}).status_code == 200
        assert httpx.post(f"{base}/config", json={"nope": 1}).status_code == 400
        body = {
            "model": "m",
            "messages": [
                {"role": "system", "content": "sys"},
                {"role": "user", "content": '<paper id="1">\nTitle: t\nAbstract: a\n</paper>'},
            ],
        }
        answer = httpx.post(f"{base}/v1/chat/completions", json=body).json()
        judgement = json.loads(answer["choices"][0]["message"]["content"])
        assert set(judgement) == {"relevance", "hype", "tags", "tldr", "reason"}
        assert answer["usage"]["prompt_tokens"] > 0
        assert httpx.get(f"{base}/stats").json()["calls"] == 1
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out.startswith("STUB_LLM_URL=http://127.0.0.1:")
