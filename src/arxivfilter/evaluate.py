"""``arxivfilter eval``: how well a profile's judgements match a labelled list of papers.

The universe is every paper of a ``--source`` (restricted by ``--categories`` and the
announcement dates ``--from``/``--to``) minus the profile's own liked ``examples``; the ids
of the labels file are its positives and every other paper of the universe a negative.
Each paper is judged through the normal score stage and cache (so a second ``eval`` costs
nothing), one announcement day at a time as the nightly run does (the prefilter's share is
per day). Metrics are pure Python:

* ROC-AUC: the Mann-Whitney statistic, ties counted half;
* average precision: sum over distinct score thresholds of (recall gain x precision), as
  scikit-learn's ``average_precision_score`` computes it;
* precision, recall and F1 of "listed" (relevance >= the profile's threshold);
* precision@k for k = number of positives, ties at the cut shared out in proportion
  (the expected precision when tied papers are ordered at random).

A failed or unscored judgement ranks below every judged paper and is never listed; the
counts say how many there were. A metric that is undefined (no positives, nothing listed)
is ``None``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from arxivfilter import dates, store
from arxivfilter.app import App
from arxivfilter.config import Profile
from arxivfilter.errors import SourceError, UsageError
from arxivfilter.fetch.day import fetch_replay
from arxivfilter.models import Entry, Paper
from arxivfilter.runs import recorded
from arxivfilter.score import local
from arxivfilter.score.days import DayWork, outcomes, score_days
from arxivfilter.score.stage import ScoreCounts
from arxivfilter.text import parse_arxiv_id

log = structlog.get_logger(__name__)

ID_COLUMN = "arxiv_id"
BOOTSTRAP_ROUNDS = 1000  # draws of days for the gain's interval
FAILED_SCORE = -1.0  # the ranking score of a failed or missing judgement


# --------------------------------------------------------------------------- labels


@dataclass(frozen=True)
class Labels:
    """The distinct, normalised ids of a labels file, and what was dropped reading it."""

    ids: frozenset[str]
    rows: int
    invalid: int


def read_labels(path: Path) -> Labels:
    """Read a TSV or CSV file with an ``arxiv_id`` column (extra columns ignored).

    The delimiter is sniffed from the header line; ids lose an ``arXiv:`` prefix and a
    ``vN`` suffix and are deduplicated; rows whose id is not an arXiv id are skipped with
    a warning. An unreadable file, no ``arxiv_id`` column or no id at all is a UsageError.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"--labels: cannot read {path}: {reason}") from None
    header = text.split("\n", 1)[0]
    delimiter = _delimiter(header)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
    if ID_COLUMN not in fields:
        shown = ", ".join(repr(f) for f in reader.fieldnames or []) or "none"
        raise UsageError(
            f"--labels: {path} has no {ID_COLUMN!r} column in its header line "
            f"(columns found: {shown}); a TSV or CSV file with a header is expected"
        )
    column = fields[ID_COLUMN]
    ids: set[str] = set()
    rows = invalid = 0
    for row in reader:
        raw = (row.get(column) or "").strip()
        if not raw:
            continue
        rows += 1
        try:
            ids.add(parse_arxiv_id(raw)[0])
        except ValueError:
            invalid += 1
            if invalid <= 5:
                log.warning("label row without an arXiv id skipped", path=str(path), value=raw)
    if not ids:
        raise UsageError(f"--labels: {path} lists no arXiv id in its {ID_COLUMN!r} column")
    return Labels(frozenset(ids), rows, invalid)


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in ("\t", ",", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def example_ids(profile: Profile) -> set[str]:
    """The profile's liked papers (``examples`` + ``examples_file``), excluded from the universe."""
    from arxivfilter.score.learned import profile_example_ids

    return profile_example_ids(profile)


# --------------------------------------------------------------------------- metrics


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Mann-Whitney ROC-AUC, ties counted half; None without both classes."""
    n_pos = sum(1 for y in labels if y)
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mid_rank = (i + j) / 2 + 1  # 1-based average rank of the tied run
        rank_sum += mid_rank * sum(1 for k in range(i, j + 1) if labels[order[k]])
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def average_precision(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Sum over distinct thresholds (high to low) of recall gain x precision; None without positives."""
    n_pos = sum(1 for y in labels if y)
    if n_pos == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    tp = seen = 0
    prev_recall = 0.0
    total = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        tp += sum(1 for k in range(i, j + 1) if labels[order[k]])
        seen += j - i + 1
        recall = tp / n_pos
        total += (recall - prev_recall) * (tp / seen)
        prev_recall = recall
        i = j + 1
    return total


def precision_at_k(scores: Sequence[float], labels: Sequence[bool], k: int) -> float | None:
    """Share of positives among the k best; papers tied at the cut count in proportion."""
    if k <= 0 or not scores:
        return None
    k = min(k, len(scores))
    cut = sorted(scores, reverse=True)[k - 1]
    above = [y for s, y in zip(scores, labels, strict=True) if s > cut]
    tied = [y for s, y in zip(scores, labels, strict=True) if s == cut]
    need = k - len(above)
    hits = sum(above) + sum(tied) * need / len(tied)
    return hits / k


def precision_recall_f1(
    predicted: Sequence[bool], labels: Sequence[bool]
) -> tuple[float | None, float | None, float | None]:
    """(precision, recall, F1) of a yes/no prediction; None where the ratio is 0/0."""
    tp = sum(1 for p, y in zip(predicted, labels, strict=True) if p and y)
    n_pred = sum(1 for p in predicted if p)
    n_pos = sum(1 for y in labels if y)
    precision = tp / n_pred if n_pred else None
    recall = tp / n_pos if n_pos else None
    if precision is None or recall is None:
        f1 = None
    elif precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return precision, recall, f1


@dataclass
class Metrics:
    """The figures of one set of papers (the whole universe, or one month of it)."""

    papers: int
    positives: int
    listed: int
    failed: int
    roc_auc: float | None
    average_precision: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    k: int
    precision_at_k: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "papers": self.papers,
            "positives": self.positives,
            "listed": self.listed,
            "failed": self.failed,
            "roc_auc": _round(self.roc_auc),
            "average_precision": _round(self.average_precision),
            "precision": _round(self.precision),
            "recall": _round(self.recall),
            "f1": _round(self.f1),
            "k": self.k,
            "precision_at_k": _round(self.precision_at_k),
        }


