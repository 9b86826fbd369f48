"""The learned half of the local scorer: a linear model of what the reader liked, whose
weight in the blend is earned on the reader's own papers.

arxiv-sanity-lite's trick, made so that examples never hurt. A profile's liked papers are its
``examples``, the ids of its ``examples_file`` and its ``like`` feedback
(``config/profiles/NAME.feedback.tsv``, ``arxivfilter/feedback.py``); its disliked papers are
the ``dislike`` feedback. A logistic regression over TF-IDF tells the liked papers apart from

  * the disliked ones (strong negatives: each weighs ``dislike_weight`` ordinary negatives),
  * the reader's own other papers: the database's papers announced in the liked papers'
    primary categories during the period the feedback covers (the first to the last judged
    paper's date, at least ``min_days`` long), at most ``max_negatives`` of them (an even,
    id-ordered sample). Nothing shipped, nothing from another field.

The weight ``w`` of the model in the blend is decided from the same papers by time-ordered
cross-validation (:func:`earn_weight`): the papers are cut into ``folds`` consecutive periods
(by date), a model trained on the other periods scores each one, its decision ``f`` is put on
the lexical logit's scale (``g = scale * f + shift``, matching the out-of-fold mean and
spread), and ``w`` is the share of ``g`` in ``(1 - w) * lexical + w * g`` that maximises the
mean held-out ROC-AUC over the grid 0, 0.1, .. 1 (the smallest within ``tie`` of the best).
``w`` stays 0 -- the lexical score alone -- when the liked papers are fewer than
``min_liked``, fewer than two periods hold ``min_fold_liked`` of them, the model alone
ranks held-out papers no better than chance (ROC-AUC within ``signal_se`` standard errors
of 0.5), the mean gain minus its standard error over periods is below ``min_gain``, or
some period loses more than ``max_fold_loss``. With ``w = 0`` the scorer uses no model at all (the
lexical score and cache key, unchanged).

What keeps a judgement a function of its inputs (DESIGN.md)
  * The model depends on the reader's feedback and on stored papers of the period that
    feedback covers, never on the day being scored (a day after the last judged paper is
    outside the period): a new day leaves the model, and its cache key, as they are.
  * The examples' text comes from the database (or the ``--source`` that ``eval`` stored),
    never from the network: :func:`training_set`.
  * Training is deterministic (sorted inputs, L-BFGS, no randomness); weights, scale, shift
    and ``w`` are rounded; their hash (:attr:`LearnedModel.sha`) goes into the local
    scorer's prompt hash, hence into the cache key: new feedback re-scores.
  * scikit-learn is imported only here, inside :func:`train`.

Model
  * Features: the lexical scorer's stems and adjacent-stem bigrams, title counted
    ``title_weight`` times; sublinear tf (1 + log tf) times the shipped IDF table; L2 norm.
  * Vocabulary: features in at least ``min_df`` training papers.
  * The liked papers together weigh as much as the negatives. L2-regularised logistic
    regression (L-BFGS), ``C = c``.

Settings tuned on June-July 2025 only (``bench/local_auc.py``); reported on August and
September (README "Accuracy").
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import heapq
import io
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine
from sqlmodel import Session

from arxivfilter import feedback, store
from arxivfilter.config import Profile
from arxivfilter.errors import ConfigError
from arxivfilter.models import PaperText
from arxivfilter.score.lexical import (
    idf_table,
    lexical_logit,
    paper_doc,
    profile_queries,
    raw_of,
    token_features,
    tokens,
)
from arxivfilter.text import parse_arxiv_id

log = structlog.get_logger(__name__)

ID_COLUMN = "arxiv_id"


@dataclass(frozen=True)
class LearnParams:
    """Everything that shapes a trained model besides its papers (hashed into the key)."""

    c: float = 0.3
    title_weight: float = 2.0
    min_df: int = 2
    tol: float = 1e-6
    max_iter: int = 5000
    decimals: int = 4
    dislike_weight: float = 5.0  # a disliked paper weighs this many ordinary negatives
    max_negatives: int = 1000
    min_days: int = 28  # the negatives' period: at least this long, ending at the last verdict
    # the earned weight: time-ordered cross-validation
    folds: int = 4
    min_liked: int = 10
    min_fold_liked: int = 3
    min_negatives: int = 50
    min_gain: float = 0.01
    max_fold_loss: float = 0.02
    tie: float = 0.002  # gains this close to the best count as equal (the smaller weight wins)
    signal_se: float = 2.0  # the model alone: held-out ROC-AUC this many standard errors > 0.5
    grid: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


LEARN = LearnParams()


# --------------------------------------------------------------------------- example ids


def _examples_path(profile: Profile) -> Path:
    """``examples_file`` beside the profile file, else as given (from the working directory)."""
    assert profile.examples_file is not None
    given = Path(profile.examples_file)
    if profile.path is not None and not given.is_absolute():
        beside = profile.path.parent / given
        if beside.is_file() or not given.is_file():
            return beside
    return given


def _normalise_id(raw: str, where: str) -> str:
    try:
        return parse_arxiv_id(raw)[0]
    except ValueError:
        raise ConfigError(f"{where}: {raw.strip()!r} is not an arXiv id") from None


def read_examples_file(path: Path) -> list[str]:
    """The ids of a TSV or CSV file's ``arxiv_id`` column, normalised, in file order."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: examples_file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the examples file: {exc}") from None
    header = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in header else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = [f.strip() for f in reader.fieldnames or []]
    if ID_COLUMN not in fields:
        raise ConfigError(f"{path}: no {ID_COLUMN!r} column (found {', '.join(fields) or 'none'})")
    reader.fieldnames = fields
    out: list[str] = []
    for line, row in enumerate(reader, start=2):
        raw = (row.get(ID_COLUMN) or "").strip()
        if raw:
            out.append(_normalise_id(raw, f"{path}: line {line}"))
    return out


