"""Nights of all of cs: ``arxivfilter run`` night after night at ~1,500 papers a day and
5 profiles, end to end through the real command line, on SQLite or PostgreSQL, with the
local scorer or the stub LLM.

    python bench/year_of_cs.py [--nights 5] [--per-day 1500] [--on-topic 0.03] [--scorer local|llm]
                               [--db-url URL] [--latency 0.2] [--concurrency 32]
                               [--papers-per-call 5] [--keep DIR]

A temporary working directory gets a config watching 40 cs categories and five profiles
(the two shipped ones and three more written from llm-inference with other keywords), the shipped profile's liked examples stored up front (no network here),
and one synthetic JSONL dump per weekday (see :func:`write_nights`: 3 % of the papers on
the LLM profiles' topics by default, spread over the 40 categories, some cross-listed). Each night is one process, ``arxivfilter run --source
DUMP --date D`` (fetch, store, score, report: digests, running logs, feeds), on the same
database, so night N sees the N-1 before it. ``--scorer llm`` starts ``tests/stub_llm.py``
in its own process (``--latency`` seconds a call) and judges every paper of every profile
through it.

Prints per night: wall and CPU seconds (user + system of the child), peak RSS, and the
papers and judgements it added; then the mean night and a year as 250 of them (a night's
work does not grow with the history: ``bench/scale.py`` measures a date's report at
100,000 and 1,000,000 stored papers), and the database size per night.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

# the neighbouring bench scripts: bench/scale.py (real words), bench/score_throughput.py (the
# stub server), bench/throughput.py (papers, dumps, one measured process)
scale = importlib.import_module("scale")
score_throughput = importlib.import_module("score_throughput")
throughput = importlib.import_module("throughput")

CS = [
    "cs.AI", "cs.AR", "cs.CC", "cs.CE", "cs.CG", "cs.CL", "cs.CR", "cs.CV", "cs.CY", "cs.DB",
    "cs.DC", "cs.DL", "cs.DM", "cs.DS", "cs.ET", "cs.FL", "cs.GL", "cs.GR", "cs.GT", "cs.HC",
    "cs.IR", "cs.IT", "cs.LG", "cs.LO", "cs.MA", "cs.MM", "cs.MS", "cs.NA", "cs.NE", "cs.NI",
    "cs.OH", "cs.OS", "cs.PF", "cs.PL", "cs.RO", "cs.SC", "cs.SD", "cs.SE", "cs.SI", "cs.SY",
]  # fmt: skip
EXTRA_PROFILES = {
    "gpu-kernels": ["GPU kernel", "attention kernel", "compiler", "accelerator", "tensor"],
    "federated": ["federated learning", "communication", "privacy", "aggregation", "client"],
    "graph-learning": ["graph neural network", "graph", "message passing", "node", "edge"],
}


def write_profiles(work: Path) -> list[str]:
    """The shipped profiles plus three written from llm-inference (other names and
    keywords), and a config watching all of :data:`CS`; returns the profiles' names."""
    folder = work / "config" / "profiles"
    folder.mkdir(parents=True)
    names = []
    for src in sorted((ROOT / "config" / "profiles").glob("*.toml")):
        shutil.copy(src, folder / src.name)
        for extra in (ROOT / "config" / "profiles").glob(f"{src.stem}.*.tsv"):
            shutil.copy(extra, folder / extra.name)
        names.append(src.stem)
    base = (ROOT / "config" / "profiles" / "llm-inference.toml").read_text(encoding="utf-8")
    for name, words in EXTRA_PROFILES.items():
        text = re.sub(r'(?m)^name = ".*"$', f'name = "{name}"', base)
        text = re.sub(
            r"(?ms)^keywords = \[.*?^\]$",
            "keywords = [" + ", ".join(json.dumps(w) for w in words) + "]",
            text,
        )
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
        names.append(name)
    (work / "config" / "arxivfilter.toml").write_text(
        "[arxiv]\ncategories = [" + ", ".join(json.dumps(c) for c in CS) + "]\n",
        encoding="utf-8",
    )
    return names