def compute_metrics(
    scores: Sequence[float], labels: Sequence[bool], listed: Sequence[bool], failed: int = 0
) -> Metrics:
    """Every metric of one set: ranking ``scores``, true ``labels``, ``listed`` at the threshold."""
    k = sum(1 for y in labels if y)
    precision, recall, f1 = precision_recall_f1(listed, labels)
    return Metrics(
        papers=len(scores),
        positives=k,
        listed=sum(1 for x in listed if x),
        failed=failed,
        roc_auc=roc_auc(scores, labels),
        average_precision=average_precision(scores, labels),
        precision=precision,
        recall=recall,
        f1=f1,
        k=k,
        precision_at_k=precision_at_k(scores, labels, k),
    )


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# --------------------------------------------------------------------------- the report


@dataclass
class EvalReport:
    """What ``eval`` found: pooled metrics, optional month rows, and what scoring cost."""

    profile: str
    scorer: str
    model: str
    threshold: int
    metrics: Metrics
    labels_rows: int
    labels_distinct: int
    labels_invalid: int
    labels_unmatched: int
    examples_excluded: int
    counts: ScoreCounts
    categories: list[str] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    months: list[tuple[str, Metrics]] | None = None
    first_date: dt.date | None = None
    last_date: dt.date | None = None
    notes: list[str] = field(default_factory=list)
    # the local scorer with liked examples: the same universe scored lexically (no examples)
    examples_used: int = 0
    month_examples: dict[str, int] = field(default_factory=dict)  # examples left out, by month
    without_examples: Metrics | None = None
    months_without_examples: list[tuple[str, Metrics]] | None = None
    # 95 % bootstrap interval over days of the gain, pooled ("all") and by month
    gain_intervals: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    learned_weight: float | None = None  # the weight the model earned (0: lexical alone)
    learned_why: str = ""

    @property
    def _plain_months(self) -> dict[str, Metrics]:
        """Month -> the metrics of its papers without the liked examples (empty: no such run)."""
        return dict(self.months_without_examples or [])

    @property
    def exit_code(self) -> int:
        """1 when some judgements failed or were left unscored (DESIGN.md), else 0."""
        return 1 if self.counts.failed or self.counts.unscored else 0

    def as_dict(self) -> dict[str, Any]:
        """The ``eval --json`` object (DESIGN.md's keys first)."""
        out: dict[str, Any] = {"profile": self.profile, "scorer": self.scorer, "model": self.model}
        out |= self._metric_keys()
        out |= self._cost_keys()
        out |= self._scope_keys()
        if self.without_examples is not None:
            out["examples"] = self._examples_keys(self.without_examples)
        if self.months is not None:
            out["months"] = self._month_rows(self.months)
        return out

    def _metric_keys(self) -> dict[str, Any]:
        """The pooled metrics, with the unmatched labels and the threshold where DESIGN.md has them."""
        m = self.metrics.as_dict()
        return {
            "papers": m["papers"],
            "positives": m["positives"],
            "labels_unmatched": self.labels_unmatched,
            "roc_auc": m["roc_auc"],
            "average_precision": m["average_precision"],
            "threshold": self.threshold,
            "precision": m["precision"],
            "recall": m["recall"],
            "f1": m["f1"],
            "listed": m["listed"],
            "k": m["k"],
            "precision_at_k": m["precision_at_k"],
        }

    def _cost_keys(self) -> dict[str, Any]:
        """What scoring did and cost."""
        c = self.counts
        return {
            "llm_calls": c.calls,
            "cached": c.cached,
            "cost_usd": c.as_dict()["cost_usd"],
            "judged": c.judged,
            "failed": c.failed,
            "unscored": c.unscored,
            "prefiltered": c.prefiltered,
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
        }

    def _scope_keys(self) -> dict[str, Any]:
        """The labels read, the examples excluded, the categories and dates, the notes."""
        return {
            "labels": {
                "rows": self.labels_rows,
                "distinct": self.labels_distinct,
                "invalid": self.labels_invalid,
            },
            "examples_excluded": self.examples_excluded,
            "categories": self.categories,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "notes": list(self.notes),
        }

    def _examples_keys(self, w: Metrics) -> dict[str, Any]:
        """The liked examples' effect: the metrics without them (``w``), the gain, the weight."""
        return {
            "used": self.examples_used,
            "roc_auc_without": _round(w.roc_auc),
            "average_precision_without": _round(w.average_precision),
            "roc_auc_gain": _gain(self.metrics.roc_auc, w.roc_auc),
            "roc_auc_gain_interval": _interval(self.gain_intervals.get("all")),
            "weight": self.learned_weight,
            "weight_reason": self.learned_why,
        }

    def _month_rows(self, months: list[tuple[str, Metrics]]) -> list[dict[str, Any]]:
        """One row per month: its metrics, examples excluded and (with examples) the gain."""
        plain = self._plain_months
        return [
            {"month": month, **row.as_dict()}
            | {"examples_excluded": self.month_examples.get(month, 0)}
            | (
                {
                    "roc_auc_without_examples": _round(plain[month].roc_auc),
                    "roc_auc_gain": _gain(row.roc_auc, plain[month].roc_auc),
                    "roc_auc_gain_interval": _interval(self.gain_intervals.get(month)),
                }
                if month in plain
                else {}
            )
            for month, row in months
        ]

    def render_text(self) -> str:
        """A short human summary (and a month table with ``--by-month``)."""
        m, c = self.metrics, self.counts
        span = f"{_d(self.first_date)} .. {_d(self.last_date)}"
        cats = ",".join(self.categories) if self.categories else "all categories"
        lines = [
            f"eval {self.profile} with the {self.scorer} scorer ({self.model}), {cats}, {span}",
            f"papers {m.papers}, positives {m.positives}; labelled ids not in the universe "
            f"{self.labels_unmatched} of {self.labels_distinct}; examples excluded "
            f"{self.examples_excluded}",
            f"ROC-AUC {_f(m.roc_auc)}   average precision {_f(m.average_precision)}",
            f"at threshold {self.threshold}: listed {m.listed}, precision {_f(m.precision)}, "
            f"recall {_f(m.recall)}, F1 {_f(m.f1)}",
            f"precision@{m.k} {_f(m.precision_at_k)}",
            f"judged {c.judged}, cached {c.cached}, failed {c.failed}, unscored {c.unscored}, "
            f"prefiltered {c.prefiltered}; LLM calls {c.calls}, cost {_usd(c)}",
        ]
        w = self.without_examples
        if w is not None:
            gain = _gain(m.roc_auc, w.roc_auc)
            lines.append(
                f"without the {self.examples_used} liked examples (lexical only, same papers): "
                f"ROC-AUC {_f(w.roc_auc)}, average precision {_f(w.average_precision)}; "
                f"examples add {'-' if gain is None else f'{gain:+.3f}'} ROC-AUC"
                f"{_ci(self.gain_intervals.get('all'))}"
            )
            lines.append(
                f"the learned model's earned weight {self.learned_weight:.1f} ({self.learned_why})"
            )
        if self.months:
            plain = self._plain_months
            lines.append("")
            head = ("month", "papers", "pos", "ROC-AUC", "AP", "listed", "P", "R", "F1", "P@k")
            extra = f" {'no-ex':>7} {'gain [95% over days]':>23}" if plain else ""
            extra += f" {'ex':>4}" if self.month_examples else ""
            lines.append(
                "{:<8} {:>6} {:>5} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}".format(*head) + extra
            )
            for month, r in self.months:
                lines.append(
                    f"{month:<8} {r.papers:>6} {r.positives:>5} {_f(r.roc_auc):>7} "
                    f"{_f(r.average_precision):>6} {r.listed:>6} {_f(r.precision):>6} "
                    f"{_f(r.recall):>6} {_f(r.f1):>6} {_f(r.precision_at_k):>6}"
                    + (
                        f" {_f(plain[month].roc_auc):>7} {_gain_cell(r, plain[month], self.gain_intervals.get(month)):>23}"
                        if month in plain
                        else ""
                    )
                    + (f" {self.month_examples.get(month, 0):>4}" if self.month_examples else "")
                )
            if plain:
                lines.append(
                    "no-ex: ROC-AUC of the same papers without the liked examples; gain: the"
                    " difference, with its 95 % bootstrap interval over days"
                )
            if self.month_examples:
                lines.append("ex: liked examples of the month, left out of the universe")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


