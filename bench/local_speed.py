"""Time the local scorer: start-up, then N real papers per shipped profile.

    python bench/local_speed.py [--samples ../shared/arxiv-samples] [-n 1000]

Papers are the distinct records of the ``raw_days`` dumps (real abstracts, mostly cs.LG),
repeated if fewer than N. Start-up is the first judgement: loading the shipped IDF table and
building the profile's queries. Prints seconds and papers per second.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from arxivfilter.config import load_profile
from arxivfilter.models import Paper, PaperText
from arxivfilter.score import lexical, local

ROOT = Path(__file__).resolve().parents[1]


def papers(samples: Path, n: int) -> list[PaperText]:
    """N real papers from the daily dumps."""
    found: dict[str, PaperText] = {}
    for path in sorted(samples.glob("E_paper_metadata/*/raw_days/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            found.setdefault(
                rec["id"],
                Paper(
                    arxiv_id=rec["id"], title=rec["title"], abstract=rec["summary"], text_hash=""
                ),
            )
    items = list(found.values())
    return (items * (n // len(items) + 1))[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    batch = papers(args.samples, args.n)
    for name in ("llm-inference", "llm-systems"):
        profile = load_profile(ROOT / "config/profiles" / f"{name}.toml")
        start = time.perf_counter()
        local.score(profile, batch[0])
        startup = time.perf_counter() - start
        runs = []
        for _ in range(3):
            # each paper's text analysis and TL;DR are cached (per paper, for every profile):
            # time the work, not the cache
            lexical._text_docs.cache_clear()
            local._tldr.cache_clear()
            start = time.perf_counter()
            local.score_many(profile, batch)
            runs.append(time.perf_counter() - start)
        best = min(runs)
        print(
            f"{name:14} start-up {startup:.3f} s; {len(batch)} papers in {best:.3f} s "
            f"(best of 3; {len(batch) / best:,.0f} papers/s)"
        )


if __name__ == "__main__":
    main()