def write_nights(
    folder: Path, nights: int, per_day: int, seed: int, on_topic: float
) -> list[dt.date]:
    """One dump a weekday (``bench/throughput.py``'s shape), its papers spread over
    :data:`CS`. A share ``on_topic`` keeps the throughput bench's text (its 58 in-domain
    words: the LLM profiles list most of those papers); the others' text is drawn from the
    demo day's real words at their real frequencies (``bench/scale.py``), which no profile
    lists. ``--on-topic 1`` is the worst case: every paper listed by the LLM profiles."""
    days = throughput.write_dumps(folder, nights * per_day, per_day, seed)
    rng = random.Random(seed)
    words = scale.real_words()
    pool = [scale.sentence(rng, 16, words) for _ in range(5000)]
    for day in days:
        path = folder / f"{day.isoformat()}.jsonl"
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rng.random() >= on_topic:
                rec["title"] = scale.sentence(rng, 10, words)[:-1] + f" {rec['id']}"
                rec["summary"] = " ".join(rng.choices(pool, k=9))
            rec["categories"] = rng.sample(CS, k=rng.choice([1, 1, 2, 3]))
            lines.append(json.dumps(rec))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return days


def empty(db_url: str) -> bool:
    """Whether the database holds no paper (a night's figures need a fresh one)."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("papers"):
                return True
            return conn.execute(sa.text("SELECT count(*) FROM papers")).scalar() == 0
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=5)
    parser.add_argument("--per-day", type=int, default=1500)
    parser.add_argument("--scorer", choices=["local", "llm"], default="local")
    parser.add_argument("--db-url", help="default: a fresh SQLite file in the work folder")
    parser.add_argument("--latency", type=float, default=0.2, help="stub seconds per call")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--papers-per-call", type=int, default=5)
    parser.add_argument(
        "--on-topic", type=float, default=0.03, help="share of papers with in-domain text"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="arxivfilter-year-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    stub = None
    try:
        profiles = write_profiles(work)
        days = write_nights(work / "dumps", args.nights, args.per_day, args.seed, args.on_topic)
        db_url = args.db_url or f"sqlite:///{work / 'year.db'}"
        env = {
            **os.environ,
            "ARXIVFILTER_DB_URL": db_url,
            "ARXIVFILTER_LOG_LEVEL": "warning",
            "ARXIVFILTER_CONFIG": str(work / "config" / "arxivfilter.toml"),
        }
        env.pop("OPENAI_API_KEY", None)
        if args.scorer == "llm":
            stub_args = argparse.Namespace(latency=args.latency, rpm=0, error_rate=0.0, seed=0)
            stub, base_url = score_throughput.start_stub(stub_args, work)
            env.update(
                {
                    "OPENAI_BASE_URL": base_url,
                    "ARXIVFILTER_MODEL": score_throughput.PRICED[0],
                    "ARXIVFILTER_LLM__CONCURRENCY": str(args.concurrency),
                    "ARXIVFILTER_LLM__PAPERS_PER_CALL": str(args.papers_per_call),
                }
            )
        os.chdir(work)
        if not empty(db_url):
            raise SystemExit(f"{db_url} holds papers already: give the bench an empty database")
        throughput.store_examples(env)
        backend = db_url.split(":", 1)[0].split("+", 1)[0]
        print(
            f"{args.nights} nights of {args.per_day:,} papers ({args.on_topic:.0%} on topic) over"
            f" {len(CS)} cs categories, "
            f"{len(profiles)} profiles ({', '.join(profiles)}), scorer {args.scorer}, {backend}"
        )
        rows = []
        for day in days:
            dump = work / "dumps" / f"{day.isoformat()}.jsonl"
            cli = ["run", "--source", str(dump), "--date", day.isoformat(), "--json"]
            if args.scorer == "local":
                cli += ["--scorer", "local"]
            wall, cpu, rss, out = throughput.measured(cli, env)
            summary = json.loads(out)
            score = summary["score"]
            rows.append((wall, cpu, rss))
            size = ""
            if backend == "sqlite":
                size = f", database {(work / 'year.db').stat().st_size / 2**20:,.0f} MiB"
            print(
                f"  {day}: wall {wall:5.1f} s, CPU {cpu:5.1f} s, peak RSS {rss:4.0f} MiB; "
                f"{summary['fetch']['new_papers']:,} new papers, {score['judged']:,} judged, "
                f"{score['llm_calls']:,} LLM calls{size}"
            )
        walls, cpus = [r[0] for r in rows], [r[1] for r in rows]
        print(
            f"mean night: wall {statistics.mean(walls):.1f} s, CPU {statistics.mean(cpus):.1f} s,"
            f" peak RSS {max(r[2] for r in rows):.0f} MiB at most"
        )
        print(
            f"a year (250 such nights): wall {250 * statistics.mean(walls) / 3600:.1f} h, "
            f"CPU {250 * statistics.mean(cpus) / 3600:.1f} h"
        )
    finally:
        if stub is not None:
            stub.kill()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