def _month(day: dt.date) -> str:
    """The ``--by-month`` key of a date."""
    return day.strftime("%Y-%m")


def _by_month(dates: dict[str, dt.date]) -> dict[str, int]:
    return dict(Counter(_month(d) for d in dates.values()))


def _gain(with_: float | None, without: float | None) -> float | None:
    """The difference of the two figures as printed (each rounded to 4 places)."""
    if with_ is None or without is None:
        return None
    return round(round(with_, 4) - round(without, 4), 4)


def _interval(value: tuple[float, float] | None) -> list[float] | None:
    return None if value is None else [round(value[0], 4), round(value[1], 4)]


def _ci(value: tuple[float, float] | None) -> str:
    return "" if value is None else f" [{value[0]:+.3f}, {value[1]:+.3f}]"


def _gain_cell(with_: Metrics, without: Metrics, ci: tuple[float, float] | None) -> str:
    gain = _gain(with_.roc_auc, without.roc_auc)
    return ("-" if gain is None else f"{gain:+.3f}") + _ci(ci)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _d(value: dt.date | None) -> str:
    return value.isoformat() if value else "-"


def _usd(c: ScoreCounts) -> str:
    cost = c.as_dict()["cost_usd"]
    return "unknown" if cost is None else f"${cost:.4f}"


