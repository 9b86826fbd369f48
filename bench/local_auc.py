"""ROC-AUC of the local scorer on the labelled cs.DC/cs.OS set: lexical, and with liked examples.

    python bench/local_auc.py [--samples ../shared/arxiv-samples] [--baseline] [--tune]

Universe: papers of ``E_paper_metadata/*/systems_subset/*.jsonl`` carrying cs.DC or cs.OS,
dated by ``index.tsv`` (``first_seen_file_date``) up to 2025-09-30, the dumps' end.
Positives: the ids in ``labels/lmsys_positive_ids.tsv``. The issue's periods stop at
2025-09-16, the labels' last list date.

Protocol (never tune on what is reported as held out):
  * Everything was tuned on June-July 2025 only: the lexical scorer and profiles, the learned
    model's settings (``learned.LearnParams``) and the blend (``local.BLEND_*``), by 5-fold
    cross-validation inside those months (``--tune`` reproduces it: each fold's liked
    examples are the labelled positives of the other folds, subsampled to 25, 50 or all).
  * Held out, never tuned on: 1 August - 30 September 2025, and March-May 2025 (thin: 28
    papers).
  * The held-out days are also split by the list's own criterion, read from the labels alone
    (the share of each day's papers the list took; ``regimes`` prints it): 1-8 August and
    17-30 September follow the usual criterion (10 % and 18 % listed; June-July: 18 %),
    11 August - 15 September the broad one (82 %). 16 September was not judged: the 43
    entries dated that day are papers of 17 September onwards (the list's last entry), and
    none of the day's 24 papers. Each figure has a 95 % interval from a bootstrap
    over days (labels cluster by day).
  * ``llm-systems`` names liked examples (``llm-systems.liked.tsv``: the 98 labelled
    positives of June-July); their text comes from the samples, as ``eval`` takes it from
    ``--source``. Examples are excluded from the universe they are scored on, for the
    lexical rows too, so "examples add" compares the same papers.
  * The effect of the number of examples: ``--draws`` random subsets (fixed seeds) of 25 and
    50 of the liked papers, scored on the same universe (minus all 98).
``--baseline`` adds the plain TF-IDF cosine with the description, and the supervised
reference: logistic regression over TF-IDF trained on every June-July label.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from arxivfilter import evaluate
from arxivfilter.config import Profile, load_profile
from arxivfilter.models import PaperText
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
    return PaperText(
        arxiv_id=rec["id"], title=rec["title"], abstract=rec["summary"], categories=cats
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


def learned_scores(
    profile: Profile, papers: Sequence[PaperText], model: learned.LearnedModel
) -> tuple[list[float], list[float]]:
    """(blended logit, learned decision) of every paper."""
    blended = [local.logit(profile, p, model) for p in papers]
    return blended, [model.score(p) for p in papers]


def examples_section(profile: Profile, rows: Rows, pos: set[str], draws: int) -> None:
    """Held-out AUC without and with the profile's liked examples, and by their number."""
    ids = learned.profile_example_ids(profile)
    by_id = {p.arxiv_id: p for _, p in rows}
    examples = [by_id[i] for i in sorted(ids) if i in by_id]
    rest = [(d, p) for d, p in rows if p.arxiv_id not in ids]
    papers = [p for _, p in rest]
    print(
        f"\n{profile.name}: {len(examples)} liked examples found of {len(ids)}; scored on the "
        f"universe minus them ({len(rest)} papers)"
    )
    learned._MODELS.clear()
    started = time.perf_counter()
    model = learned.train(examples)
    assert model is not None
    train_s = time.perf_counter() - started
    blended, alone = learned_scores(profile, papers, model)
    lexical = [local.raw_score(profile, p) for p in papers]
    print(_header())
    print(_row("lexical only", rest, lexical, pos))
    print(_row(f"lexical + learned ({len(examples)} examples)", rest, blended, pos))
    print(_row("learned alone", rest, alone, pos))
    print(_regime_header())
    print(_regime_row("lexical only", rest, lexical, pos))
    print(_regime_row(f"lexical + learned ({len(examples)} examples)", rest, blended, pos))
    print(_regime_row("learned alone", rest, alone, pos))
    for n in (25, 50):
        if n >= len(examples):
            continue
        spans = {name: [PERIODS[name]] for name in ("Aug-16 Sep (held out)", "Aug", "1-16 Sep")} | {
            "held out, usual": REGIMES["held out, usual"]
        }
        aucs: dict[str, list[float]] = {k: [] for k in spans}
        for seed in range(draws):
            subset = random.Random(seed).sample(examples, n)
            sub_model = learned.train(subset)
            assert sub_model is not None
            scores = learned_scores(profile, papers, sub_model)[0]
            for name in aucs:
                idx = [i for i, (d, _) in enumerate(rest) if any(_in(d, s) for s in spans[name])]
                aucs[name].append(
                    roc_auc([scores[i] for i in idx], [rest[i][1].arxiv_id in pos for i in idx])
                )
        cells = ", ".join(
            f"{k} {statistics.mean(v):.3f} ({min(v):.3f}-{max(v):.3f})" for k, v in aucs.items()
        )
        print(f"  {n} examples (mean of {draws} draws, range): {cells}")
    learned._MODELS.clear()
    started = time.perf_counter()
    learned.train(examples)
    retrain_s = time.perf_counter() - started
    speed = (papers * (1000 // len(papers) + 1))[:1000]
    started = time.perf_counter()
    local.score_many(profile, speed, model)
    score_s = time.perf_counter() - started
    started = time.perf_counter()
    local.score_many(profile, speed)
    lexical_s = time.perf_counter() - started
    print("  (Jun-Jul: every labelled positive is an example; --tune cross-validates those months)")
    print(
        f"  training: {train_s:.2f} s the first time in a process (imports scikit-learn,"
        f" vectorises the background), {retrain_s:.2f} s again; {len(model.weights)} weights."
        f" 1,000 papers scored in {score_s:.2f} s (lexical only {lexical_s:.2f} s)"
    )


# --------------------------------------------------------------------------- tuning


def _folds(items: Sequence[PaperText], pos: set[str], k: int, seed: int) -> list[list[int]]:
    """Stratified folds (positives and negatives dealt round-robin after a seeded shuffle)."""
    out: list[list[int]] = [[] for _ in range(k)]
    for group in (True, False):
        idx = [i for i, p in enumerate(items) if (p.arxiv_id in pos) == group]
        random.Random(seed).shuffle(idx)
        for j, i in enumerate(idx):
            out[j % k].append(i)
    return out


@dataclass
class Fold:
    """One cross-validation fold's test papers: lexical raw, learned decision, label, feed."""

    raw: list[float]
    learned: list[float]
    labels: list[bool]
    in_universe: list[bool]  # False: a held-out background paper of the default feed
    n_examples: int


def cross_validate(
    profile: Profile,
    items: Sequence[PaperText],
    pos: set[str],
    feed: dict[str, PaperText],
    params: learned.LearnParams,
    *,
    repeats: int,
    size: int | None = None,
) -> list[Fold]:
    """5-fold cross-validation inside the tuning months, feed-style.

    Each fold's examples are the labelled positives of the other four (``size`` of them at
    random) and a fifth of the background is held out of training; the fold's test papers
    are its June-July papers plus the held-out background papers of the default feed
    (cs.DC/cs.OS/cs.LG, all taken as negatives), as a nightly run would mix them.
    """
    out: list[Fold] = []
    background = list(learned.background(params).ids)
    for seed in range(repeats):
        folds = _folds(items, pos, 5, seed)
        shuffled = background[:]
        random.Random(seed).shuffle(shuffled)
        for f, test in enumerate(folds):
            train_pos = [items[i] for g, fold in enumerate(folds) if g != f for i in fold]
            train_pos = [p for p in train_pos if p.arxiv_id in pos]
            if size is not None and size < len(train_pos):
                train_pos = random.Random(seed * 100 + f).sample(train_pos, size)
            held = set(shuffled[f::5])
            model = learned.train(train_pos, params, holdout=held)
            assert model is not None
            tests = [items[i] for i in test] + [feed[k] for k in sorted(held) if k in feed]
            out.append(
                Fold(
                    [local.raw_score(profile, p) for p in tests],
                    [model.score(p) for p in tests],
                    [p.arxiv_id in pos for p in tests],
                    [True] * len(test) + [False] * (len(tests) - len(test)),
                    model.n_examples,
                )
            )
    return out


def _fold_aucs(folds: Sequence[Fold]) -> dict[str, float]:
    """Mean fold AUC of lexical, learned and blend, on the June-July papers and on the feed."""
    sums: dict[str, list[float]] = {}
    for fold in folds:
        blend = [
            local.blended_logit(r, a, fold.n_examples)
            for r, a in zip(fold.raw, fold.learned, strict=True)
        ]
        for scope in ("universe", "feed"):
            idx = [i for i, u in enumerate(fold.in_universe) if u or scope == "feed"]
            labels = [fold.labels[i] for i in idx]
            for name, scores in (
                ("lexical", fold.raw),
                ("learned", fold.learned),
                ("blend", blend),
            ):
                key = f"{scope} {name}"
                sums.setdefault(key, []).append(roc_auc([scores[i] for i in idx], labels))
    return {k: statistics.mean(v) for k, v in sums.items()}


def _fmt(aucs: dict[str, float]) -> str:
    return " | ".join(
        f"{scope}: "
        + " / ".join(f"{aucs[f'{scope} {n}']:.3f}" for n in ("lexical", "learned", "blend"))
        for scope in ("universe", "feed")
    )


def feed_papers(samples: Path) -> dict[str, PaperText]:
    """The background's papers that the default feed (cs.DC, cs.OS, cs.LG) would carry."""
    wanted = set(learned.background().ids)
    out: dict[str, PaperText] = {}
    for path in sorted(samples.glob("E_paper_metadata/*/raw_days/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                if rec["id"] in wanted and {"cs.DC", "cs.OS", "cs.LG"} & set(rec["categories"]):
                    out.setdefault(rec["id"], _paper(rec))
    return out


def tune(profile: Profile, rows: Rows, pos: set[str], samples: Path) -> None:
    """Cross-validation inside June-July: the learned settings, the blend and its calibration."""
    from sklearn.linear_model import LogisticRegression

    items = [p for d, p in rows if _in(d, TUNED)]
    feed = feed_papers(samples)
    print(
        f"\ntuning on June-July only ({len(items)} papers) + {len(feed)} background papers of the"
        " default feed as extra negatives; 5-fold cross-validation"
    )
    print("  settings (1 repeat, all training positives): AUC lexical / learned / blend")
    for change in (
        {},
        {"c": 0.1},
        {"c": 1.0},
        {"category_boost": 0.0},
        {"category_boost": 50.0},
        {"category_boost": 1000.0},
    ):
        params = replace(learned.LEARN, **change)
        aucs = _fold_aucs(cross_validate(profile, items, pos, feed, params, repeats=1))
        print(f"    {change or 'shipped'!s:28} {_fmt(aucs)}")

    print("  blend per number of examples (3 repeats):")
    for size in (12, 25, 50, None):
        folds = cross_validate(profile, items, pos, feed, learned.LEARN, repeats=3, size=size)
        n = folds[0].n_examples
        x = [
            [local.lexical_logit(r), a]
            for fold in folds
            for r, a in zip(fold.raw, fold.learned, strict=True)
        ]
        y = [v for fold in folds for v in fold.labels]
        stack = LogisticRegression(C=1e6, max_iter=1000).fit(x, y)
        wa, wb = stack.coef_[0]
        # intercept: at 70, list as many June-July papers as the list holds (the lexical sense)
        uni = [i for i, u in enumerate(u for fold in folds for u in fold.in_universe) if u]
        mixed = sorted((wa * x[i][0] + wb * x[i][1] for i in uni), reverse=True)
        k = round(sum(y[i] for i in uni) / len(uni) * len(mixed))
        wc = math.log(0.695 / 0.305) - (mixed[k - 1] + mixed[k]) / 2
        rel = [
            local.logit_relevance(local.blended_logit(r, a, fold.n_examples))
            for fold in folds
            for r, a in zip(fold.raw, fold.learned, strict=True)
        ]
        listed = [y[i] for i in uni if rel[i] >= 70]
        print(
            f"    n={n:3}: {_fmt(_fold_aucs(folds))}; fitted ({n}, {wa:.2f}, {wb:.2f}, {wc:.2f});"
            f" at 70 the shipped blend lists {len(listed) / len(uni):.1%} of June-July (the list:"
            f" {sum(y[i] for i in uni) / len(uni):.1%}), {sum(listed) / max(1, len(listed)):.0%}"
            " on the list"
        )
    model = learned.train([p for p in items if p.arxiv_id in pos])
    assert model is not None
    day = _real_day(samples)
    results = local.score_many(profile, day, model)
    share = sum(1 for r in results if (r.relevance or 0) >= 70) / len(day)
    plain = sum(1 for r in local.score_many(profile, day) if (r.relevance or 0) >= 70) / len(day)
    print(
        f"  real day 2025-12-16 (cs.DC/cs.OS/cs.LG, {len(day)} papers, not in the background): "
        f"{share:.1%} listed at 70 with the {model.n_examples} examples, {plain:.1%} lexical only"
    )


def _real_day(samples: Path) -> list[PaperText]:
    seen: dict[str, PaperText] = {}
    for line in (samples / REAL_DAY).read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            if {"cs.DC", "cs.OS", "cs.LG"} & set(rec["categories"]):
                seen.setdefault(rec["id"], _paper(rec))
    return list(seen.values())


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=ROOT.parent / "shared" / "arxiv-samples")
    parser.add_argument("--baseline", action="store_true", help="add the TF-IDF references")
    parser.add_argument("--tune", action="store_true", help="the June-July cross-validation")
    parser.add_argument("--draws", type=int, default=5, help="subsets per example count")
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
            examples_section(profile, rows, pos, args.draws)
            if args.tune:
                tune(profile, rows, pos, args.samples)


if __name__ == "__main__":
    main()
