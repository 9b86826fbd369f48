"""The lexical score of a paper against a profile: features, document frequencies, BM25,
calibration to the 0-100 relevance. The local scorer (``local.py``) and the model of the
reader's liked papers (``learned.py``) both build on it.

Document frequencies come from a table shipped with the package (``local_idf.json.gz``,
built by ``bench/build_local_idf.py`` from CC0 sample abstracts), never from the other
papers of the day.

How a paper is scored
  * Text -> features: lower-cased words (TeX commands dropped, stop words removed, a light
    suffix stripper) plus adjacent-word bigrams, so "KV cache" or "speculative decoding" count
    as phrases.
  * The profile is a weighted query: its description once, each keyword ``keyword_weight``
    times, each tag's name and meaning ``tag_weight`` times; a feature's weight is its count
    times its IDF. ``exclude`` is a second query.
  * ``match(query) = BM25(paper, query) / total query weight``: BM25 (``k1``, ``b``, the
    title's words counted ``title_weight`` times) summed over the features the paper shares
    with the query, divided by what the query weighs in all (0 .. k1 + 1).
  * ``raw = match(profile) - exclude_weight * match(exclude)
    - exclude_clause_weight * title share of the best exclude clause``: the exclude text
    is split into clauses ("Model training", "pre-training recipes", ...), each without the
    features the profile's own query weighs; a clause counts when the paper's title holds at
    least 40 % of its weight (a "... Training" title for a profile that excludes training).

Calibration: raw -> relevance 0-100
  ``z = (raw - CAL_MID) / CAL_SCALE``, above ``z70 = logit(0.7)`` compressed to ``z70 +
  top_slope * (z - z70)``, then ``relevance = round(100 / (1 + exp(-z)))`` with ``CAL_MID =
  0.0598``, ``CAL_SCALE = 0.018`` and ``top_slope = 0.5`` (since ``local-3``). The table
  below is the uncompressed scale; 70 is unchanged:

  =====  =========  ==============================================================
  raw    relevance  what it looks like
  =====  =========  ==============================================================
  <= 0   <= 4       nothing in common with the profile, or mostly its ``exclude``
  0.04   25         shares general vocabulary ("GPU", "latency", "LLM") only
  0.075  70         clearly on topic: the default threshold
  0.10   90         squarely on topic: title and abstract full of profile phrases
  =====  =========  ==============================================================

  The anchor raw 0.075 -> 70 was set on June-July 2025 of the labelled cs.DC/cs.OS set (an
  LLM filter's list of "systems for large models" papers) so that at 70 ``llm-systems`` lists
  about as many papers as that list holds: the LLM's 70, "clearly on topic" (the figures, and
  the command that measures them: ``bench/README.md``, "The local scorer's calibration").
  Broad profiles reach it more easily than narrow ones, as with an LLM; the anchors assume a
  profile of the shipped kind (a paragraph, a few dozen keywords, a tag vocabulary).
  ``raw_score`` gives the finer number, for ranking (the prefilter) and tuning.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from typing import Protocol

from arxivfilter.config import Profile
from arxivfilter.models import PaperText

IDF_FILE = "local_idf.json.gz"
CAL_MID = 0.0598
CAL_SCALE = 0.018
# Kept in ``Params`` (hence in the lexical prompt hash) only so that lexical judgements keep
# their cache keys: the blend is the model's own earned weight now (``learned.LearnedModel``)
BLEND = (
    (12, 0.54, 2.58, 2.19),
    (25, 0.42, 3.18, 1.63),
    (50, 0.27, 4.52, 1.16),
    (78, 0.18, 5.17, 0.79),
)

_TEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS_TEXT = """
    a about above across after again against all almost along already also although always
    am among an and another any are around as at be because been before being below between
    both but by can cannot could did do does doing done down due during each either else
    enough especially etc even ever every few for from further furthermore given had has
    have having he her here hers him his how however i if in into is it its itself just
    least less let like made mainly make makes many may me might more moreover most mostly
    much must my namely near nearly neither no nor not now of off often on once one only
    onto or other others otherwise our ours out over own per perhaps please quite rather
    really same several she should show shows shown since so some such than that the their
    them then there thereby therefore these they this those though through thus to too
    toward towards under until up upon us use used uses using very via was we well were
    what when where whereas whether which while who whom whose why will with within without
    would yet you your
    paper propose proposed proposes present presents presented approach approaches method
    methods result results demonstrate demonstrates novel new existing based work works
    study studies achieve achieves achieved compared compare significant significantly
    introduce introduces introduced first two three different various respectively