# --------------------------------------------------------------------------- the run


@dataclass
class Universe:
    """The papers to judge: id -> first announcement date in scope, and the entries to store."""

    dates: dict[str, dt.date]
    entries: list[Entry]
    example_entries: list[Entry]
    excluded: dict[str, dt.date]  # liked examples in scope -> first date: not scored

    @property
    def examples_excluded(self) -> int:
        return len(self.excluded)


def build_universe(
    entries: Iterable[Entry],
    *,
    categories: Sequence[str] | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    examples: set[str],
) -> Universe:
    """Papers carrying one of ``categories`` (None = any), announced in [from, to], not examples."""
    wanted = set(categories) if categories is not None else None
    dates: dict[str, dt.date] = {}
    in_scope: list[Entry] = []
    example_entries: list[Entry] = []
    excluded: dict[str, dt.date] = {}
    for e in entries:
        if e.arxiv_id in examples:
            example_entries.append(e)
        d = e.announce_date
        if d is None or (date_from and d < date_from) or (date_to and d > date_to):
            continue
        if wanted is not None and not wanted & set(e.categories):
            continue
        if e.arxiv_id in examples:
            excluded[e.arxiv_id] = min(d, excluded.get(e.arxiv_id, d))
            continue
        in_scope.append(e)
        if e.arxiv_id not in dates or d < dates[e.arxiv_id]:
            dates[e.arxiv_id] = d
    return Universe(dates, in_scope, example_entries, excluded)


