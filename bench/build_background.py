"""Build the learned scorer's shipped background corpus from the CC0 sample abstracts.

    python bench/build_background.py [--samples ../shared/arxiv-samples] [--out PATH]

The background is what a profile's liked examples are told apart from (``score/learned.py``):
a fixed set of papers, so a judgement never depends on the other papers of a day. Corpus
(arXiv metadata is CC0): the daily dumps ``E_paper_metadata/*/raw_days`` of 15, 17, 18 and 19
December 2025, every category, each paper once (id, primary category, title, abstract).

Left out on purpose:
  * 16 December 2025 (``raw_days/2025-12-16.jsonl``): the real day the tests and the
    calibration check score, so it stays unseen;
  * every paper of ``systems_subset`` (the labelled June-September 2025 evaluation set,
    ``bench/local_auc.py``) and every id of ``labels/lmsys_positive_ids.tsv``, so no labelled
    paper leaks into training (the dumps are months apart anyway; this makes it certain).

Rebuild after changing the corpus, and bump ``local.VERSION``. The output is byte-reproducible
(sorted by id, gzip mtime 0).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
from collections import Counter
from pathlib import Path

from arxivfilter.score.learned import BACKGROUND_FILE
from arxivfilter.text import is_category

ROOT = Path(__file__).resolve().parents[1]
DAYS = ("2025-12-15", "2025-12-17", "2025-12-18", "2025-12-19")


def labelled_ids(samples: Path) -> set[str]:
    """Every id of the labelled universe's dumps and of the labels file."""
    ids: set[str] = set()
    for path in samples.glob("E_paper_metadata/*/systems_subset/*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                ids.add(json.loads(line)["id"])
    with (samples / "labels/lmsys_positive_ids.tsv").open(encoding="utf-8") as fh:
        ids |= {r["arxiv_id"].split("v")[0] for r in csv.DictReader(fh, delimiter="\t")}
    return ids


def build(samples: Path) -> tuple[list[list[str]], int]:
    """(rows of [id, primary category, title, abstract] sorted by id, ids left out)."""
    banned = labelled_ids(samples)
    papers: dict[str, list[str]] = {}
    dropped = 0
    for day in DAYS:
        for path in sorted(samples.glob(f"E_paper_metadata/*/raw_days/{day}.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                rec = json.loads(line)
                if rec["id"] in banned:
                    dropped += 1
                    continue
                cats = [c for c in rec["categories"] if is_category(c)]
                papers.setdefault(
                    rec["id"],
                    [
                        rec["id"],
                        cats[0] if cats else "",
                        " ".join(rec["title"].split()),
                        " ".join(rec["summary"].split()),
                    ],
                )
    return [papers[k] for k in sorted(papers)], dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "src/arxivfilter/score" / BACKGROUND_FILE
    )
    args = parser.parse_args()
    rows, dropped = build(args.samples)
    payload = {"days": list(DAYS), "fields": ["id", "primary", "title", "abstract"], "papers": rows}
    blob = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    args.out.write_bytes(gzip.compress(blob.encode(), compresslevel=9, mtime=0))
    top = Counter(r[1] for r in rows).most_common(6)
    print(
        f"{args.out}: {len(rows)} papers ({dropped} labelled-set lines left out), "
        f"{args.out.stat().st_size} bytes; top primary categories {top}"
    )


if __name__ == "__main__":
    main()