def profile_example_ids(profile: Profile) -> set[str]:
    """The profile's liked papers: ``examples`` plus the ids of ``examples_file``.

    Ids are normalised (``arXiv:`` prefix and ``vN`` suffix dropped). An invalid id or a
    missing or column-less file is a ConfigError (exit 2).
    """
    where = f"{profile.path or profile.name}: examples"
    ids = {_normalise_id(raw, where) for raw in profile.examples}
    if profile.examples_file:
        ids.update(read_examples_file(_examples_path(profile)))
    return ids | feedback.likes(profile)


def profile_disliked_ids(profile: Profile) -> set[str]:
    """The profile's disliked papers (its ``dislike`` feedback), minus any liked one."""
    return feedback.dislikes(profile) - profile_example_ids(profile)


def judged_ids(profile: Profile) -> set[str]:
    """Every paper the reader gave a verdict on (liked examples and feedback)."""
    return profile_example_ids(profile) | feedback.dislikes(profile)


def has_examples(profile: Profile) -> bool:
    """Whether the profile names liked papers or has feedback at all."""
    return bool(profile.examples or profile.examples_file or feedback.read_feedback(profile))


# --------------------------------------------------------------------------- the reader's papers


def _primary(paper: PaperText) -> list[str]:
    """The paper's primary category (else its first listed one), as a list of at most one."""
    if paper.primary_category and paper.primary_category in paper.categories:
        return [paper.primary_category]
    return list(paper.categories[:1])


@dataclass(frozen=True)
class TrainingSet:
    """What a model learns from: liked, disliked and the reader's other papers, with dates.

    ``dates``: id -> announcement date (first), for the time-ordered folds; a paper without
    one counts as of the last date.
    """

    liked: Sequence[PaperText]
    disliked: Sequence[PaperText] = ()
    unlabelled: Sequence[PaperText] = ()
    dates: Mapping[str, dt.date] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.liked)


def _load(session: Session, ids: Sequence[str]) -> dict[str, PaperText]:
    return dict(store.papers_by_id(session, ids))


def _dates(session: Session, ids: Sequence[str]) -> dict[str, dt.date]:
    """First announcement date of each id (else its first version's publication date)."""
    return store.first_dates(session, ids)