def run_eval(
    app: App,
    *,
    labels: Path,
    source: Path,
    profile: Profile,
    scorer: str | None = None,
    categories: list[str] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    by_month: bool = False,
) -> EvalReport:
    """Judge the papers of ``source`` for ``profile`` and compare with ``labels``.

    ``app`` is a :class:`arxivfilter.app.App`; ``scorer`` is auto/llm/local (None: the
    config's). Papers are stored in the app's database and judged through its cache.
    Raises UsageError (exit 2) for a bad labels file, source or date range.
    """
    dates.check_range(date_from, date_to)
    kind = _scorer_kind(app, scorer)
    gold = read_labels(labels)
    examples = example_ids(profile)
    uni = _universe(app, source, categories, date_from, date_to, examples)
    scorer_obj, counts, relevance = _judge(app, kind, profile, uni)
    ids = sorted(uni.dates)
    pooled, months = _metrics(ids, uni.dates, relevance, gold.ids, profile.threshold, by_month)
    plain, plain_months, used, plain_rel, model = _without_examples(
        app, scorer_obj, profile, ids, uni.dates, gold.ids, by_month
    )
    intervals = _intervals(model, ids, uni.dates, relevance, plain_rel, gold.ids, months)
    return EvalReport(
        profile=profile.name,
        scorer=kind,
        model=scorer_obj.model,
        threshold=profile.threshold,
        metrics=pooled,
        labels_rows=gold.rows,
        labels_distinct=len(gold.ids),
        labels_invalid=gold.invalid,
        labels_unmatched=len(gold.ids - set(ids) - examples),
        examples_excluded=uni.examples_excluded,
        counts=counts,
        categories=list(categories) if categories is not None else None,
        date_from=date_from,
        date_to=date_to,
        months=months,
        first_date=min(uni.dates.values()),
        last_date=max(uni.dates.values()),
        notes=_notes(gold, counts),
        examples_used=used,
        month_examples=_by_month(uni.excluded) if by_month else {},
        without_examples=plain,
        months_without_examples=plain_months,
        gain_intervals=intervals,
        learned_weight=model.weight if model is not None else None,
        learned_why=model.why if model is not None else "",
    )


def _scorer_kind(app: App, scorer: str | None) -> str:
    """local or llm (exit 2 now for an LLM with no model, or a cost limit with no price)."""
    kind = app.settings.resolve_scorer(scorer)
    if kind == "llm":
        from arxivfilter.score.prices import require_price

        require_price(app.settings, app.settings.llm.max_cost)
    return kind


