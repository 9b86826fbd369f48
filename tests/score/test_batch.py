"""Batch mode end to end against tests/stub_batch.py (Files + Batch API), its own process.

The stub answers each line with tests/stub_llm.py's judgement (a function of the request),
so a batch run must store exactly what a direct run stores, and list the same papers.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from arxivfilter import pipeline
from arxivfilter.config import load_settings
from tests.harness import make_app
from tests.stub_llm import StubServer

ROOT = Path(__file__).resolve().parents[2]
DAY = "2025-12-16"
PROFILE = "llm-inference"
N = 24


class BatchStub:
    def __init__(self, proc: subprocess.Popen[bytes], port: int) -> None:
        self.proc, self.port = proc, port
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def stats(self) -> dict[str, int]:
        return httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=5).json()


@pytest.fixture
def batch_stub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BatchStub]:
    args = getattr(request, "param", [])
    port_file = tmp_path / "stub-batch.port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.stub_batch", "--port-file", str(port_file), *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            if port_file.exists() and port_file.read_text():
                break
            if proc.poll() is not None:
                pytest.fail("the stub batch server did not start")
            time.sleep(0.05)
        else:
            pytest.fail("the stub batch server did not start within 10 s")
        yield BatchStub(proc, int(port_file.read_text()))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def write_source(n: int = N) -> Path:
    rows = [
        {
            "id": f"2512.{i:05d}",
            "title": f"Paper {i} on {'KV cache serving' if i % 3 else 'graph theory'}",
            "summary": f"Abstract {i}: we study topic {i * 7 % 13} with a new method.",
            "authors": ["A. Author"],
            "categories": ["cs.DC"],
        }
        for i in range(1, n + 1)
    ]
    path = Path(f"{DAY}.jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def env(base_url: str, db: str, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-test-batch-0000000000",
        "ARXIVFILTER_MODEL": "stub-model",
        "ARXIVFILTER_DB_URL": f"sqlite:///{db}",
        "ARXIVFILTER_DIGESTS_DIR": f"digests-{Path(db).stem}",
        **extra,
    }


def run(base_url: str, db: str, source: Path, **extra: str) -> pipeline.RunSummary:
    app = make_app(load_settings(env=env(base_url, db, **extra)))
    try:
        return pipeline.run(
            app, pipeline.Options(source=source, categories=["cs.DC"], profiles=[PROFILE])
        )
    finally:
        app.close()


def batch_run(stub: BatchStub, db: str, source: Path, **extra: str) -> pipeline.RunSummary:
    return run(stub.base_url, db, source, ARXIVFILTER_LLM__MODE="batch", **extra)


def judgements(db: str) -> dict[str, tuple[str, int | None, str | None]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT arxiv_id, status, relevance, tldr FROM judgements WHERE profile = ?",
            (PROFILE,),
        ).fetchall()
    finally:
        conn.close()
    return {a: (s, r, t) for a, s, r, t in rows}


def digest(db: str) -> str:
    return Path(f"digests-{Path(db).stem}/{PROFILE}/2025/{DAY}.md").read_text()


@pytest.mark.parametrize("batch_stub", [["--batch-seconds", "1"]], indirect=True)
def test_submit_then_collect_stores_what_a_direct_run_stores(
    batch_stub: BatchStub, stub_llm: StubServer
) -> None:
    source = write_source()
    first = batch_run(batch_stub, "batch.db", source)
    assert first.exit_code == 0  # pending work is not a failure
    assert (first.score.pending, first.score.batches_open, first.score.failed) == (N, 1, 0)
    assert first.score.unscored == 0
    assert judgements("batch.db") == {}
    assert batch_stub.stats()["uploads"] == 1
    assert Path("digests-batch").exists()  # the digest is written with what is in
    time.sleep(1.1)  # the stub's batch finishes
    second = batch_run(batch_stub, "batch.db", source)
    assert second.exit_code == 0
    assert (second.score.judged, second.score.pending, second.score.batches_open) == (N, 0, 0)
    assert batch_stub.stats()["uploads"] == 1  # nothing submitted again
    assert batch_stub.stats()["lines_answered"] == N
    direct = run(stub_llm.base_url, "direct.db", source)
    assert direct.exit_code == 0
    assert judgements("batch.db") == judgements("direct.db")
    assert digest("batch.db") == digest("direct.db")
    third = batch_run(batch_stub, "batch.db", source)
    assert (third.score.cached, third.score.calls, batch_stub.stats()["uploads"]) == (N, 0, 1)


def test_waiting_collects_on_the_same_run(batch_stub: BatchStub) -> None:
    source = write_source()
    summary = batch_run(
        batch_stub,
        "wait.db",
        source,
        ARXIVFILTER_LLM__BATCH_WAIT_SECONDS="30",
        ARXIVFILTER_LLM__BATCH_POLL_SECONDS="0.1",
    )
    assert (summary.exit_code, summary.score.judged, summary.score.pending) == (0, N, 0)
    assert len(judgements("wait.db")) == N


@pytest.mark.parametrize("batch_stub", [["--expire-rate", "0.3"]], indirect=True)
def test_expired_lines_go_back_to_the_queue_and_nothing_is_paid_twice(
    batch_stub: BatchStub,
) -> None:
    source = write_source()
    first = batch_run(batch_stub, "exp.db", source)
    got = len(judgements("exp.db"))
    assert 0 < got < N  # the expired lines were not answered ...
    assert (first.exit_code, first.score.pending) == (0, N - got)  # ... and wait for the next run
    second = batch_run(batch_stub, "exp.db", source)
    assert batch_stub.stats()["uploads"] == 2  # only the expired ones, submitted again
    assert second.score.cached == got
    for _ in range(8):  # each round expires about 30 % of what is left
        if len(judgements("exp.db")) == N:
            break
        batch_run(batch_stub, "exp.db", source)
    assert len(judgements("exp.db")) == N
    assert batch_stub.stats()["lines_answered"] == N  # each paper answered exactly once


@pytest.mark.parametrize("batch_stub", [["--fail-batches", "1"]], indirect=True)
def test_a_failed_batch_is_requeued(batch_stub: BatchStub) -> None:
    source = write_source(6)
    first = batch_run(batch_stub, "fail.db", source)
    assert (first.exit_code, first.score.pending, len(judgements("fail.db"))) == (0, 6, 0)
    second = batch_run(batch_stub, "fail.db", source)
    assert batch_stub.stats()["uploads"] == 2
    assert (second.exit_code, second.score.judged, len(judgements("fail.db"))) == (0, 6, 6)


@pytest.mark.parametrize("batch_stub", [["--batch-seconds", "2"]], indirect=True)
def test_a_killed_run_loses_no_submitted_batch(batch_stub: BatchStub, tmp_path: Path) -> None:
    """The CLI is killed while it waits for its batch; the next run collects it, re-pays nothing."""
    source = write_source()
    child_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ARXIVFILTER_", "OPENAI_"))},
        **env(
            batch_stub.base_url,
            "killed.db",
            ARXIVFILTER_LLM__MODE="batch",
            ARXIVFILTER_LLM__BATCH_WAIT_SECONDS="600",
            ARXIVFILTER_LLM__BATCH_POLL_SECONDS="0.2",
        ),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "arxivfilter.cli", "run", "--source", str(source),
         "--categories", "cs.DC", "--profile", PROFILE],
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            if batch_stub.stats()["batches"] >= 1:
                break
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.05)
        time.sleep(0.3)  # the batch row is written right after the batch is created
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    time.sleep(2)  # the stub's batch finishes
    summary = batch_run(batch_stub, "killed.db", source)
    assert (summary.exit_code, summary.score.judged, summary.score.pending) == (0, N, 0)
    stats = batch_stub.stats()
    assert (stats["uploads"], stats["batches"], stats["lines_answered"]) == (1, 1, N)


# --------------------------------------------------------------------------- shapes


def test_requests_have_the_documented_shapes(tmp_path: Path) -> None:
    """Against respx: the upload is multipart with purpose=batch and JSONL lines
    {custom_id, method, url, body}; the batch names the file, the endpoint and 24h."""
    base = "https://api.openai.com/v1"
    seen: dict[str, Any] = {}

    def upload(request: httpx.Request) -> httpx.Response:
        seen["upload"] = request.content
        return httpx.Response(
            200,
            json={"id": "file-abc", "object": "file", "bytes": 1, "created_at": 0,
                  "filename": "x.jsonl", "purpose": "batch", "status": "processed"},
        )  # fmt: skip

    def create(request: httpx.Request) -> httpx.Response:
        seen["create"] = json.loads(request.content)
        return httpx.Response(
            200,
            json={"id": "batch_abc", "object": "batch", "endpoint": "/v1/chat/completions",
                  "input_file_id": "file-abc", "completion_window": "24h",
                  "status": "validating", "created_at": 0},
        )  # fmt: skip

    with respx.mock(base_url=base, assert_all_called=False) as mock:
        mock.post("/files").mock(side_effect=upload)
        mock.post("/batches").mock(side_effect=create)
        mock.get("/batches/batch_abc").mock(
            return_value=httpx.Response(
                200,
                json={
                    "id": "batch_abc",
                    "object": "batch",
                    "endpoint": "/v1/chat/completions",
                    "input_file_id": "file-abc",
                    "completion_window": "24h",
                    "status": "in_progress",
                    "created_at": 0,
                },
            )
        )
        summary = run(
            "",
            "shape.db",
            write_source(3),
            OPENAI_BASE_URL="",
            ARXIVFILTER_LLM__MODE="batch",
            ARXIVFILTER_MODEL="gpt-4.1-nano",
        )
    assert summary.exit_code == 0 and summary.score.pending == 3
    body = seen["upload"]
    assert b'name="purpose"' in body and b"batch" in body
    lines = [
        json.loads(x.rstrip(b"\r")) for x in body.split(b"\n") if x.startswith(b'{"custom_id"')
    ]
    assert len(lines) == 3
    for line in lines:
        assert set(line) == {"custom_id", "method", "url", "body"}
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
        assert line["body"]["model"] == "gpt-4.1-nano"
        assert line["body"]["temperature"] == 0.0
        assert line["body"]["response_format"]["type"] == "json_schema"
        assert [m["role"] for m in line["body"]["messages"]] == ["system", "user"]
    assert len({line["custom_id"] for line in lines}) == 3
    assert seen["create"]["input_file_id"] == "file-abc"
    assert seen["create"]["endpoint"] == "/v1/chat/completions"
    assert seen["create"]["completion_window"] == "24h"


@pytest.mark.parametrize("batch_stub", [["--batch-seconds", "1"]], indirect=True)
def test_batches_command_collects_and_rewrites_the_digest(
    batch_stub: BatchStub,
    stub_llm: StubServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`arxivfilter batches` stores finished results and rewrites the date's digest."""
    from arxivfilter.cli import main

    source = write_source(8)
    batch_run(batch_stub, "cmd.db", source)
    assert "not scored yet" in digest("cmd.db")  # the pending papers, until collected
    for name, value in env(batch_stub.base_url, "cmd.db", ARXIVFILTER_LLM__MODE="batch").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ARXIVFILTER_ARXIV__CATEGORIES", "cs.DC")  # as the runs' --categories
    monkeypatch.setenv("ARXIVFILTER_LLM__BATCH_WAIT_SECONDS", "30")
    monkeypatch.setenv("ARXIVFILTER_LLM__BATCH_POLL_SECONDS", "0.2")
    capsys.readouterr()  # the first run's log lines
    code = main(["batches", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert (out["score"]["judged"], out["score"]["pending"]) == (8, 0)
    run(stub_llm.base_url, "direct.db", source)
    assert digest("cmd.db") == digest("direct.db")
