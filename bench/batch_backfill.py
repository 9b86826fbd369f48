"""Batch mode against tests/stub_batch.py (its own process): a real day, and a backfill.

    python bench/batch_backfill.py [--papers 150000] [--day-only] [--samples ../shared/arxiv-samples]

1. The real mixed day ``raw_days/2025-12-16.jsonl`` (cs.DC+cs.OS+cs.LG, one profile):
   ``pipeline.run`` in batch mode with ``batch_wait_seconds`` set, so one run submits, polls
   and writes the digest; prints the wall time from the run's start to the digest, the
   requests and batches, and checks that the digest lists what a direct run against
   tests/stub_llm.py lists (the stub answers both the same way).
2. A simulated backfill of N synthetic papers (one profile, one paper per request): the
   papers are stored, then one ``run``-like score step submits them all: requests,
   batches (split at 50,000 lines and 190 MB), wall time to submit, to collect, and the
   peak resident memory of this process (``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import structlog
from sqlmodel import Session, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.stub_llm import StubConfig, running  # noqa: E402

from arxivfilter import pipeline, store  # noqa: E402
from arxivfilter.config import load_profiles, load_settings  # noqa: E402
from arxivfilter.models import Entry, Paper  # noqa: E402
from arxivfilter.score.stage import Budget, score_papers  # noqa: E402

DAY = "E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced/raw_days/2025-12-16.jsonl"
PROFILE = "llm-systems"
CATS = ["cs.DC", "cs.OS", "cs.LG"]


def quiet() -> None:
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


class Stub:
    def __init__(self, work: Path, *args: str) -> None:
        port_file = work / f"port-{time.monotonic_ns()}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.stub_batch", "--port-file", str(port_file), *args],
            cwd=ROOT,
        )
        for _ in range(400):
            if port_file.exists() and port_file.read_text():
                break
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, int]:
        return httpx.get(f"http://127.0.0.1:{self.port}/stats", timeout=30).json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def env(work: Path, name: str, base_url: str, **extra: str) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": base_url,
        "OPENAI_API_KEY": "sk-bench-0000000000",
        "ARXIVFILTER_MODEL": "gpt-4.1-nano",
        "ARXIVFILTER_DB_URL": f"sqlite:///{work / (name + '.db')}",
        "ARXIVFILTER_DIGESTS_DIR": str(work / f"digests-{name}"),
        "ARXIVFILTER_RAW_DIR": str(work / "raw"),
        "ARXIVFILTER_LOCK_FILE": str(work / f"{name}.lock"),
        **extra,
    }


def day(samples: Path, work: Path) -> None:
    source = samples / DAY
    stub = Stub(work, "--batch-seconds", "2", "--model", "gpt-4.1-nano")
    try:
        app = pipeline.App(
            load_settings(
                env=env(
                    work,
                    "batch",
                    stub.base_url,
                    ARXIVFILTER_LLM__MODE="batch",
                    ARXIVFILTER_LLM__BATCH_WAIT_SECONDS="600",
                    ARXIVFILTER_LLM__BATCH_POLL_SECONDS="0.5",
                )
            )
        )
        started = time.perf_counter()
        try:
            summary = pipeline.run(
                app, pipeline.Options(source=source, categories=CATS, profiles=[PROFILE])
            )
        finally:
            app.close()
        wall = time.perf_counter() - started
        stats = stub.stats()
    finally:
        stub.stop()
    with running(StubConfig(model="gpt-4.1-nano")) as direct_stub:
        app = pipeline.App(load_settings(env=env(work, "direct", direct_stub.base_url)))
        try:
            pipeline.run(app, pipeline.Options(source=source, categories=CATS, profiles=[PROFILE]))
        finally:
            app.close()
    digests = [
        (work / f"digests-{n}" / PROFILE / "2025" / "2025-12-16.md").read_text()
        for n in ("batch", "direct")
    ]
    s = summary.score
    print(
        f"real day 2025-12-16, {s.papers} papers, batch mode, stub batch finishing 2 s after "
        f"creation, polled from 0.5 s: exit {summary.exit_code}, {stats['uploads']} upload(s), "
        f"{stats['batches']} batch(es), {stats['lines_answered']} lines; wall from the run's "
        f"start to the digest {wall:.1f} s; digest identical to the direct run's: "
        f"{'yes' if digests[0] == digests[1] else 'NO'}"
    )


def backfill(n: int, work: Path) -> None:
    stub = Stub(work, "--batch-seconds", "0", "--model", "gpt-4.1-nano")
    try:
        settings = load_settings(
            env=env(work, "backfill", stub.base_url, ARXIVFILTER_LLM__MODE="batch")
        )
        profile = load_profiles([PROFILE])[0]
        app = pipeline.App(settings)
        try:
            t0 = time.perf_counter()
            base = dt.date(2025, 1, 1)
            entries = [
                Entry(
                    arxiv_id=f"25{(i // 25000) + 1:02d}.{i % 25000:05d}",
                    title=f"Synthetic paper {i} on distributed training and serving",
                    abstract=(f"We study problem {i % 997} in large-scale systems. " * 12).strip(),
                    authors=["A. Author", "B. Author"],
                    categories=["cs.LG"],
                    primary_category="cs.LG",
                    announce_date=base + dt.timedelta(days=i // 600),
                    announce_type="new",
                )
                for i in range(n)
            ]
            with app.session() as session:
                store.store_entries(session, entries, categories=["cs.LG"])
                papers = list(session.exec(select(Paper)).all())
            stored = time.perf_counter() - t0
            scorer = app.scorer("llm")

            async def go() -> tuple[float, float, int]:
                with Session(app.engine, expire_on_commit=False) as session:
                    t1 = time.perf_counter()
                    counts = await score_papers(session, scorer, profile, papers, budget=Budget())
                    submitted = time.perf_counter() - t1
                    t2 = time.perf_counter()
                    got = await scorer.collect(session, [profile], wait_seconds=3600)
                    collected = time.perf_counter() - t2
                    await scorer.aclose()
                    assert got.judged == n, (got.judged, counts.pending)
                    return submitted, collected, counts.pending

            submitted, collected, pending = asyncio.run(go())
        finally:
            app.close()
        stats = stub.stats()
    finally:
        stub.stop()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"backfill of {n:,} papers in batch mode: {pending:,} requests, {stats['batches']} "
        f"batches ({stats['uploads']} uploads), storing the papers {stored:.0f} s, submitting "
        f"{submitted:.0f} s, collecting {collected:.0f} s (the stub answers at once), "
        f"{stats['lines_answered']:,} lines answered; peak memory of this process "
        f"{peak_mb:.0f} MB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("--papers", type=int, default=150_000)
    parser.add_argument("--day-only", action="store_true")
    parser.add_argument("--backfill-only", action="store_true")
    args = parser.parse_args()
    quiet()
    with tempfile.TemporaryDirectory(prefix="arxivfilter-batch-") as tmp:
        work = Path(tmp)
        if not args.backfill_only:
            day(args.samples, work)
        if not args.day_only:
            backfill(args.papers, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
