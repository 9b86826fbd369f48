"""Scoring throughput against the stub OpenAI-compatible server, with latency, a rate limit and 500s.

    python bench/score_throughput.py [--papers 2000] [--concurrency 16] [--latency 0.5]
                                     [--rpm 1500] [--error-rate 0.02] [--papers-per-call 1]
                                     [--profile llm-systems] [--samples ../shared/arxiv-samples]

``tests/stub_llm.py`` runs as a subprocess (its own interpreter, so its threads do not share
the client's GIL): every call waits ``--latency`` seconds, more than ``--rpm`` accepted
calls in any 60 s are answered 429 with ``Retry-After`` (whole seconds until the window frees),
and a ``--error-rate`` share of calls is answered 500. N real papers (the distinct texts of
the shared JSONL dumps, ``E_paper_metadata``) are stored in a fresh SQLite database and
scored for one shipped profile through ``score.stage.score_papers`` with the real
``LlmScorer`` (structured output, tenacity retries, the semaphore and the httpx client of
``score/llm.py``), then scored again at once.

Printed: wall time; calls (by HTTP status); with a limit, the share of requests answered 429
and wall time over calls / limit (the issue's floor: 200 calls at 60 a minute = 200 s) and the peak concurrency the stub saw; the ideal
wall time and the ratio to it; tokens per paper from the stub's reported usage (4 characters
per token; the system message counts as cached from its second sighting); cost per 1,000
papers at the gpt-4.1-nano and gpt-4.1-mini prices of the shipped config; papers lost to the
faults (must be 0); calls on the immediate re-run (must be 0). With no rate limit and no 500s
also: the latency the client saw (median, p90), and a bare httpx client's wall time for the
same request bodies at the same concurrency, the floor this stub and loopback allow (the ideal
below counts neither the stub's own work per request nor the last partial round of calls).

The ideal: C = concurrency, L = latency, N = calls needed (papers / papers per call).
Concurrency alone allows N x L / C. The stub's limit is a sliding 60 s window of R accepted
calls: when R calls take less than 60 s at full speed (R x L / C < 60), call number j > k R
cannot be accepted before 60 k s plus the time the first calls took, so the rate limit's
floor is 60 k + (N - k R) x L / C with k = floor((N - 1) / R). The ideal is the larger one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import httpx
import structlog
from sqlmodel import Session, col, func, select

from arxivfilter import store
from arxivfilter.config import load_profiles, load_settings
from arxivfilter.fetch.day import fetch_replay
from arxivfilter.gcpause import freeze_loaded
from arxivfilter.models import Judgement, LlmCall, Paper
from arxivfilter.score.llm import build_llm_scorer
from arxivfilter.score.prices import Prices
from arxivfilter.score.stage import Budget, ScoreCounts, score_papers

ROOT = Path(__file__).resolve().parents[1]
PRICED = ("gpt-4.1-nano", "gpt-4.1-mini")
CPU_SECONDS: list[float] = []  # client CPU time of each scoring pass


def quiet_logs() -> None:
    """Warnings and errors only (one line per retry would drown the figures)."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )


