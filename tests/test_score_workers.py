"""The local scorer's worker processes through the command line, as a backfill uses them:
``arxivfilter score --scorer local`` of 6,000 judgements with the default ``[score] workers``
(one per CPU) stores the same judgements, and prints the same counts, as ``workers = 1``;
SIGKILLed mid-way, its workers exit and the next run judges only the rest."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from arxivfilter.score import pool
from tests.harness import store_liked_examples
from tests.score.test_pool import _running
from tests.test_crash import arxivfilter, child_env, content, db, scalar, spawn, wait_for

pytestmark = pytest.mark.slow

LIN = "E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced/raw_days"
DAYS = ["2026-02-02", "2026-02-03", "2026-02-04", "2026-02-05", "2026-02-06", "2026-02-09"]
PER_DAY = 500
SPAN = ["--from", DAYS[0], "--to", DAYS[-1]]
STARTED = "the local scorer judges in worker processes"

if pool.pool_size(0) == 0:  # pragma: no cover - a one-CPU machine
    pytest.skip("one usable CPU: the default runs no workers", allow_module_level=True)


@pytest.fixture(scope="module")
def dumps(samples: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six weekdays of 500 papers each (more than the samples hold): real sentences of the
    recorded abstracts and titles, recombined, in the daily-arXiv forks' JSONL shape."""
    sentences: list[str] = []
    titles: list[str] = []
    for f in sorted((samples / LIN).glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            titles.append(rec["title"])
            sentences += [s.strip() + "." for s in rec["summary"].split(". ") if s.strip()]
    rng = random.Random(7)
    folder = tmp_path_factory.mktemp("dumps")
    n = 0
    for day in DAYS:
        with (folder / f"{day}.jsonl").open("w", encoding="utf-8") as out:
            for _ in range(PER_DAY):
                n += 1
                rec = {
                    "id": f"2602.{n:05d}v1",
                    "title": f"{rng.choice(titles)} ({n})",
                    "summary": " ".join(rng.choices(sentences, k=rng.randint(5, 10))),
                    "authors": ["A. Author", "B. Author"],
                    "categories": rng.sample(["cs.DC", "cs.OS", "cs.LG"], k=rng.choice([1, 2])),
                    "date": day,
                }
                out.write(json.dumps(rec) + "\n")
    return folder


def _fetched(folder: Path, dumps: Path) -> None:
    """The dumps fetched into ``folder``'s database, with the profiles' liked examples
    stored as they would be after a live run (``score`` would ask arXiv for them)."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = arxivfilter("fetch", "--source", str(dumps), *SPAN)
    subprocess.run(cmd, cwd=folder, env=child_env(), check=True, capture_output=True, timeout=120)
    store_liked_examples(f"sqlite:///{db(folder)}")


def _score(folder: Path, **env: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    cmd = arxivfilter("score", "--scorer", "local", *SPAN, "--json")
    done = subprocess.run(
        cmd, cwd=folder, env=child_env(**env), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["score"], _events(done.stderr)


def _events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def in_process(dumps: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("in-process")
    _fetched(folder, dumps)
    counts, events = _score(folder, ARXIVFILTER_SCORE__WORKERS="1")
    assert counts["judged"] >= pool.PARALLEL_TOTAL
    assert not any(e["event"] == STARTED for e in events)
    return {"counts": counts, "content": content(folder)}


def test_workers_store_what_one_process_stores(
    dumps: Path, tmp_path: Path, in_process: dict[str, Any]
) -> None:
    _fetched(tmp_path, dumps)
    counts, events = _score(tmp_path)  # the default: one worker per CPU
    started = [e for e in events if e["event"] == STARTED]
    assert len(started) == 1 and started[0]["workers"] == pool.pool_size(0)
    assert counts == in_process["counts"]
    assert content(tmp_path) == in_process["content"]
    again, events = _score(tmp_path)  # all cached: no worker is started
    assert again["cached"] == counts["judged"] and again["judged"] == 0
    assert not any(e["event"] == STARTED for e in events)


def test_killed_with_workers_resumes_and_leaves_no_process(
    dumps: Path, tmp_path: Path, in_process: dict[str, Any]
) -> None:
    _fetched(tmp_path, dumps)
    cmd = arxivfilter("score", "--scorer", "local", *SPAN, "--json")
    with spawn(
        cmd, cwd=tmp_path, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stderr is not None
        pids: list[int] = []
        for line in proc.stderr:
            if line.startswith(b"{") and json.loads(line)["event"] == STARTED:
                pids = [int(p) for p in json.loads(line)["pids"].split()]
                break
        assert len(pids) == pool.pool_size(0)
        wait_for(lambda: scalar(tmp_path, "SELECT count(*) FROM judgements") > 0, "judgements")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    stored = scalar(tmp_path, "SELECT count(*) FROM judgements")
    total = in_process["counts"]["judged"]
    assert 0 < stored < total
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.05)
    assert not any(_running(p) for p in pids), "a worker outlived its killed parent"
    counts, _ = _score(tmp_path)
    assert counts["cached"] == stored and counts["judged"] == total - stored
    assert content(tmp_path) == in_process["content"]