def example_texts(session: Session, profile: Profile) -> list[PaperText]:
    """The stored text of the profile's liked papers, sorted by id.

    Ids not in the database are skipped with one warning naming how many.
    """
    ids = sorted(profile_example_ids(profile))
    if not ids:
        return []
    found = _load(session, ids)
    missing = len(ids) - len(found)
    if missing and found:  # none found: the scorer says so once (scoring lexically)
        log.warning(
            "some liked examples are not in the database: training on the others",
            profile=profile.name,
            missing=missing,
            examples=len(ids),
        )
    return [found[k] for k in sorted(found)]


def training_set(
    session: Session, profile: Profile, params: LearnParams | None = None
) -> TrainingSet:
    """The profile's liked and disliked papers and the reader's other papers (see the module
    docstring: same categories, the period the verdicts cover)."""
    p = params or LEARN
    liked = example_texts(session, profile)
    if not liked:
        return TrainingSet(liked=[])
    disliked_ids = sorted(profile_disliked_ids(profile))
    found = _load(session, disliked_ids)
    disliked = [found[k] for k in disliked_ids if k in found]
    judged = [e.arxiv_id for e in liked] + [d.arxiv_id for d in disliked]
    dates = _dates(session, judged)
    cats = sorted({c for e in liked for c in _primary(e)})
    unlabelled: list[PaperText] = []
    if dates and cats:
        last = max(dates.values())
        first = min(min(dates.values()), last - dt.timedelta(days=p.min_days - 1))
        window = store.first_dates_in(session, cats, first, last)
        skip = set(judged) | profile_example_ids(profile) | feedback.dislikes(profile)
        seen = {k: d for k, d in window.items() if k not in skip}
        ids = sorted(seen)
        if len(ids) > p.max_negatives:  # an even sample in id order (deterministic)
            step = len(ids) / p.max_negatives
            ids = [ids[int(i * step)] for i in range(p.max_negatives)]
        texts = _load(session, ids)
        unlabelled = [texts[k] for k in ids if k in texts]
        dates = {**dates, **{k: seen[k] for k in ids}}
    return TrainingSet(liked=liked, disliked=disliked, unlabelled=unlabelled, dates=dates)


def examples_from_db(engine: Engine) -> Callable[[Profile], TrainingSet]:
    """A training source for :class:`~arxivfilter.score.local.LocalScorer` reading ``engine``.

    The profile's feedback file is mirrored into the database first (``feedback.sync``).
    """

    def load(profile: Profile) -> TrainingSet:
        if not has_examples(profile):
            return TrainingSet(liked=[])
        feedback.sync_engine(engine, profile)
        with Session(engine) as session:
            return training_set(session, profile)

    return load


# --------------------------------------------------------------------------- vectors