def _intervals(
    model: Any,
    ids: Sequence[str],
    dates: dict[str, dt.date],
    with_: dict[str, tuple[str, int | None]],
    without: dict[str, tuple[str, int | None]],
    positives: frozenset[str],
    months: list[tuple[str, Metrics]] | None,
) -> dict[str, tuple[float, float] | None]:
    """The gain's bootstrap interval, pooled ("all") and for each month (none without a
    trained ``model``: nothing to compare)."""
    if model is None:
        return {}
    intervals = {"all": gain_interval(ids, dates, with_, without, positives)}
    for month, _ in months or []:
        sub = [i for i in ids if _month(dates[i]) == month]
        intervals[month] = gain_interval(sub, dates, with_, without, positives)
    return intervals


def _universe(
    app: App,
    source: Path,
    categories: list[str] | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    examples: set[str],
) -> Universe:
    """The replayed source's universe, stored (with the examples and the history the
    learned model takes its negatives from)."""
    result = fetch_replay(source)
    uni = build_universe(
        result.entries,
        categories=categories,
        date_from=date_from,
        date_to=date_to,
        examples=examples,
    )
    if not uni.dates:
        raise SourceError(
            f"no paper of {source} is in the universe (categories "
            f"{','.join(categories) if categories else 'all'}, dates {_d(date_from)} .. "
            f"{_d(date_to)})"
        )
    _store(app, uni, categories)
    _store_history(app, result.entries, categories, date_to, examples)
    return uni


def _judge(
    app: App, kind: str, profile: Profile, uni: Universe
) -> tuple[Any, ScoreCounts, dict[str, tuple[str, int | None]]]:
    """Every paper of the universe judged through the score stage, one announcement day at
    a time as a nightly run does, recorded as an ``eval`` run: (scorer, counts, id ->
    (status, relevance) of the judgement each ended with)."""
    by_day: dict[dt.date, list[str]] = {}
    for arxiv_id, d in uni.dates.items():
        by_day.setdefault(d, []).append(arxiv_id)
    scorer = app.scorer(kind)
    counts = ScoreCounts()
    with recorded(
        app, "eval", date_from=min(by_day), date_to=max(by_day), profiles=[profile.name]
    ) as record:
        record.so_far = lambda: (counts.as_dict(), counts.cost_usd or None, ())
        with app.session() as session:
            work = [DayWork(profile, d, _papers(session, by_day[d])) for d in sorted(by_day)]
        score_days(app, kind, work, run_id=record.id, scorer=scorer, label="eval", into=counts)
        with app.session() as session:
            papers = [p for w in work for p in (w.papers or [])]
            relevance = outcomes(session, scorer, profile, papers, app.settings)
    record.finish(0, counts=counts.as_dict(), cost_usd=counts.cost_usd or None)
    return scorer, counts, relevance


def _notes(gold: Labels, counts: ScoreCounts) -> list[str]:
    notes = []
    if gold.invalid:
        notes.append(f"{gold.invalid} label rows without an arXiv id were skipped")
    if counts.failed or counts.unscored:
        notes.append(
            f"{counts.failed} failed and {counts.unscored} unscored judgements count as not "
            "relevant and rank below every judged paper"
        )
    return notes


def _without_examples(
    app: App,
    scorer: Any,
    profile: Profile,
    ids: Sequence[str],
    dates: dict[str, dt.date],
    positives: frozenset[str],
    by_month: bool,
) -> tuple[
    Metrics | None,
    list[tuple[str, Metrics]] | None,
    int,
    dict[str, tuple[str, int | None]],
    Any,
]:
    """What the liked examples add: the same papers scored lexically (local scorer only).

    Not cached (the lexical score takes well under a millisecond a paper); (None, None, 0,
    {}, None) when the scorer is not the local one or learned nothing. The trained model is
    compared whatever weight it earned (with weight 0 the two rows are the same).
    """
    trained = getattr(scorer, "trained_model", None)
    model = trained(profile) if trained is not None else None
    if model is None:
        return None, None, 0, {}, None
    with app.session() as session:
        texts = _papers(session, ids)
    results = local.score_many(profile, texts)
    relevance = {t.arxiv_id: ("ok", r.relevance) for t, r in zip(texts, results, strict=True)}
    pooled, months = _metrics(ids, dates, relevance, positives, profile.threshold, by_month)
    return pooled, months, model.n_examples, relevance, model