"""
STOP_WORDS = frozenset(_STOP_WORDS_TEXT.split())


# --------------------------------------------------------------------------- text -> features


def _stem(word: str) -> str:
    """A light suffix stripper: plurals, -ing, -ed, a final -e and a doubled consonant."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "os")):
        w = w[:-1]
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            base = w[: -len(suffix)]
            if any(v in base for v in "aeiouy"):
                w = base
                if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
                    w = w[:-1]
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


# word -> its (stem, word) pair, None for a stop word: a cache only, whose pairs every text
# with the word shares (the papers cached by ``_text_doc`` hold no copies of them)
_WORD_MEMO: dict[str, tuple[str, str] | None] = {}
_MISSING = ("", "")


def tokens(text: str) -> list[tuple[str, str]]:
    """(stem, surface word) pairs of the content words of a text, in order."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out: list[tuple[str, str]] = []
    memo, missing = _WORD_MEMO, _MISSING
    for word in _WORD.findall(_TEX_COMMAND.sub(" ", text).lower()):
        pair = memo.get(word, missing)
        if pair is missing:
            skip = len(word) < 2 or word in STOP_WORDS or word.isdigit()
            stem = "" if skip else _stem(word)
            pair = (stem, word) if stem else None
            if len(memo) < 500_000:
                memo[word] = pair
        if pair is not None:
            out.append(pair)
    return out


def token_features(toks: Sequence[tuple[str, str]]) -> list[str]:
    stems = [s for s, _ in toks]
    return stems + [f"{a} {b}" for a, b in pairwise(stems)]


def features(text: str) -> list[str]:
    """Unigram and adjacent-bigram features of a text (a bigram is two stems and a space)."""
    return token_features(tokens(text))


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Params:
    """Everything besides the IDF table that shapes a local judgement (hashed into the key)."""

    k1: float = 1.2
    b: float = 0.75
    title_weight: float = 3.0
    keyword_weight: float = 2.0
    tag_weight: float = 0.5
    exclude_weight: float = 0.5
    tag_name_weight: float = 2.0
    tag_floor: float = 0.2
    tag_relative: float = 0.5
    tag_min_relevance: int = 25
    max_tags: int = 3
    tldr_words: int = 50
    cal_mid: float = CAL_MID
    cal_scale: float = CAL_SCALE
    # above relevance 70 the logit is compressed by this factor, so the top of a day is
    # ordered rather than tied at 100 (70 keeps its raw anchor; see "Calibration")
    top_slope: float = 0.5
    # exclude: the strongest single clause of the exclude text (features the profile's own
    # query does not use), weighed on the raw scale (see "How a paper is scored")
    exclude_clause_weight: float = 0.04
    # unused (the cache key of lexical judgements; see BLEND)
    blend: tuple[tuple[int, float, float, float], ...] = BLEND


PARAMS = Params()


class _Idf:
    """Inverse document frequency from the shipped table; unseen features count as df 1."""

    def __init__(self, n_docs: int, avg_len: float, df: dict[str, int], sha: str) -> None:
        self.n_docs = n_docs
        self.avg_len = avg_len
        self.sha = sha
        self.default = math.log((n_docs + 1) / 2) + 1.0
        self.weights = {t: math.log((n_docs + 1) / (d + 1)) + 1.0 for t, d in df.items()}

    def __call__(self, term: str) -> float:
        return self.weights.get(term, self.default)


_IDF: _Idf | None = None


def idf_table() -> _Idf:
    """The shipped IDF table, loaded once."""
    global _IDF
    if _IDF is None:
        blob = resources.files("arxivfilter.score").joinpath(IDF_FILE).read_bytes()
        data = json.loads(gzip.decompress(blob))
        _IDF = _Idf(
            int(data["n_docs"]),
            float(data["avg_len"]),
            data["df"],
            hashlib.sha256(blob).hexdigest(),
        )
    return _IDF


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class _Query:
    """Feature -> weight (profile count x idf), and the total weight a paper could match."""

    weights: dict[str, float]
    mass: float


def _query(parts: Iterable[tuple[Sequence[str], float]], idf: _Idf) -> _Query:
    counts: dict[str, float] = {}
    for feats, weight in parts:
        for f in feats:
            counts[f] = counts.get(f, 0.0) + weight
    weights = {t: c * idf(t) for t, c in counts.items()}
    return _Query(weights, math.fsum(weights.values()) or 1.0)


@dataclass(frozen=True)
class ProfileQueries:
    main: _Query
    exclude: _Query | None
    tags: dict[str, _Query]
    vocabulary: frozenset[str]  # every feature any of the queries weighs
    # each clause of the exclude text ("Model training and pre-training recipes"), without
    # the features the profile's own query weighs ("serving" in "with no serving angle")
    clauses: tuple[tuple[str, _Query], ...] = ()
    evidence: dict[str, frozenset[str]] = field(default_factory=dict)  # tag -> features

    @functools.cached_property
    def clause_index(self) -> dict[str, tuple[int, ...]]:
        """Feature -> the clauses (their indices) that weigh it."""
        index: dict[str, list[int]] = {}
        for i, (_, q) in enumerate(self.clauses):
            for t in q.weights:
                index.setdefault(t, []).append(i)
        return {t: tuple(ids) for t, ids in index.items()}

    @functools.cached_property
    def tag_index(self) -> dict[str, tuple[tuple[int, float], ...]]:
        """Feature -> (index in ``tags``, weight) of each tag query that weighs it."""
        index: dict[str, list[tuple[int, float]]] = {}
        for i, q in enumerate(self.tags.values()):
            for t, w in q.weights.items():
                index.setdefault(t, []).append((i, w))
        return {t: tuple(hits) for t, hits in index.items()}

    @functools.cached_property
    def evidence_features(self) -> frozenset[str]:
        """Every feature that is evidence for some tag."""
        return frozenset().union(*self.evidence.values())


_PROFILE_MEMO: dict[tuple[str, Params, str], ProfileQueries] = {}


def _tag_queries(profile: Profile, idf: _Idf, p: Params) -> dict[str, _Query]:
    texts = {
        name: [(features(name.replace("-", " ")), p.tag_name_weight), (features(meaning), 1.0)]
        for name, meaning in profile.tags.items()
    }
    # features shared by many tags ("llm", "inference") say little about which tag fits
    spread: Counter[str] = Counter()
    for parts in texts.values():
        spread.update({f for feats, _ in parts for f in feats})
    n = len(texts)
    out: dict[str, _Query] = {}
    for name, parts in texts.items():
        q = _query(parts, idf)
        weights = {t: w * math.log(1.0 + n / spread[t]) for t, w in q.weights.items()}
        out[name] = _Query(weights, math.fsum(weights.values()) or 1.0)
    return out


_CLAUSE_SPLIT = re.compile(r"[,.;:()]|\b(?:and|or|with|that|which|unrelated to)\b")


def _exclude_clauses(text: str, main: _Query, idf: _Idf) -> list[tuple[str, _Query]]:
    """(its words, query) for each clause of the exclude text that keeps a feature the
    profile's own query does not weigh."""
    out: list[tuple[str, _Query]] = []
    for clause in _CLAUSE_SPLIT.split(text or ""):
        toks = tokens(clause)
        feats = [f for f in token_features(toks) if not set(f.split(" ")) & main.weights.keys()]
        if feats:
            words = " ".join(w for st, w in toks if st not in main.weights)
            out.append((words, _query([(feats, 1.0)], idf)))
    return out