def vector(
    title: Sequence[str], abstract: Sequence[str], params: LearnParams | None = None
) -> dict[str, float]:
    """The L2-normalised sublinear TF-IDF vector of a paper's title and abstract features."""
    p = params or LEARN
    idf = idf_table()
    counts: dict[str, float] = dict(Counter(abstract))
    for f in title:
        counts[f] = counts.get(f, 0.0) + p.title_weight
    get, default, log_ = idf.weights.get, idf.default, math.log
    weights = {t: (1.0 + log_(c)) * get(t, default) for t, c in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
    return {t: w / norm for t, w in weights.items()}


def text_vector(paper: PaperText, params: LearnParams | None = None) -> dict[str, float]:
    """:func:`vector` of a paper's text."""
    return vector(
        token_features(tokens(paper.title)), token_features(tokens(paper.abstract)), params
    )


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class LearnedModel:
    """A trained linear model, its earned weight in the blend, and its hash.

    ``weight``: the model's share ``w`` of the blend (0: the lexical score alone);
    ``scale``/``shift`` put its decision on the lexical logit's scale.
    """

    weights: Mapping[str, float]
    bias: float
    example_ids: tuple[str, ...]
    params: LearnParams
    sha: str
    train_seconds: float
    weight: float = 0.0
    scale: float = 1.0
    shift: float = 0.0
    n_disliked: int = 0
    n_negatives: int = 0
    gains: tuple[float, ...] = ()  # mean held-out ROC-AUC gain over lexical, per grid weight
    why: str = ""  # why the weight is what it is

    @property
    def n_examples(self) -> int:
        return len(self.example_ids)

    def evaluate(
        self, title: Sequence[str], abstract: Sequence[str], top: int = 3
    ) -> tuple[float, list[str]]:
        """(decision, the ``top`` features that raised it most) from a paper's features.

        The same number as ``bias + weights . vector(title, abstract)`` without building
        the vector: the fast path for scoring.
        """
        counts: dict[str, float] = dict(Counter(abstract))
        for f in title:
            counts[f] = counts.get(f, 0.0) + self.params.title_weight
        idf = idf_table()
        idf_get, default = idf.weights.get, idf.default
        get, log_ = self.weights.get, math.log
        norm2 = dot = 0.0
        pushes: list[tuple[float, str]] = []
        for t, c in counts.items():
            x = (1.0 + log_(c)) * idf_get(t, default)
            norm2 += x * x
            w = get(t)
            if w is not None:
                dot += w * x
                if w > 0:
                    pushes.append((-w * x, t))
        best = heapq.nsmallest(top, pushes) if top else []
        return self.bias + dot / (math.sqrt(norm2) or 1.0), [t for _, t in best]

    def decision(self, vec: Mapping[str, float]) -> float:
        """The log-odds that a paper (its :func:`vector`) is like the examples."""
        get = self.weights.get
        return self.bias + sum(x * get(t, 0.0) for t, x in vec.items())

    def score(self, paper: PaperText) -> float:
        """The decision for a paper's text."""
        f, _ = self.evaluate(
            token_features(tokens(paper.title)), token_features(tokens(paper.abstract)), 0
        )
        return f

    def blend(self, lexical: float, decision: float) -> float:
        """The relevance logit: ``(1 - w) * lexical + w * (scale * decision + shift)``."""
        w = self.weight
        return max(-50.0, min(50.0, (1.0 - w) * lexical + w * (self.scale * decision + self.shift)))


def _hash(model: Mapping[str, object]) -> str:
    payload = dict(model) | {"idf": idf_table().sha}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Mann-Whitney ROC-AUC (ties counted half); None without both classes."""
    pairs = sorted(zip(scores, labels, strict=True))
    n_pos = sum(1 for _, y in pairs if y)
    n_neg = len(pairs) - n_pos
    if not n_pos or not n_neg:
        return None
    rank_sum = 0.0
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        mid = (i + j) / 2 + 1
        rank_sum += mid * sum(1 for k in range(i, j + 1) if pairs[k][1])
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


_MODELS: dict[str, LearnedModel] = {}


@dataclass
class _Data:
    ids: list[str]
    labels: list[int]
    weights: list[float]
    dates: list[dt.date]
    vectors: list[dict[str, float]]
    lexical: list[float]
    params: LearnParams = LEARN
    _matrix: Any = None
    _names: list[str] = field(default_factory=list)

    def matrix(self) -> Any:
        """The papers' vectors as one sparse matrix over the features in ``min_df`` papers."""
        if self._matrix is None:
            from scipy.sparse import csr_matrix

            df = Counter(t for d in self.vectors for t in d)
            kept = sorted(t for t, c in df.items() if c >= self.params.min_df)
            vocab = {t: j for j, t in enumerate(kept)}
            r, c, v = [], [], []
            for i, d in enumerate(self.vectors):
                for t, x in d.items():
                    j = vocab.get(t)
                    if j is not None:
                        r.append(i)
                        c.append(j)
                        v.append(x)
            self._matrix = csr_matrix((v, (r, c)), shape=(len(self.vectors), len(vocab)))
            self._names = kept
        return self._matrix


def _fit(data: _Data, rows: Sequence[int], p: LearnParams) -> Any:
    """Logistic regression on ``rows`` of ``data`` (the liked weigh as much as the rest)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    idx = np.asarray(rows)
    labels = np.asarray(data.labels)[idx]
    raw = np.asarray(data.weights)[idx]
    pos, neg = raw[labels == 1].sum(), raw[labels == 0].sum()
    weights = np.where(labels == 1, raw * (neg / pos), raw)
    model = LogisticRegression(C=p.c, solver="lbfgs", tol=p.tol, max_iter=p.max_iter)
    model.fit(data.matrix()[idx], labels, sample_weight=weights / weights.mean())
    return model


def _rounded(data: _Data, model: Any, p: LearnParams) -> tuple[dict[str, float], float]:
    coef = [round(float(w), p.decimals) for w in model.coef_[0]]
    kept = {t: w for t, w in zip(data._names, coef, strict=True) if w != 0.0}
    return kept, round(float(model.intercept_[0]), p.decimals)


def _time_folds(data: _Data, p: LearnParams) -> list[list[int]]:
    """Consecutive periods holding about as many liked papers each (cut between dates)."""
    liked_dates = sorted(d for d, y in zip(data.dates, data.labels, strict=True) if y)
    k = min(p.folds, len(liked_dates) // max(1, p.min_fold_liked))
    if k < 2:
        return []
    cuts = [liked_dates[(len(liked_dates) * j) // k] for j in range(1, k)]
    folds: list[list[int]] = [[] for _ in range(k)]
    for i, day in enumerate(data.dates):
        folds[sum(1 for cut in cuts if day >= cut)].append(i)
    return folds


@dataclass(frozen=True)
class Earned:
    """The outcome of :func:`earn_weight`."""

    weight: float
    scale: float
    shift: float
    gains: tuple[float, ...]
    why: str


def earn_weight(data: _Data, p: LearnParams) -> Earned:
    """The model's share of the blend, from time-ordered cross-validation (module docstring)."""
    n_liked = sum(data.labels)
    n_neg = len(data.labels) - n_liked
    if n_liked < p.min_liked:
        return Earned(0.0, 1.0, 0.0, (), f"{n_liked} liked papers (fewer than {p.min_liked})")
    if n_neg < p.min_negatives:
        return Earned(0.0, 1.0, 0.0, (), f"{n_neg} negatives (fewer than {p.min_negatives})")
    folds = _usable_folds(data, p)
    if len(folds) < 2:
        return Earned(0.0, 1.0, 0.0, (), "too few periods with enough liked papers")
    held = _held_out(data, folds, p)
    scale, shift = _on_lexical_scale(data, held, p)
    per_fold = _fold_gains(data, held, scale, shift, p)
    gains = tuple(round(_mean([f[j] for f in per_fold]), 4) for j in range(len(p.grid)))
    # the learned half alone must rank held-out papers better than chance, clearly
    alone, floor = _alone_against_chance(data, held, p)
    if alone < floor:
        return Earned(
            0.0,
            scale,
            shift,
            gains,
            f"the model alone ranks held-out papers at {alone:.3f} ROC-AUC (chance + "
            f"{p.signal_se:g} standard errors: {floor:.3f}): no signal",
        )
    best, best_gain = _best_weight(gains, per_fold, p)
    if best == 0.0:
        top = max(gains)
        return Earned(
            0.0, scale, shift, gains, f"held-out gain at most {top:+.3f} ROC-AUC: not earned"
        )
    return Earned(
        best,
        scale,
        shift,
        gains,
        f"held-out gain {best_gain:+.3f} ROC-AUC over {len(folds)} periods",
    )


#: each held-out period's rows and the decisions of the model trained without it
_Held = list[tuple[list[int], list[float]]]


def _usable_folds(data: _Data, p: LearnParams) -> list[list[int]]:
    """The time folds holding ``min_fold_liked`` liked papers and at least one other."""
    folds = _time_folds(data, p)
    folds = [f for f in folds if sum(data.labels[i] for i in f) >= p.min_fold_liked]
    return [f for f in folds if len(f) - sum(data.labels[i] for i in f) >= 1]


def _held_out(data: _Data, folds: list[list[int]], p: LearnParams) -> _Held:
    """For each fold, the decisions of a model trained on the other folds."""
    every = set(range(len(data.ids)))
    held: _Held = []
    matrix = data.matrix()
    for test in folds:
        model = _fit(data, sorted(every - set(test)), p)
        held.append((test, [float(x) for x in model.decision_function(matrix[test])]))
    return held


def _on_lexical_scale(data: _Data, held: _Held, p: LearnParams) -> tuple[float, float]:
    """``scale``, ``shift`` giving the out-of-fold decisions the lexical logit's mean and spread."""
    lex = [data.lexical[i] for test, _ in held for i in test]
    dec = [f for _, fs in held for f in fs]
    sd_f = _sd(dec)
    scale = _sd(lex) / sd_f if sd_f > 0 else 0.0
    shift = _mean(lex) - scale * _mean(dec)
    return round(scale, p.decimals), round(shift, p.decimals)


def _fold_gains(
    data: _Data, held: _Held, scale: float, shift: float, p: LearnParams
) -> list[list[float]]:
    """Per fold, the held-out ROC-AUC gain over the lexical score of each weight of the grid."""
    per_fold: list[list[float]] = []
    for test, fs in held:
        labels = [bool(data.labels[i]) for i in test]
        row = []
        for w in p.grid:
            blended = [
                (1 - w) * data.lexical[i] + w * (scale * f + shift)
                for i, f in zip(test, fs, strict=True)
            ]
            row.append(roc_auc(blended, labels) or 0.5)
        per_fold.append([a - row[0] for a in row])
    return per_fold


def _alone_against_chance(data: _Data, held: _Held, p: LearnParams) -> tuple[float, float]:
    """The model's own mean held-out ROC-AUC, and chance plus ``signal_se`` standard errors."""
    alone = _mean([roc_auc(fs, [bool(data.labels[i]) for i in test]) or 0.5 for test, fs in held])
    n_test_pos = sum(data.labels[i] for test, _ in held for i in test)
    n_test_neg = sum(len(test) for test, _ in held) - n_test_pos
    return alone, 0.5 + p.signal_se * _hanley_se(alone, n_test_pos, n_test_neg)


def _best_weight(
    gains: tuple[float, ...], per_fold: list[list[float]], p: LearnParams
) -> tuple[float, float]:
    """The grid weight earned (0.0: none) and its gain: gain minus its standard error at least
    ``min_gain``, no fold losing more than ``max_fold_loss``, the smallest within ``tie``."""
    spread = [_sd([f[j] for f in per_fold]) / math.sqrt(len(per_fold)) for j in range(len(p.grid))]
    allowed = [
        j
        for j in range(len(p.grid))
        if gains[j] - spread[j] >= p.min_gain and min(f[j] for f in per_fold) >= -p.max_fold_loss
    ]
    if not allowed:
        return 0.0, 0.0
    # the smallest weight within ``tie`` of the best gain: lean on the lexical
    top = max(gains[j] for j in allowed)
    j = min(j for j in allowed if gains[j] >= top - p.tie)
    return p.grid[j], gains[j]


def _hanley_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley and McNeil's (1982) standard error of a ROC-AUC."""
    if not n_pos or not n_neg:
        return 1.0
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (
        n_pos * n_neg
    )
    return math.sqrt(max(var, 0.0))


def _mean(xs: Sequence[float]) -> float:
    return math.fsum(xs) / len(xs) if xs else 0.0


def _sd(xs: Sequence[float]) -> float:
    m = _mean(xs)
    return math.sqrt(_mean([(x - m) ** 2 for x in xs])) if xs else 0.0


def train(
    profile: Profile,
    training: TrainingSet | Sequence[PaperText],
    params: LearnParams | None = None,
) -> LearnedModel | None:
    """Train on the reader's papers and earn the blend weight; None without liked papers.

    Deterministic: the same papers (ids, text, categories, dates) and profile give the same
    weights, blend weight and hash. A bare sequence is liked papers only (no negatives:
    weight 0).
    """
    p = params or LEARN
    ts = training if isinstance(training, TrainingSet) else TrainingSet(liked=list(training))
    liked, disliked, others = _training_papers(ts)
    if not liked:
        return None
    memo_key = _memo_key(profile, ts, p, liked, disliked, others)
    if memo_key in _MODELS:
        return _MODELS[memo_key]

    started = time.perf_counter()
    data = _training_data(profile, ts, p, liked, disliked, others)
    if disliked or others:
        from threadpoolctl import threadpool_limits

        # one BLAS thread: these matrices are small, and on a busy machine a thread pool
        # spinning for cores costs several times the work itself
        with threadpool_limits(limits=1):
            weights, bias = _rounded(data, _fit(data, range(len(data.ids)), p), p)
            earned = earn_weight(data, p)
    else:
        weights, bias = {}, 0.0
        earned = Earned(0.0, 1.0, 0.0, (), "no negatives (no papers of the reader's own)")
    payload = {
        "weights": sorted(weights.items()),
        "bias": bias,
        "params": asdict(p),
        "weight": earned.weight,
        "scale": earned.scale,
        "shift": earned.shift,
    }
    result = LearnedModel(
        weights=weights,
        bias=bias,
        example_ids=tuple(e.arxiv_id for e in liked),
        params=p,
        sha=_hash(payload),
        train_seconds=time.perf_counter() - started,
        weight=earned.weight,
        scale=earned.scale,
        shift=earned.shift,
        n_disliked=len(disliked),
        n_negatives=len(disliked) + len(others),
        gains=earned.gains,
        why=earned.why,
    )
    if len(_MODELS) >= 16:
        _MODELS.clear()
    _MODELS[memo_key] = result
    return result


def _training_papers(
    ts: TrainingSet,
) -> tuple[list[PaperText], list[PaperText], list[PaperText]]:
    """Liked (with text), disliked (not liked) and other papers, each by id, once."""
    usable = [e for e in ts.liked if (e.title + e.abstract).strip()]
    liked = sorted({e.arxiv_id: e for e in usable}.values(), key=lambda e: e.arxiv_id)
    liked_ids = {e.arxiv_id for e in liked}
    disliked = sorted(
        {e.arxiv_id: e for e in ts.disliked if e.arxiv_id not in liked_ids}.values(),
        key=lambda e: e.arxiv_id,
    )
    skip = liked_ids | {e.arxiv_id for e in disliked}
    others = sorted(
        {e.arxiv_id: e for e in ts.unlabelled if e.arxiv_id not in skip}.values(),
        key=lambda e: e.arxiv_id,
    )
    return liked, disliked, others


def _memo_key(
    profile: Profile,
    ts: TrainingSet,
    p: LearnParams,
    liked: Sequence[PaperText],
    disliked: Sequence[PaperText],
    others: Sequence[PaperText],
) -> str:
    """Everything a model depends on, hashed (the key of the in-process memo)."""

    def key(e: PaperText) -> list[object]:
        return [e.arxiv_id, e.title, e.abstract, _primary(e), str(ts.dates.get(e.arxiv_id))]

    return hashlib.sha256(
        json.dumps(
            [asdict(p), profile.content_hash, idf_table().sha]
            + [["+", *key(e)] for e in liked]
            + [["-", *key(e)] for e in disliked]
            + [["0", *key(e)] for e in others]
        ).encode()
    ).hexdigest()


def _training_data(
    profile: Profile,
    ts: TrainingSet,
    p: LearnParams,
    liked: Sequence[PaperText],
    disliked: Sequence[PaperText],
    others: Sequence[PaperText],
) -> _Data:
    """The papers' labels, weights, dates, vectors and lexical logits (one tokenisation each)."""
    last = max(ts.dates.values(), default=dt.date.max)
    papers = [*liked, *disliked, *others]
    data = _Data(
        ids=[e.arxiv_id for e in papers],
        labels=[1] * len(liked) + [0] * (len(disliked) + len(others)),
        weights=[1.0] * len(liked) + [p.dislike_weight] * len(disliked) + [1.0] * len(others),
        dates=[ts.dates.get(e.arxiv_id, last) for e in papers],
        vectors=[],
        lexical=[],
        params=p,
    )
    pq = profile_queries(profile)
    for e in papers:  # one tokenisation a paper for both halves
        doc = paper_doc(pq, e)
        data.lexical.append(lexical_logit(raw_of(pq, doc)))
        data.vectors.append(vector(*doc.features, p))
    return data