def gain_interval(
    ids: Sequence[str],
    dates: dict[str, dt.date],
    with_: dict[str, tuple[str, int | None]],
    without: dict[str, tuple[str, int | None]],
    positives: frozenset[str],
    rounds: int = BOOTSTRAP_ROUNDS,
) -> tuple[float, float] | None:
    """95 % interval of ROC-AUC(with) - ROC-AUC(without), resampling whole days (seed 0).

    Days, not papers: labels cluster by day, so resampling papers would understate the
    spread. Draws with one class only are left out; None when fewer than 20 draws remain.
    """
    by_day: dict[dt.date, list[str]] = {}
    for i in ids:
        by_day.setdefault(dates[i], []).append(i)
    keys = sorted(by_day)
    if not keys:
        return None

    def score(rel: dict[str, tuple[str, int | None]], i: str) -> float:
        status, value = rel.get(i, ("missing", None))
        return float(value) if status == "ok" and value is not None else FAILED_SCORE

    cached = {i: (score(with_, i), score(without, i), i in positives) for i in ids}
    rng = random.Random(0)
    diffs: list[float] = []
    for _ in range(rounds):
        drawn = [cached[i] for day in rng.choices(keys, k=len(keys)) for i in by_day[day]]
        labels = [y for _, _, y in drawn]
        a = roc_auc([w for w, _, _ in drawn], labels)
        b = roc_auc([w for _, w, _ in drawn], labels)
        if a is not None and b is not None:
            diffs.append(a - b)
    if len(diffs) < 20:
        return None
    diffs.sort()
    return diffs[int(0.025 * len(diffs))], diffs[max(0, int(0.975 * len(diffs)) - 1)]


def _store(app: App, uni: Universe, categories: Sequence[str] | None) -> None:
    """The universe's papers, and the examples' (for a scorer that learns from them)."""
    wanted = set(categories) if categories is not None else None
    inside: list[Entry] = []
    outside: list[Entry] = []  # examples of other categories: stored with their own
    for e in uni.example_entries:
        (outside if wanted is not None and not wanted & set(e.categories) else inside).append(e)
    with app.session() as session:
        store.store_entries(session, [*uni.entries, *inside], categories=categories)
        if outside:
            store.store_entries(session, outside, categories=None)


def _store_history(
    app: App,
    entries: Sequence[Entry],
    categories: Sequence[str] | None,
    date_to: dt.date | None,
    examples: set[str],
) -> None:
    """The source's other papers of the categories up to ``--to``: the reader's database as
    it stood on the evaluated days, where the learned model takes its negatives (the
    period its liked papers cover; ``score/learned.py``). Not scored, not in the universe."""
    if not examples:
        return
    wanted = set(categories) if categories is not None else None
    rest = [
        e
        for e in entries
        if e.announce_date is not None
        and (date_to is None or e.announce_date <= date_to)
        and (wanted is None or wanted & set(e.categories))
    ]
    with app.session() as session:
        store.store_entries(session, rest, categories=categories)


def _papers(session: Any, ids: Sequence[str]) -> list[Paper]:
    found = store.papers_by_id(session, ids)
    return [found[k] for k in sorted(found)]


def _metrics(
    ids: Sequence[str],
    dates: dict[str, dt.date],
    relevance: dict[str, tuple[str, int | None]],
    positives: frozenset[str],
    threshold: int,
    by_month: bool,
) -> tuple[Metrics, list[tuple[str, Metrics]] | None]:
    def one(subset: Sequence[str]) -> Metrics:
        scores: list[float] = []
        listed: list[bool] = []
        failed = 0
        for i in subset:
            status, rel = relevance.get(i, ("missing", None))
            ok = status == "ok" and rel is not None
            failed += not ok
            scores.append(float(rel) if ok and rel is not None else FAILED_SCORE)
            listed.append(ok and rel is not None and rel >= threshold)
        return compute_metrics(scores, [i in positives for i in subset], listed, failed)

    pooled = one(ids)
    if not by_month:
        return pooled, None
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(_month(dates[i]), []).append(i)
    return pooled, [(month, one(groups[month])) for month in sorted(groups)]
