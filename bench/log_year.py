"""A year of synthetic days through `arxivfilter run`: the running log and archive sizes.

    python bench/log_year.py [--listed 10] [--other 30] [--weeks 4] [--keep DIR]

Builds a JSONL source with one listing per weekday of 2026 (``--listed`` papers on topic for
the shipped llm-inference profile, ``--other`` off topic, long titles and abstracts), replays
it with the local scorer in a temporary folder (one `run --source`, then `report` of the last
day twice: the second rewrites nothing), and prints the largest README.md and monthly archive
page per profile against GitHub's 512 KB rendering limit, and the wall times.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ON = (
    "{n}: KV cache offloading and speculative decoding for LLM serving with continuous batching"
    " on GPUs"
)
ON_ABSTRACT = (
    "Serving large language models is limited by KV cache memory. We propose {n}, an LLM"
    " inference engine that offloads the KV cache to host memory and NVMe, combines speculative"
    " decoding with continuous batching and prefix caching, and schedules prefill and decode"
    " separately. On A100 GPUs {n} raises throughput by 2.4x and cuts time to first token by 38%"
    " against vLLM and SGLang at the same SLO. "
)
OFF = "{n}: a study of protein folding landscapes with graph neural networks on molecular data"
OFF_ABSTRACT = (
    "We study protein folding with message passing on molecular graphs and report accuracy on"
    " three biology benchmarks, with ablations over depth and width. "
)


def weekdays(year: int) -> list[dt.date]:
    day, out = dt.date(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def build(path: Path, days: list[dt.date], listed: int, other: int) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for d, day in enumerate(days):
            for i in range(listed + other):
                name = f"System{d:03d}x{i:02d}"
                on = i < listed
                rec = {
                    "id": f"{day:%y%m}.{d % 100:02d}{i:03d}",
                    "title": (ON if on else OFF).format(n=name),
                    "authors": ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"],
                    "categories": ["cs.DC"],
                    "summary": ((ON_ABSTRACT if on else OFF_ABSTRACT) * 2).format(n=name),
                    "date": day.isoformat(),
                }
                fh.write(json.dumps(rec) + "\n")
                n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listed", type=int, default=10)
    ap.add_argument("--other", type=int, default=30)
    ap.add_argument("--weeks", type=int, default=4)
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="arxivfilter-log-year-"))
    work.mkdir(parents=True, exist_ok=True)
    days = weekdays(2026)
    source = work / "year.jsonl"
    papers = build(source, days, args.listed, args.other)
    env = {**os.environ, "ARXIVFILTER_REPORT__LOG_WEEKS": str(args.weeks)}
    exe = [sys.executable, "-m", "arxivfilter.cli"]

    def run(*argv: str) -> float:
        start = time.monotonic()
        subprocess.run([*exe, *argv], cwd=work, env=env, check=False, capture_output=True)
        return time.monotonic() - start

    t_run = run("run", "--source", str(source), "--scorer", "local", "--json")
    t_report = run("report", "--date", days[-1].isoformat(), "--json")
    print(f"{len(days)} weekdays, {papers} papers ({args.listed} on topic a day), in {work}")
    print(f"run --source (fetch, score, report of every day): {t_run:.1f} s")
    print(f"report of the last day (README + its month + feed): {t_report:.1f} s")
    for folder in sorted((work / "digests").iterdir()):
        readme = folder / "README.md"
        months = sorted(folder.glob("*/????-??.md"))
        largest = max(months, key=lambda p: p.stat().st_size) if months else None
        print(
            f"{folder.name}: README.md {readme.stat().st_size / 1024:.1f} KB;"
            f" {len(months)} archive pages, largest"
            f" {largest.name if largest else '-'}"
            f" {(largest.stat().st_size / 1024) if largest else 0:.1f} KB (limit 512 KB)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
