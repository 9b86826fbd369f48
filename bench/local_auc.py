"""ROC-AUC of the local scorer on the labelled cs.DC/cs.OS set: lexical, and with liked examples.

    python bench/local_auc.py [--samples ../shared/arxiv-samples] [--baseline] [--tune]

Universe: papers of ``E_paper_metadata/*/systems_subset/*.jsonl`` carrying cs.DC or cs.OS,
dated by ``index.tsv`` (``first_seen_file_date``) up to 2025-09-30, the dumps' end.
Positives: the ids in ``labels/lmsys_positive_ids.tsv``. The issue's periods stop at
2025-09-16, the labels' last list date.

Protocol (never tune on what is reported as held out):
  * Everything was tuned on June-July 2025 only: the lexical scorer and profiles, and the
    learned model's settings (``learned.LearnParams``); the model's blend weight is earned by
    time-ordered cross-validation inside those months (``--tune`` prints it per setting).
  * Held out, never tuned on: 1 August - 30 September 2025, and March-May 2025 (thin: 28
    papers).
  * The held-out days are also split by the list's own criterion, read from the labels alone
    (the share of each day's papers the list took; ``regimes`` prints it): 1-8 August and
    17-30 September follow the usual criterion (10 % and 18 % listed; June-July: 18 %),
    11 August - 15 September the broad one (82 %). 16 September was not judged: the 43
    entries dated that day are papers of 17 September onwards (the list's last entry), and
    none of the day's 24 papers. Each figure has a 95 % interval from a bootstrap
    over days (labels cluster by day); the difference with/without examples is paired.
  * ``llm-systems`` names liked examples (``llm-systems.liked.tsv``: the 98 labelled
    positives of June-July); their text comes from the samples, as ``eval`` takes it from
    ``--source``, and the negatives are the reader's other June-July papers
    (:func:`training`, as ``learned.training_set`` reads them from the database). Examples
    are excluded from the universe they are scored on, for the lexical rows too.
``--baseline`` adds the plain TF-IDF cosine with the description, and the supervised
reference: logistic regression over TF-IDF trained on every June-July label.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from arxivfilter import evaluate
from arxivfilter.config import Profile, load_profile
from arxivfilter.models import Paper, PaperText
from arxivfilter.score import learned, local
from arxivfilter.text import is_category

ROOT = Path(__file__).resolve().parents[1]
TUNED = ("2025-06-01", "2025-07-31")
HELD_OUT = ("2025-08-01", "2025-09-16")
UNTIL = "2025-09-30"  # the dumps' end; the list's last entry (dated 16 Sep) reaches past it
PERIODS = {
    "pooled": ("0000-00-00", "2025-09-16"),
    "Mar-May": ("2025-03-01", "2025-05-31"),
    "Jun-Jul (tuned)": TUNED,
    "Aug": ("2025-08-01", "2025-08-31"),
    "1-16 Sep": ("2025-09-01", "2025-09-16"),
    "Aug-16 Sep (held out)": HELD_OUT,
}
# The held-out days by the list's own criterion, read from the labels alone (``regimes``
# prints the evidence: the share of each day's papers the list took).
REGIMES = {
    "1-8 Aug (usual)": [("2025-08-01", "2025-08-08")],
    "11 Aug-15 Sep (broad)": [("2025-08-11", "2025-09-15")],
    "17-30 Sep (usual)": [("2025-09-17", "2025-09-30")],
    "held out, usual": [("2025-08-01", "2025-08-08"), ("2025-09-17", "2025-09-30")],
}
BROAD_SHARE = 0.5  # a day whose listed share exceeds this follows the broad criterion
REAL_DAY = "E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced/raw_days/2025-12-16.jsonl"

Rows = list[tuple[str, PaperText]]


def universe(samples: Path, until: str = UNTIL) -> Rows:
    """(date, paper) for every distinct cs.DC/cs.OS paper dated up to ``until``."""
    papers: dict[str, tuple[str, PaperText]] = {}
    for folder in sorted(samples.glob("E_paper_metadata/*/systems_subset")):
        with (folder / "index.tsv").open(encoding="utf-8") as fh:
            dates = {r["id"]: r["first_seen_file_date"] for r in csv.DictReader(fh, delimiter="\t")}
        for path in sorted(folder.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                date = dates.get(rec["id"])
                if rec["id"] in papers or date is None or date > until:
                    continue
                if not {"cs.DC", "cs.OS"} & set(rec["categories"]):
                    continue
                papers[rec["id"]] = (date, _paper(rec))
    return list(papers.values())


def _paper(rec: dict) -> PaperText:
    cats = [c for c in rec["categories"] if is_category(c)]
    return Paper(
        arxiv_id=rec["id"],
        title=rec["title"],
        abstract=rec["summary"],
        categories=cats,
        text_hash="",
    )


def positives(samples: Path) -> set[str]:
    """The labelled ids (version suffixes stripped)."""
    with (samples / "labels/lmsys_positive_ids.tsv").open(encoding="utf-8") as fh:
        return {r["arxiv_id"].split("v")[0] for r in csv.DictReader(fh, delimiter="\t")}


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """``evaluate.roc_auc`` (ties counted half), nan without both classes."""
    auc = evaluate.roc_auc(scores, labels)
    return float("nan") if auc is None else auc


def _in(date: str, period: tuple[str, str]) -> bool:
    return period[0] <= date <= period[1]


def _row(label: str, rows: Rows, scores: Sequence[float], pos: set[str]) -> str:
    cells = []
    for period in PERIODS.values():
        idx = [i for i, (d, _) in enumerate(rows) if _in(d, period)]
        labels = [rows[i][1].arxiv_id in pos for i in idx]
        auc = roc_auc([scores[i] for i in idx], labels)
        cells.append(f"{auc:.3f} ({len(idx)}/{sum(labels)}+)".rjust(17))
    return f"{label:34} " + " ".join(cells)


def _header() -> str:
    return f"{'':34} " + " ".join(f"{k:>17}" for k in PERIODS)


# --------------------------------------------------------------------------- label regimes


def list_dates(samples: Path) -> dict[str, str]:
    """Each labelled id's (first) list date, as the labels file gives it."""
    out: dict[str, str] = {}
    with (samples / "labels/lmsys_positive_ids.tsv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            key = r["arxiv_id"].split("v")[0]
            out[key] = min(out.get(key, r["list_date"]), r["list_date"])
    return out


def regimes(rows: Rows, pos: set[str], samples: Path) -> None:
    """The list's criterion over the held-out days, from the labels alone (no scorer).

    Consecutive days are grouped by whether the list took more than ``BROAD_SHARE`` of
    them; a list date whose entries are not that day's papers is flagged.
    """
    listed_on = list_dates(samples)
    days: dict[str, list[str]] = {}
    for date, p in rows:
        if date >= HELD_OUT[0]:
            days.setdefault(date, []).append(p.arxiv_id)
    print(f"\nthe list's criterion by day from {HELD_OUT[0]} (from the labels alone)")
    runs: list[list[str]] = []
    for date in sorted(days):
        ids = days[date]
        share = sum(i in pos for i in ids) / len(ids)
        entries = [i for i, d in listed_on.items() if d == date]
        foreign = [i for i in entries if i not in ids]
        if entries and len(foreign) == len(entries) and not any(i in pos for i in ids):
            kind = f"not judged: the {len(entries)} entries dated this day are other days' papers"
        else:
            kind = "broad" if share > BROAD_SHARE else "usual"
        if runs and runs[-1][0] == kind:
            runs[-1].append(date)
        else:
            runs.append([kind, date])
    for kind, *dates in runs:
        ids = [i for d in dates for i in days[d]]
        n_pos = sum(i in pos for i in ids)
        shares = [sum(i in pos for i in days[d]) / len(days[d]) for d in dates]
        print(
            f"  {dates[0]} .. {dates[-1]}: {len(dates):2} days, {len(ids):3} papers, "
            f"{n_pos:3} listed ({n_pos / len(ids):4.0%}; days {min(shares):.0%}-"
            f"{max(shares):.0%}): {kind}"
        )
    late = [i for i, d in listed_on.items() if d == HELD_OUT[1]]
    by_day = {p.arxiv_id: d for d, p in rows}
    after = sum(1 for i in late if by_day.get(i, "") > HELD_OUT[1])
    print(
        f"  the list's last entry, dated {HELD_OUT[1]}: {len(late)} ids; {after} are papers the"
        f" dumps first saw after that date, {sum(1 for i in late if i not in by_day)} are in no"
        " dump (October ids); none is a paper of that day"
    )


def bootstrap(
    scores: Sequence[float], labels: Sequence[bool], days: Sequence[str], rounds: int = 2000
) -> tuple[float, float]:
    """95 % interval of ROC-AUC resampling whole days with replacement (fixed seed).

    Days, not papers: the labels cluster by day (the list's criterion is a property of the
    day), so resampling papers one by one would understate the spread. Draws that hold one
    class only are left out. It does not include the learned model's training variance.
    """
    by_day: dict[str, list[int]] = {}
    for i, day in enumerate(days):
        by_day.setdefault(day, []).append(i)
    keys = sorted(by_day)
    rng = random.Random(0)
    aucs = []
    for _ in range(rounds):
        idx = [i for day in rng.choices(keys, k=len(keys)) for i in by_day[day]]
        auc = roc_auc([scores[i] for i in idx], [labels[i] for i in idx])
        if not math.isnan(auc):
            aucs.append(auc)
    aucs.sort()
    return aucs[int(0.025 * len(aucs))], aucs[max(0, int(0.975 * len(aucs)) - 1)]


def _regime_row(label: str, rows: Rows, scores: Sequence[float], pos: set[str]) -> str:
    cells = []
    for spans in REGIMES.values():
        idx = [i for i, (d, _) in enumerate(rows) if any(_in(d, s) for s in spans)]
        labels = [rows[i][1].arxiv_id in pos for i in idx]
        sub = [scores[i] for i in idx]
        auc = roc_auc(sub, labels)
        low, high = bootstrap(sub, labels, [rows[i][0] for i in idx])
        cells.append(f"{auc:.3f} [{low:.2f}-{high:.2f}] ({len(idx)}/{sum(labels)}+)".rjust(30))
    return f"{label:34} " + " ".join(cells)


def _regime_header() -> str:
    return f"{'':34} " + " ".join(f"{k:>30}" for k in REGIMES)


# --------------------------------------------------------------------------- baselines


def tfidf_cosine(profile: Profile, papers: list[PaperText]) -> list[float]:
    """Plain TF-IDF cosine between each paper and the profile's description."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [f"{p.title} {p.abstract}" for p in papers]
    vec = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit(texts)
    return list((vec.transform(texts) @ vec.transform([profile.description]).T).toarray().ravel())


def supervised(rows: Rows, pos: set[str]) -> list[float]:
    """Logistic regression over TF-IDF trained on every June-July label (a reference)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [f"{p.title} {p.abstract}" for _, p in rows]
    train = [i for i, (d, _) in enumerate(rows) if _in(d, TUNED)]
    vec = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit([texts[i] for i in train])
    model = LogisticRegression(max_iter=3000).fit(
        vec.transform([texts[i] for i in train]), [rows[i][1].arxiv_id in pos for i in train]
    )
    return list(model.decision_function(vec.transform(texts)))


# --------------------------------------------------------------------------- learned


def training(
    profile: Profile, rows: Rows, params: learned.LearnParams | None = None
) -> learned.TrainingSet:
    """What a reader's database gives ``learned.training_set``: the profile's liked papers
    found in the universe and the reader's other papers of their primary categories in the
    period they cover (at least ``min_days``), dated, at most ``max_negatives``."""
    p = params or learned.LEARN
    ids = learned.profile_example_ids(profile)
    dated = {pp.arxiv_id: dt.date.fromisoformat(d) for d, pp in rows}
    liked = sorted((pp for _, pp in rows if pp.arxiv_id in ids), key=lambda x: x.arxiv_id)
    cats = {pp.categories[0] for pp in liked if pp.categories}
    last = max(dated[pp.arxiv_id] for pp in liked)
    first = min(min(dated[pp.arxiv_id] for pp in liked), last - dt.timedelta(days=p.min_days - 1))
    rest = sorted(
        (
            pp
            for _, pp in rows
            if pp.arxiv_id not in ids
            and first <= dated[pp.arxiv_id] <= last
            and cats & set(pp.categories)
        ),
        key=lambda x: x.arxiv_id,
    )
    if len(rest) > p.max_negatives:
        step = len(rest) / p.max_negatives
        rest = [rest[int(i * step)] for i in range(p.max_negatives)]
    return learned.TrainingSet(liked=liked, unlabelled=rest, dates=dated)


def paired_bootstrap(
    a: Sequence[float],
    b: Sequence[float],
    labels: Sequence[bool],
    days: Sequence[str],
    rounds: int = 2000,
) -> tuple[float, float]:
    """95 % interval of ROC-AUC(a) - ROC-AUC(b), resampling whole days (fixed seed)."""
    by_day: dict[str, list[int]] = {}
    for i, day in enumerate(days):
        by_day.setdefault(day, []).append(i)
    keys = sorted(by_day)
    rng = random.Random(0)
    diffs = []
    for _ in range(rounds):
        idx = [i for day in rng.choices(keys, k=len(keys)) for i in by_day[day]]
        y = [labels[i] for i in idx]
        x = roc_auc([a[i] for i in idx], y) - roc_auc([b[i] for i in idx], y)
        if not math.isnan(x):
            diffs.append(x)
    diffs.sort()
    return diffs[int(0.025 * len(diffs))], diffs[max(0, int(0.975 * len(diffs)) - 1)]


HELD_OUT_ROWS = {
    "Aug": [("2025-08-01", "2025-08-31")],
    "Sep": [("2025-09-01", "2025-09-30")],
    "1-8 Aug (usual)": [("2025-08-01", "2025-08-08")],
    "17-30 Sep (usual)": [("2025-09-17", "2025-09-30")],
    "held out, usual": [("2025-08-01", "2025-08-08"), ("2025-09-17", "2025-09-30")],
    "11 Aug-15 Sep (broad)": [("2025-08-11", "2025-09-15")],
    "Mar-May (thin)": [("2025-03-01", "2025-05-31")],
}


def examples_section(profile: Profile, rows: Rows, pos: set[str]) -> None:
    """Held-out ROC-AUC without and with the profile's liked examples, and the difference."""
    ts = training(profile, rows)
    learned._MODELS.clear()
    started = time.perf_counter()
    model = learned.train(profile, ts)
    seconds = time.perf_counter() - started
    assert model is not None
    print(
        f"\n{profile.name}: {model.n_examples} liked June-July papers against"
        f" {model.n_negatives} of the reader's other papers; earned weight {model.weight}"
        f" ({model.why}; {seconds:.2f} s)"
    )
    print(
        "  cross-validated gain by weight (June-July):", " ".join(f"{g:+.3f}" for g in model.gains)
    )
    print(
        f"  {'held out':24} {'papers/pos':>11} {'lexical':>8} {'with':>7} {'difference [95% over days]':>28}"
    )
    ids = {p.arxiv_id for p in ts.liked}
    for name, spans in HELD_OUT_ROWS.items():
        sub = [(d, p) for d, p in rows if p.arxiv_id not in ids and any(_in(d, s) for s in spans)]
        labels = [p.arxiv_id in pos for _, p in sub]
        lex = [local.logit(profile, p) for _, p in sub]
        got = [local.logit(profile, p, model) for _, p in sub]
        low, high = paired_bootstrap(got, lex, labels, [d for d, _ in sub])
        a, b = roc_auc(got, labels), roc_auc(lex, labels)
        print(
            f"  {name:24} {f'{len(sub)}/{sum(labels)}':>11} {b:8.3f} {a:7.3f}"
            f"   {a - b:+.3f} [{low:+.3f}, {high:+.3f}]"
        )


def tune(profile: Profile, rows: Rows) -> None:
    """The earned weight's cross-validation inside June-July only, for a few settings."""
    print("\ntuning (June-July only): earned weight and its held-out gain by setting")
    for change in (
        {},
        {"c": 0.1},
        {"c": 1.0},
        {"folds": 3},
        {"folds": 6},
        {"max_negatives": 300},
    ):
        params = replace(learned.LEARN, **change)
        model = learned.train(profile, training(profile, rows, params), params)
        assert model is not None
        print(f"  {change or 'shipped'!s:24} weight {model.weight} ({model.why})")


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("--baseline", action="store_true", help="add the TF-IDF references")
    parser.add_argument("--tune", action="store_true", help="the June-July cross-validation")
    args = parser.parse_args()
    rows = universe(args.samples)
    pos = positives(args.samples)
    papers = [p for _, p in rows]
    print("lexical scorer, whole universe (no examples excluded)")
    print(_header())
    for name in ("llm-systems", "llm-inference"):
        profile = load_profile(ROOT / "config/profiles" / f"{name}.toml")
        print(_row(f"{name} lexical", rows, [local.raw_score(profile, p) for p in papers], pos))
        if args.baseline:
            print(_row(f"{name} tfidf cosine", rows, tfidf_cosine(profile, papers), pos))
    if args.baseline:
        print(_row("supervised LR, Jun-Jul labels", rows, supervised(rows, pos), pos))
    regimes(rows, pos, args.samples)
    print(
        "\nheld-out days by the list's criterion: ROC-AUC [95 % bootstrap over days]"
        " (papers/positives)"
    )
    print(_regime_header())
    for name in ("llm-systems", "llm-inference"):
        profile = load_profile(ROOT / "config/profiles" / f"{name}.toml")
        scores = [local.raw_score(profile, p) for p in papers]
        print(_regime_row(f"{name} lexical", rows, scores, pos))
        if args.baseline:
            print(_regime_row(f"{name} tfidf cosine", rows, tfidf_cosine(profile, papers), pos))
    if args.baseline:
        print(_regime_row("supervised LR, Jun-Jul labels", rows, supervised(rows, pos), pos))
    for name in ("llm-systems", "llm-inference"):
        profile = load_profile(ROOT / "config/profiles" / f"{name}.toml")
        if learned.has_examples(profile):
            examples_section(profile, rows, pos)
            if args.tune:
                tune(profile, rows)


if __name__ == "__main__":
    main()