def _tag_evidence(profile: Profile) -> dict[str, frozenset[str]]:
    """Per tag, the features whose presence in a paper earns it: the tag's name as a phrase
    and the two-word phrases of its meaning (single common words such as "inference" or
    "cache" are not evidence)."""
    out: dict[str, frozenset[str]] = {}
    for name, meaning in profile.tags.items():
        name_f = features(name.replace("-", " "))
        phrase = " ".join(name_f) if len(name_f) == 2 else (name_f[0] if len(name_f) == 1 else "")
        meaning_f = [f for f in features(meaning) if " " in f]
        found = {f for f in (phrase, *meaning_f) if f}
        out[name] = frozenset(found)
    return out


def profile_queries(profile: Profile) -> ProfileQueries:
    idf = idf_table()
    p = PARAMS
    key = (profile.content_hash, p, idf.sha)
    got = _PROFILE_MEMO.get(key)
    if got is None:
        parts: list[tuple[Sequence[str], float]] = [(features(profile.description), 1.0)]
        parts += [(features(k), p.keyword_weight) for k in profile.keywords]
        parts += [
            (features(f"{n.replace('-', ' ')} {m}"), p.tag_weight) for n, m in profile.tags.items()
        ]
        exclude = _query([(features(profile.exclude), 1.0)], idf) if profile.exclude else None
        main, tags = _query(parts, idf), _tag_queries(profile, idf, p)
        vocabulary = set(main.weights).union(*(q.weights for q in tags.values()))
        if exclude is not None:
            vocabulary |= set(exclude.weights)
        clauses = _exclude_clauses(profile.exclude, main, idf)
        for _, q in clauses:
            vocabulary |= set(q.weights)
        evidence = _tag_evidence(profile)
        for feats in evidence.values():
            vocabulary |= feats
        got = ProfileQueries(main, exclude, tags, frozenset(vocabulary), tuple(clauses), evidence)
        if len(_PROFILE_MEMO) > 64:
            _PROFILE_MEMO.clear()
        _PROFILE_MEMO[key] = got
    return got


