"""Throughput and memory of ``fetch --source`` and ``score --scorer local`` through the CLI.

    python bench/throughput.py [--papers 100000] [--per-day 500] [--keep DIR] [--src PATH]

Writes ``--papers`` synthetic papers as daily JSONL dumps (``YYYY-MM-DD.jsonl``, the
daily-arXiv forks' shape: realistic title and abstract lengths, five authors, cs.DC / cs.OS /
cs.LG with some cross-lists) over consecutive weekdays, then runs the real command line in
its own process, each on a fresh SQLite database:

1. ``arxivfilter fetch --source DIR --from D0 --to DN``
2. ``arxivfilter score --scorer local --from D0 --to DN`` (every shipped profile)
3. both again (everything stored and cached), and ``score`` of one date with all cached

Prints per step: wall and CPU seconds (user + system of the command and every process it
started: the local scorer's workers), papers per second and peak memory (the largest of the
biggest process's ``ru_maxrss`` and the process tree's summed proportional set size,
sampled every 100 ms: ``bench/proctree.py``). Targets (issue #23): fetch >= 5,000 papers/s, score
>= 3,000 papers/s, peak RSS < 300 MiB for 100,000 papers, a cached re-run of a date < 1 s
of CPU. ``--src ../main/src`` runs another tree (the figures before a change).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests.harness
import proctree

WORDS = [
    "large",
    "language",
    "model",
    "inference",
    "serving",
    "system",
    "gpu",
    "cluster",
    "kv",
    "cache",
    "memory",
    "scheduling",
    "throughput",
    "latency",
    "distributed",
    "training",
    "pipeline",
    "parallelism",
    "tensor",
    "expert",
    "mixture",
    "quantization",
    "sparse",
    "attention",
    "kernel",
    "compiler",
    "accelerator",
    "network",
    "communication",
    "storage",
    "federated",
    "learning",
    "graph",
    "neural",
    "reinforcement",
    "policy",
    "benchmark",
    "dataset",
    "evaluation",
    "robust",
    "efficient",
    "scalable",
    "adaptive",
    "framework",
    "algorithm",
    "optimisation",
    "analysis",
    "theory",
    "bound",
    "convex",
    "stochastic",
    "gradient",
    "descent",
    "transformer",
    "diffusion",
    "vision",
    "multimodal",
    "agent",
]
CATEGORIES = ["cs.DC", "cs.OS", "cs.LG"]
PER_MONTH = 90_000
ENTRY = "import sys; from arxivfilter.cli import entry; sys.argv[0] = 'arxivfilter'; entry()"


def weekdays(start: dt.date, n: int) -> list[dt.date]:
    out: list[dt.date] = []
    d = start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def write_dumps(folder: Path, n: int, per_day: int, seed: int) -> list[dt.date]:
    rng = random.Random(seed)
    pool = [" ".join(rng.choice(WORDS) for _ in range(14)).capitalize() + "." for _ in range(3000)]
    days = weekdays(dt.date(2025, 1, 6), -(-n // per_day))
    folder.mkdir(parents=True, exist_ok=True)
    for d_index, day in enumerate(days):
        with (folder / f"{day.isoformat()}.jsonl").open("w", encoding="utf-8") as out:
            for i in range(d_index * per_day, min(n, (d_index + 1) * per_day)):
                month = i // PER_MONTH
                cats = rng.sample(CATEGORIES, k=rng.choice([1, 1, 1, 2]))
                record = {
                    "id": f"{25 + month // 12:02d}{month % 12 + 1:02d}.{i % PER_MONTH:05d}v1",
                    "title": " ".join(rng.choice(WORDS) for _ in range(11)).capitalize() + f" {i}",
                    "summary": " ".join(rng.choices(pool, k=10)),
                    "authors": [f"Author {rng.randint(1, 50000)}" for _ in range(5)],
                    "categories": cats,
                    "comment": "10 pages, 5 figures",
                    "date": day.isoformat(),
                }
                out.write(json.dumps(record) + "\n")
    return days


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak memory MiB, stdout) of one CLI process *and every process it
    starts* (the local scorer's workers, ``bench/proctree.py``): memory is the larger of the
    biggest single process's ``ru_maxrss`` and the tree's summed proportional set size."""
    got = proctree.run([sys.executable, "-c", ENTRY, *args], env)
    if got.returncode != 0:
        raise SystemExit(f"arxivfilter {' '.join(args)} exited {got.returncode}")
    return got.wall, got.cpu, max(got.peak_rss, got.peak_pss), got.stdout


def store_examples(env: dict[str, str]) -> None:
    """The profiles' liked example papers, stored up front (synthetic text): ``score`` would
    otherwise ask arXiv for them (no network here)."""
    from tests.harness import store_liked_examples

    store_liked_examples(env["ARXIVFILTER_DB_URL"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--per-day", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--src", type=Path, help="the source tree to run (default: installed)")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="arxivfilter-throughput-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        dumps = work / "dumps"
        if dumps.exists():
            shutil.rmtree(dumps)
        days = write_dumps(dumps, args.papers, args.per_day, args.seed)
        db = work / "bench.db"
        for f in work.glob("bench.db*"):
            f.unlink()
        env = {
            **os.environ,
            "ARXIVFILTER_DB_URL": f"sqlite:///{db}",
            "ARXIVFILTER_DIGESTS_DIR": str(work / "digests"),
            "ARXIVFILTER_RAW_DIR": str(work / "raw"),
            "ARXIVFILTER_LOG_LEVEL": "warning",
        }
        env.pop("OPENAI_API_KEY", None)
        if args.src is not None:
            env["PYTHONPATH"] = str(args.src.resolve())
        store_examples(env)
        span = ["--from", days[0].isoformat(), "--to", days[-1].isoformat()]
        n = args.papers
        print(f"{n:,} papers in {len(days)} daily JSONL dumps ({args.per_day} a day), {work}")
        steps = [
            ("fetch --source", ["fetch", "--source", str(dumps), *span, "--json"]),
            ("score --scorer local", ["score", "--scorer", "local", *span, "--json"]),
            ("fetch --source again (all stored)", ["fetch", "--source", str(dumps), *span]),
            ("score --scorer local again (all cached)", ["score", "--scorer", "local", *span]),
            (
                "score of one date, all cached",
                ["score", "--scorer", "local", "--date", days[-1].isoformat()],
            ),
        ]
        for label, cli in steps:
            wall, cpu, rss, out = measured(cli, env)
            extra = ""
            if "--json" in cli:
                try:
                    extra = " " + json.dumps(
                        {
                            k: v
                            for k, v in json.loads(out).items()
                            if k in ("papers", "judged", "cached", "new_papers", "new_rows")
                        }
                    )
                except (ValueError, AttributeError):
                    extra = ""
            per_s = n / wall if "one date" not in label else args.per_day / wall
            print(
                f"  {label}: wall {wall:.1f} s, CPU {cpu:.1f} s, {per_s:,.0f} papers/s, "
                f"peak RSS {rss:.0f} MiB{extra}"
            )
        for label, cli in (("--version", ["--version"]), ("--help", ["--help"])):
            wall, cpu, rss, _ = measured(cli, env)
            print(
                f"  arxivfilter {label}: wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {rss:.0f} MiB"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