def start_stub(args: argparse.Namespace, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The stub server in its own process; returns (process, base URL)."""
    port_file = folder / "stub.port"
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "stub_llm.py"),
        "--port-file",
        str(port_file),
        "--latency",
        str(args.latency),
        "--rpm",
        str(args.rpm),
        "--error-rate",
        str(args.error_rate),
        "--seed",
        str(args.seed),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("the stub server did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port_file.read_text().strip()}/v1"


def stub_stats(base_url: str) -> dict[str, object]:
    return httpx.get(base_url.removesuffix("/v1") + "/stats", timeout=10).json()  # type: ignore[no-any-return]


def load_papers(session: Session, samples: Path, n: int) -> list[Paper]:
    """N real papers with distinct texts, stored in the benchmark's database."""
    entries = fetch_replay(samples / "E_paper_metadata").entries
    seen: set[object] = set()
    chosen = []
    for e in sorted(entries, key=lambda e: e.arxiv_id):
        text = (e.title, e.abstract)
        if e.arxiv_id in seen or text in seen or not e.abstract:
            continue
        seen.update((e.arxiv_id, text))
        chosen.append(e)
    if len(chosen) < n:
        raise SystemExit(f"only {len(chosen)} distinct papers in the dumps; ask for fewer")
    chosen = chosen[:n]
    store.store_entries(session, chosen, categories=None)
    ids = [e.arxiv_id for e in chosen]
    papers: list[Paper] = []
    for i in range(0, len(ids), 500):
        papers.extend(session.exec(select(Paper).where(col(Paper.arxiv_id).in_(ids[i : i + 500]))))
    return sorted(papers, key=lambda p: p.arxiv_id)


def ideal_seconds(calls: int, latency: float, concurrency: int, rpm: int) -> tuple[float, float]:
    """(concurrency floor, rate-limit floor) in seconds (see the module docstring)."""
    per_call = latency / concurrency
    conc = calls * per_call
    if rpm <= 0 or rpm * per_call >= 60 or calls <= rpm:
        return conc, conc
    k = (calls - 1) // rpm
    return conc, 60.0 * k + (calls - k * rpm) * per_call


async def score(session: Session, settings, engine, profile, papers) -> tuple[ScoreCounts, float]:  # type: ignore[no-untyped-def]
    scorer = build_llm_scorer(settings, remember=partial(store.ModeMemory, engine))
    prices = Prices()  # OpenAI's catalogue prices (the stub's base URL is a local one)
    started = time.perf_counter()
    cpu = time.process_time()
    try:
        counts = await score_papers(
            session,
            scorer,
            profile,
            papers,
            budget=Budget(),
            price=prices.call_cost,
            base_url=settings.llm.base_url,
        )
    finally:
        await scorer.aclose()
    wall = time.perf_counter() - started
    CPU_SECONDS.append(time.process_time() - cpu)
    return counts, wall


async def bare_client(base_url: str, bodies: list[dict[str, object]], concurrency: int) -> float:
    """Wall time of a bare httpx client sending ``bodies`` to the stub at ``concurrency``: what
    the stub and loopback cost with no SDK, scorer or database (the floor this stub allows)."""
    slots = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def send(body: dict[str, object]) -> None:
            async with slots:
                (await client.post("/chat/completions", json=body)).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(send(b) for b in bodies))
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per call")
    parser.add_argument("--rpm", type=int, default=1500, help="requests per minute (0: none)")
    parser.add_argument("--error-rate", type=float, default=0.02, help="share of 500s")
    parser.add_argument("--papers-per-call", type=int, default=1)
    parser.add_argument("--profile", default="llm-systems")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    args = parser.parse_args()
    quiet_logs()

    work = Path(tempfile.mkdtemp(prefix="arxivfilter-throughput-"))
    bare: float | None = None
    proc, base_url = start_stub(args, work)
    try:
        settings = load_settings(
            env={
                "ARXIVFILTER_DB_URL": f"sqlite:///{work / 'bench.db'}",
                "OPENAI_BASE_URL": base_url,
                "ARXIVFILTER_MODEL": PRICED[0],
                "ARXIVFILTER_LLM__CONCURRENCY": str(args.concurrency),
                "ARXIVFILTER_LLM__PAPERS_PER_CALL": str(args.papers_per_call),
            }
        )
        profile = load_profiles([args.profile])[0]
        engine = store.make_engine(settings.storage.db_url)
        with Session(engine, expire_on_commit=False) as session:
            papers = load_papers(session, args.samples, args.papers)
            freeze_loaded()  # as the program does once its App exists (cli.entry)
            counts, wall = asyncio.run(score(session, settings, engine, profile, papers))
            first = stub_stats(base_url)
            again, wall_again = asyncio.run(score(session, settings, engine, profile, papers))
            second = stub_stats(base_url)
            if not args.rpm and not args.error_rate:  # the bare client retries nothing
                scorer = build_llm_scorer(settings)
                size = args.papers_per_call
                groups = [papers[i : i + size] for i in range(0, len(papers), size)]
                bodies = list(scorer.request_bodies(profile, groups))
                bare = asyncio.run(bare_client(base_url, bodies, args.concurrency))
            latencies = sorted(
                ms
                for ms in session.exec(select(LlmCall.latency_ms).where(LlmCall.status == "ok"))
                if ms is not None
            )
            ok = session.exec(
                select(func.count())
                .select_from(Judgement)
                .where(Judgement.profile == profile.name, Judgement.status == "ok")
            ).one()
        engine.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    n = len(papers)
    needed = math.ceil(n / args.papers_per_call)
    conc_floor, rate_floor = ideal_seconds(needed, args.latency, args.concurrency, args.rpm)
    ideal = max(conc_floor, rate_floor)
    statuses = first["statuses"]
    assert isinstance(statuses, dict)
    print(
        f"papers {n}, profile {args.profile}, concurrency {args.concurrency}, latency "
        f"{args.latency:g} s, rpm {args.rpm or 'none'}, 500s {args.error_rate:.0%}, "
        f"papers per call {args.papers_per_call}"
    )
    print(f"wall time: {wall:.2f} s ({n / wall:.1f} papers/s)")
    print(
        f"calls: {first['calls']} HTTP requests seen by the stub "
        f"({', '.join(f'{k}: {v}' for k, v in statuses.items())}); {needed} needed; "
        f"{counts.calls} recorded in llm_calls"
    )
    print(
        f"peak concurrency at the stub: {first['peak_concurrency']} (configured {args.concurrency})"
    )
    cpu = CPU_SECONDS[0]
    print(
        f"client CPU: {cpu:.2f} s ({cpu / max(int(first['calls']), 1) * 1000:.1f} ms per HTTP "
        f"request: SDK, httpx, parsing, SQLite); load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs"
    )
    if latencies:
        print(
            f"latency seen by the client: median {latencies[len(latencies) // 2]} ms, p90 "
            f"{latencies[len(latencies) * 9 // 10]} ms, max {latencies[-1]} ms (the stub "
            f"waits {args.latency * 1000:g} ms)"
        )
    print(
        f"ideal: {ideal:.2f} s (concurrency floor {conc_floor:.2f} s, rate-limit floor "
        f"{rate_floor:.2f} s); wall / ideal = {wall / ideal:.3f} (target <= 1.25)"
    )
    if bare is not None:
        print(
            f"a bare httpx client, the same request bodies: {bare:.2f} s, wall / ideal = "
            f"{bare / ideal:.3f} (what the stub and loopback cost; the scorer's own share is "
            f"{wall / bare:.3f})"
        )
    limited = int(statuses.get("429", 0))
    requests = int(first["calls"])
    if args.rpm:
        floor = needed / args.rpm * 60.0
        print(
            f"rate limit: {requests} requests, {limited} answered 429 "
            f"({limited / max(requests, 1):.1%}; target <= 10 %); wall / (calls / limit) = "
            f"{wall:.1f} / {floor:.1f} s = {wall / floor:.3f} (target <= 1.25)"
        )
    print(
        f"tokens per paper: prompt {counts.prompt_tokens / n:.1f} (cached "
        f"{counts.cached_tokens / n:.1f}), completion {counts.completion_tokens / n:.1f}"
    )
    prices = Prices()
    for model in PRICED:
        cost = prices.cost_usd(
            model, counts.prompt_tokens, counts.completion_tokens, counts.cached_tokens
        )
        rates = prices.rates(model)
        print(
            f"cost per 1,000 papers at {model} (${rates.input if rates else 0:g} in / "
            f"${rates.cached_input if rates else 0:g} cached / "
            f"${rates.output if rates else 0:g} out per M): "
            f"${(cost or 0) / n * 1000:.4f}"
        )
    lost = counts.failed + counts.unscored
    print(
        f"papers lost to faults: {lost} (failed {counts.failed}, unscored {counts.unscored}); "
        f"ok judgements stored {ok} of {n}"
    )
    print(
        f"immediate re-run: {again.calls} calls, {int(second['calls']) - int(first['calls'])} "
        f"requests at the stub, {again.cached} cached, {wall_again:.2f} s"
    )
    if os.environ.get("BENCH_JSON"):
        print(json.dumps({"first": first, "again": second}))
    return 0 if lost == 0 and again.calls == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