# --------------------------------------------------------------------------- scoring


class Text(Protocol):
    """What a judgement reads of a paper: a stored ``Paper`` is one, and so is what the
    local scorer's worker processes are sent (``pool.Text``)."""

    @property
    def title(self) -> str: ...
    @property
    def abstract(self) -> str: ...


@dataclass(frozen=True)
class PaperDoc:
    """A paper as the scorer sees it: counts of the profile's features, BM25 length factor."""

    tf: dict[str, float]  # only features some query of the profile weighs, in text order
    norm: float  # k1 * (1 - b + b * length / average length)
    tokens: tuple[list[tuple[str, str]], list[tuple[str, str]]]
    features: tuple[list[str], list[str]]  # title's, abstract's (for a learned model)


# papers whose profile-independent analysis is kept: more than a day's papers, so every
# profile of a day (``score.days.stored_work`` orders the work day by day) finds the
# analysis the first one made (about 20 KiB each: a day of 2,000 papers in 40 MiB)
TEXT_DOC_CACHE = 2048


@functools.lru_cache(maxsize=TEXT_DOC_CACHE)
def _text_doc(
    title: str, abstract: str, title_weight: float, k1: float, b: float, avg_len: float
) -> tuple[
    dict[str, float],
    float,
    tuple[list[tuple[str, str]], list[tuple[str, str]]],
    tuple[list[str], list[str]],
]:
    """(every feature's count, BM25 length factor, tokens, features) of a paper's text: what
    :func:`paper_doc` does not owe to the profile (a cache only; never mutated)."""
    title_t, abstract_t = tokens(title), tokens(abstract)
    title_f, abstract_f = token_features(title_t), token_features(abstract_t)
    tf: dict[str, float] = dict(Counter(abstract_f))
    for f in title_f:
        tf[f] = tf.get(f, 0.0) + title_weight
    length = len(title_f) + len(abstract_f)
    norm = k1 * (1.0 - b + b * length / avg_len)
    return tf, norm, (title_t, abstract_t), (title_f, abstract_f)


_text_docs = _text_doc  # what paper_doc calls: the cache above, or a smaller one


