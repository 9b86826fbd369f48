"""Build the local scorer's shipped document-frequency table from the CC0 sample abstracts.

    python bench/build_local_idf.py [--samples ../shared/arxiv-samples] [--out PATH]

Corpus (arXiv metadata is CC0): the daily dumps in ``E_paper_metadata/*/raw_days`` and the
all-archive RSS capture in ``B_rss_feeds``, each paper once (title + abstract). The systems
subsets are left out on purpose: they are the labelled evaluation set (``bench/local_auc.py``).
Only words seen in at least two documents and bigrams seen in at least three are stored (half
the size, same scores to three decimals); the scorer treats any other feature as seen once.
Rebuild after changing ``local.features``, and bump ``local.VERSION``. The output is
byte-reproducible (sorted keys, gzip mtime 0).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import Counter
from pathlib import Path

import feedparser

from arxivfilter.score.lexical import IDF_FILE, features

ROOT = Path(__file__).resolve().parents[1]
_RSS_ABSTRACT = re.compile(r"^.*?Abstract:\s*", re.DOTALL)


def corpus(samples: Path) -> dict[str, str]:
    """arXiv id -> "title. abstract" for every distinct paper of the corpus."""
    docs: dict[str, str] = {}
    for path in sorted(samples.glob("E_paper_metadata/*/raw_days/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                docs.setdefault(rec["id"], f"{rec['title']}. {rec['summary']}")
    for path in sorted(samples.glob("B_rss_feeds/*/rss_mock_feed.xml")):
        for entry in feedparser.parse(str(path)).entries:
            arxiv_id = entry.get("id", "").rsplit(":", 1)[-1]
            abstract = _RSS_ABSTRACT.sub("", entry.get("summary", ""))
            if arxiv_id and abstract:
                docs.setdefault(arxiv_id, f"{entry.get('title', '')}. {abstract}")
    return docs


def build(samples: Path) -> dict[str, object]:
    """The table: documents, their mean length in features, and the kept features' df."""
    docs = corpus(samples)
    df: Counter[str] = Counter()
    length = 0
    for text in docs.values():
        feats = features(text)
        length += len(feats)
        df.update(set(feats))
    kept = {t: c for t, c in sorted(df.items()) if c >= (3 if " " in t else 2)}
    return {"n_docs": len(docs), "avg_len": round(length / len(docs), 1), "df": kept}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("--out", type=Path, default=ROOT / "src/arxivfilter/score" / IDF_FILE)
    args = parser.parse_args()
    table = build(args.samples)
    blob = json.dumps(table, separators=(",", ":"), sort_keys=True).encode()
    args.out.write_bytes(gzip.compress(blob, compresslevel=9, mtime=0))
    print(
        f"{args.out}: {table['n_docs']} documents, {len(table['df'])} features, "
        f"{args.out.stat().st_size} bytes"
    )


if __name__ == "__main__":
    main()
