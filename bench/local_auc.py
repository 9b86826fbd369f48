"""ROC-AUC of the local scorer's relevance on the labelled cs.DC/cs.OS set, per period.

    python bench/local_auc.py [--samples ../shared/arxiv-samples] [--baseline]

Universe: papers of ``E_paper_metadata/*/systems_subset/*.jsonl`` carrying cs.DC or cs.OS,
dated by ``index.tsv`` (``first_seen_file_date``) up to 2025-09-16, when the labels end.
Positives: the ids in ``labels/lmsys_positive_ids.tsv``. The scorer and the shipped profiles
were tuned on June-July 2025 only; 1 August - 16 September 2025 is held out (and the list's
criterion was unusually broad then). ``--baseline`` adds the plain TF-IDF cosine between each
paper and the profile's description (scikit-learn, English stop words, sublinear tf).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from arxivfilter.config import Profile, load_profile
from arxivfilter.models import PaperText
from arxivfilter.score.local import raw_score

ROOT = Path(__file__).resolve().parents[1]
PERIODS = {
    "pooled": ("0000-00-00", "2025-09-16"),
    "Jun-Jul (tuned)": ("2025-06-01", "2025-07-31"),
    "Aug-16 Sep (held out)": ("2025-08-01", "2025-09-16"),
}


def universe(samples: Path) -> list[tuple[str, PaperText]]:
    """(date, paper) for every distinct cs.DC/cs.OS paper dated up to 2025-09-16."""
    papers: dict[str, tuple[str, PaperText]] = {}
    for folder in sorted(samples.glob("E_paper_metadata/*/systems_subset")):
        with (folder / "index.tsv").open(encoding="utf-8") as fh:
            dates = {r["id"]: r["first_seen_file_date"] for r in csv.DictReader(fh, delimiter="\t")}
        for path in sorted(folder.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                date = dates.get(rec["id"])
                if rec["id"] in papers or date is None or date > "2025-09-16":
                    continue
                if not {"cs.DC", "cs.OS"} & set(rec["categories"]):
                    continue
                paper = PaperText(arxiv_id=rec["id"], title=rec["title"], abstract=rec["summary"])
                papers[rec["id"]] = (date, paper)
    return list(papers.values())


def positives(samples: Path) -> set[str]:
    """The labelled ids (version suffixes stripped)."""
    with (samples / "labels/lmsys_positive_ids.tsv").open(encoding="utf-8") as fh:
        return {r["arxiv_id"].split("v")[0] for r in csv.DictReader(fh, delimiter="\t")}


def roc_auc(scores: list[float], labels: list[bool]) -> float:
    """Mann-Whitney ROC-AUC with ties counted half."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_pos = sum(labels)
    n_neg = len(labels) - n_pos
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def baseline(profile: Profile, papers: list[PaperText]) -> list[float]:
    """Plain TF-IDF cosine between each paper and the profile's description."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [f"{p.title} {p.abstract}" for p in papers]
    vec = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(texts)
    docs = vec.transform(texts)
    query = vec.transform([profile.description])
    return list((docs @ query.T).toarray().ravel())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("--baseline", action="store_true", help="add the TF-IDF baseline")
    args = parser.parse_args()
    rows = universe(args.samples)
    pos = positives(args.samples)
    print(f"{'profile':14} {'scorer':9} " + " ".join(f"{k:>22}" for k in PERIODS))
    for name in ("llm-systems", "llm-inference"):
        profile = load_profile(ROOT / "config/profiles" / f"{name}.toml")
        papers = [p for _, p in rows]
        scorers = {"local": [raw_score(profile, p) for p in papers]}
        if args.baseline:
            scorers["tfidf"] = baseline(profile, papers)
        for scorer, scores in scorers.items():
            cells = []
            for lo, hi in PERIODS.values():
                idx = [i for i, (d, _) in enumerate(rows) if lo <= d <= hi]
                labels = [papers[i].arxiv_id in pos for i in idx]
                auc = roc_auc([scores[i] for i in idx], labels)
                cells.append(f"{auc:.3f} ({len(idx)}/{sum(labels)}+)".rjust(22))
            print(f"{name:14} {scorer:9} " + " ".join(cells))


if __name__ == "__main__":
    main()