def share_text_cache(ways: int) -> None:
    """Keep a ``ways``-th of the analysis cache: what a worker process of the local scorer
    needs, which sees that share of every day's papers (``pool.py``). The entries kept and
    the answers are the same; only what one process holds is less."""
    global _text_docs
    _text_docs = functools.lru_cache(maxsize=max(1, TEXT_DOC_CACHE // ways))(_text_doc.__wrapped__)


def paper_doc(pq: ProfileQueries, paper: Text) -> PaperDoc:
    p = PARAMS
    tf, norm, toks, feats = _text_docs(
        paper.title, paper.abstract, p.title_weight, p.k1, p.b, idf_table().avg_len
    )
    shared = list(filter(pq.vocabulary.__contains__, tf))  # in text order
    hits = dict(zip(shared, map(tf.__getitem__, shared), strict=True))
    return PaperDoc(hits, norm, toks, feats)


def contributions(q: _Query, doc: PaperDoc) -> list[tuple[float, str]]:
    """(share of the query's weight matched, feature) for every shared feature, in text order."""
    k1p, norm, get = PARAMS.k1 + 1.0, doc.norm, q.weights.get
    out = []
    for t, c in doc.tf.items():
        w = get(t)
        if w is not None:
            out.append((w * c * k1p / (c + norm) / q.mass, t))
    return out


def query_match(q: _Query, doc: PaperDoc) -> float:
    """BM25 of the paper for the query, divided by the query's total weight (0 .. k1 + 1)."""
    k1p, norm, get = PARAMS.k1 + 1.0, doc.norm, q.weights.get
    total = 0.0
    for t, c in doc.tf.items():
        w = get(t)
        if w is not None:
            total += w * c * k1p / (c + norm)
    return total / q.mass


def tag_matches(pq: ProfileQueries, doc: PaperDoc) -> list[float]:
    """:func:`query_match` of every tag query of the profile (in ``pq.tags`` order), the
    same numbers from one pass over the paper's features (``pq.tag_index``)."""
    index, k1p, norm = pq.tag_index, PARAMS.k1 + 1.0, doc.norm
    totals = [0.0] * len(pq.tags)
    for t, c in doc.tf.items():
        for i, w in index.get(t, ()):
            totals[i] += w * c * k1p / (c + norm)
    return [total / q.mass for total, q in zip(totals, pq.tags.values(), strict=True)]


def clause_penalty(pq: ProfileQueries, doc: PaperDoc) -> tuple[float, str]:
    """(share, words) of the exclude clause the paper's title matches most: the share of the
    clause's weight its title holds. A title is what a paper is about ("... Training"); a
    word of the abstract ("accuracy") is not."""
    title = set(doc.features[0])
    best, words = 0.0, ""
    get = pq.clause_index.get  # only the clauses the title holds a feature of, in order
    for text, q in [pq.clauses[i] for i in sorted({i for t in title for i in get(t, ())})]:
        m = math.fsum(w for t, w in q.weights.items() if t in title) / q.mass
        if m >= 0.4 and m > best:  # most of the clause, not one of its words
            best, words = m, text
    return best, words


def raw_of(pq: ProfileQueries, doc: PaperDoc) -> float:
    raw = query_match(pq.main, doc)
    if pq.exclude is not None:
        raw -= PARAMS.exclude_weight * query_match(pq.exclude, doc)
    if pq.clauses and PARAMS.exclude_clause_weight:
        raw -= PARAMS.exclude_clause_weight * clause_penalty(pq, doc)[0]
    return raw


def raw_score(profile: Profile, paper: PaperText) -> float:
    """The uncalibrated score (finer than the 0-100 relevance; for ranking and tuning)."""
    pq = profile_queries(profile)
    return raw_of(pq, paper_doc(pq, paper))


def lexical_logit(raw: float, params: Params | None = None) -> float:
    """The lexical raw score on the relevance's logit scale (see the module docstring)."""
    p = params or PARAMS
    return max(-50.0, min(50.0, (raw - p.cal_mid) / p.cal_scale))


_Z70 = math.log(0.7 / 0.3)  # the logit of relevance 70


def logit_relevance(z: float, params: Params | None = None) -> int:
    """A logit as the 0-100 relevance (compressed above 70 by ``top_slope``)."""
    z = max(-50.0, min(50.0, z))
    if z > _Z70:
        z = _Z70 + (z - _Z70) * (params or PARAMS).top_slope
    return max(0, min(100, round(100.0 / (1.0 + math.exp(-z)))))


def to_relevance(raw: float, params: Params | None = None) -> int:
    """The calibrated 0-100 relevance of a lexical raw score (see the module docstring)."""
    return logit_relevance(lexical_logit(raw, params), params)
