"""The offline local scorer: lexical similarity to a profile, plus a model of its liked papers.

No key, no network, no model download. A judgement depends only on the paper's title and
abstract, the profile (with the text of its liked ``examples``, if any) and this module's
version (``VERSION``, which plays the model's part in the cache key; a trained model's weights
hash joins it in ``prompt_hash``): document frequencies come from a table shipped with the
package (``local_idf.json.gz``, built by ``bench/build_local_idf.py`` from CC0 sample
abstracts), never from the other papers of the day.

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
  0.0598``, ``CAL_SCALE = 0.018`` and ``top_slope = 0.5`` (since ``local-3``: before, a
  quarter of a day's listed papers tied at 100; June-July, tuned on: 1.2 % at 100). The
  table below is the uncompressed scale; 70 is unchanged:

  =====  =========  ==============================================================
  raw    relevance  what it looks like
  =====  =========  ==============================================================
  <= 0   <= 4       nothing in common with the profile, or mostly its ``exclude``
  0.04   25         shares general vocabulary ("GPU", "latency", "LLM") only
  0.075  70         clearly on topic: the default threshold
  0.10   90         squarely on topic: title and abstract full of profile phrases
  =====  =========  ==============================================================

  The anchor raw 0.075 -> 70 was set on June-July 2025 of the labelled cs.DC/cs.OS set
  (``bench/local_auc.py``; an LLM filter's list of "systems for large models" papers): at 70
  ``llm-systems`` lists about as many papers as that list holds (103 of 556 against 98), 70%
  of them on it, and the narrower ``llm-inference`` 67, 82% on it; on the mixed real day
  2025-12-16 (cs.DC/cs.OS/cs.LG, 320 papers) they list 3.4% and 1.9%. That is the LLM's 70,
  "clearly on topic". Broad profiles reach it more easily than narrow ones, as with an LLM;
  the anchors assume a profile of the shipped kind (a paragraph, a few dozen keywords, a tag
  vocabulary). ``raw_score`` gives the finer number, for ranking (the prefilter) and tuning.

With liked examples (``examples``, ``examples_file``, ``like``/``dislike`` feedback)
  A profile whose liked papers are found (their text from the database: ``LocalScorer(
  examples=learned.examples_from_db(engine))``) gets a logistic regression trained on them
  against the reader's own other papers and dislikes (``learned.py``), and the model earns
  its share ``w`` of the blend on those papers by time-ordered cross-validation::

      z = (1 - w) * (raw - CAL_MID) / CAL_SCALE + w * (scale * f + shift)

  ``f`` the model's decision, ``scale``/``shift`` putting it on the lexical logit's scale;
  relevance is ``z`` through the calibration above. ``w = 0`` (too little evidence, or the
  model does not beat the lexical score on held-out periods) is the lexical score exactly:
  no model, the same cache key. Without a source of examples (``LocalScorer()``), or when
  none is found (a warning), the profile is scored lexically. ``logit`` gives the finer
  number for either.

Tags: the same match against each tag alone (name twice, meaning once; features shared by
many tags down-weighted), only tags of the profile's vocabulary, at most ``max_tags``, each at
least ``tag_floor`` and ``tag_relative`` of the best; none below relevance
``tag_min_relevance`` (a graph paper's "edge" is not the ``edge`` tag), and only tags the
paper gives evidence for (the tag's name as a phrase, or a two-word phrase of its meaning).
TL;DR: the contribution sentence (what is proposed, built or shown) and the best result
sentence with numbers, at most 50 words; the opening only when no sentence says what the
paper does. Hype is None. Reason: the profile's keywords and tag names the paper holds,
"matches: KV cache, speculative decoding; penalised: training" (with a model: "...; like N
liked papers in: <its top features>"), never a piece of a hyphenated word.

Measured: README "Accuracy" and "Learning from the reader" (``bench/local_auc.py``,
``eval --by-month``). Speed (``bench/local_speed.py``, ``bench/learned_speed.py``): about
0.2-0.3 s per 1,000 papers lexically on a quiet machine; a model adds about half of that.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from itertools import pairwise
from typing import TYPE_CHECKING

import structlog

from arxivfilter.config import Profile
from arxivfilter.models import JudgementResult, PaperText
from arxivfilter.score.base import JudgementSink

if TYPE_CHECKING:
    from arxivfilter.score.learned import LearnedModel, TrainingSet

log = structlog.get_logger(__name__)

VERSION = "local-3"
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
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$\\(\[\"'])")
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|Sec|approx|resp|w\.r\.t)\.)$")

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


_WORD_MEMO: dict[str, str] = {}  # word -> stem ("" for a stop word); a cache only


def tokens(text: str) -> list[tuple[str, str]]:
    """(stem, surface word) pairs of the content words of a text, in order."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out: list[tuple[str, str]] = []
    memo = _WORD_MEMO
    for word in _WORD.findall(_TEX_COMMAND.sub(" ", text).lower()):
        stem = memo.get(word)
        if stem is None:
            skip = len(word) < 2 or word in STOP_WORDS or word.isdigit()
            stem = "" if skip else _stem(word)
            if len(memo) < 500_000:
                memo[word] = stem
        if stem:
            out.append((stem, word))
    return out


def _features(toks: Sequence[tuple[str, str]]) -> list[str]:
    stems = [s for s, _ in toks]
    return stems + [f"{a} {b}" for a, b in pairwise(stems)]


def features(text: str) -> list[str]:
    """Unigram and adjacent-bigram features of a text (a bigram is two stems and a space)."""
    return _features(tokens(text))


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
class _ProfileQueries:
    main: _Query
    exclude: _Query | None
    tags: dict[str, _Query]
    vocabulary: frozenset[str]  # every feature any of the queries weighs
    # each clause of the exclude text ("Model training and pre-training recipes"), without
    # the features the profile's own query weighs ("serving" in "with no serving angle")
    clauses: tuple[tuple[str, _Query], ...] = ()
    evidence: dict[str, frozenset[str]] = field(default_factory=dict)  # tag -> features


_PROFILE_MEMO: dict[tuple[str, Params, str], _ProfileQueries] = {}


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
        feats = [f for f in _features(toks) if not set(f.split(" ")) & main.weights.keys()]
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


def _profile_queries(profile: Profile) -> _ProfileQueries:
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
        got = _ProfileQueries(main, exclude, tags, frozenset(vocabulary), tuple(clauses), evidence)
        if len(_PROFILE_MEMO) > 64:
            _PROFILE_MEMO.clear()
        _PROFILE_MEMO[key] = got
    return got


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class _Doc:
    """A paper as the scorer sees it: counts of the profile's features, BM25 length factor."""

    tf: dict[str, float]  # only features some query of the profile weighs, in text order
    norm: float  # k1 * (1 - b + b * length / average length)
    tokens: tuple[list[tuple[str, str]], list[tuple[str, str]]]
    features: tuple[list[str], list[str]]  # title's, abstract's (for a learned model)


def _doc(pq: _ProfileQueries, paper: PaperText) -> _Doc:
    p = PARAMS
    title, abstract = tokens(paper.title), tokens(paper.abstract)
    title_f, abstract_f = _features(title), _features(abstract)
    tf: dict[str, float] = dict(Counter(abstract_f))
    for f in title_f:
        tf[f] = tf.get(f, 0.0) + p.title_weight
    length = len(title_f) + len(abstract_f)
    norm = p.k1 * (1.0 - p.b + p.b * length / idf_table().avg_len)
    vocabulary = pq.vocabulary
    hits = {t: c for t, c in tf.items() if t in vocabulary}
    return _Doc(hits, norm, (title, abstract), (title_f, abstract_f))


def _contributions(q: _Query, doc: _Doc) -> list[tuple[float, str]]:
    """(share of the query's weight matched, feature) for every shared feature, in text order."""
    k1p, norm, get = PARAMS.k1 + 1.0, doc.norm, q.weights.get
    out = []
    for t, c in doc.tf.items():
        w = get(t)
        if w is not None:
            out.append((w * c * k1p / (c + norm) / q.mass, t))
    return out


def _match(q: _Query, doc: _Doc) -> float:
    """BM25 of the paper for the query, divided by the query's total weight (0 .. k1 + 1)."""
    k1p, norm, get = PARAMS.k1 + 1.0, doc.norm, q.weights.get
    total = 0.0
    for t, c in doc.tf.items():
        w = get(t)
        if w is not None:
            total += w * c * k1p / (c + norm)
    return total / q.mass


def _clause_penalty(pq: _ProfileQueries, doc: _Doc) -> tuple[float, str]:
    """(share, words) of the exclude clause the paper's title matches most: the share of the
    clause's weight its title holds. A title is what a paper is about ("... Training"); a
    word of the abstract ("accuracy") is not."""
    title = set(doc.features[0])
    best, words = 0.0, ""
    for text, q in pq.clauses:
        m = math.fsum(w for t, w in q.weights.items() if t in title) / q.mass
        if m >= 0.4 and m > best:  # most of the clause, not one of its words
            best, words = m, text
    return best, words


def _raw(pq: _ProfileQueries, doc: _Doc) -> float:
    raw = _match(pq.main, doc)
    if pq.exclude is not None:
        raw -= PARAMS.exclude_weight * _match(pq.exclude, doc)
    if pq.clauses and PARAMS.exclude_clause_weight:
        raw -= PARAMS.exclude_clause_weight * _clause_penalty(pq, doc)[0]
    return raw


def raw_score(profile: Profile, paper: PaperText) -> float:
    """The uncalibrated score (finer than the 0-100 relevance; for ranking and tuning)."""
    pq = _profile_queries(profile)
    return _raw(pq, _doc(pq, paper))


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


def sentences(abstract: str) -> list[str]:
    """The abstract's sentences (abbreviations such as "e.g." do not end one)."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(" ".join(abstract.split())):
        if out and _ABBREVIATION.search(out[-1]):
            out[-1] = f"{out[-1]} {piece}"
        elif piece:
            out.append(piece)
    return out


# what a contribution sentence says: what is proposed, built or shown
_PROPOSE = re.compile(
    r"\b(?:we|this (?:paper|work|article|study)|our (?:work|paper|approach|system|method))\s+"
    r"(?:\w+\s+){0,2}?(?:propose|present|introduce|design|develop|build|implement|describe|"
    r"formulate|derive|contribute|offer|release|devise|leverage|demonstrate|show|study|"
    r"investigate|analy[sz]e|explore|evaluate|characteri[sz]e|prove|tackle|address)",
    re.IGNORECASE,
)
_NAMED = re.compile(
    r"^(?:to (?:address|tackle|bridge|overcome|solve|fill|close) [^,]+, )?"
    r"(?:we|this paper|this work|in this (?:paper|work),)\b|"
    r"\b[A-Z][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*,? (?:is|a|an)\b|\bcalled\b|\bnamed\b|\bdubbed\b",
)
_RESULT = re.compile(
    r"\b(?:achiev|improv|reduc|outperform|speed|accelerat|lower|increas|cut|sav|boost|"
    r"up to|by up|faster|higher|lower|fewer|less)\w*",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d(?:[\d.,]*)\s*(?:%|x\b|×|times|percent|ms|s\b|GB|TB)|\b\d+(?:\.\d+)?x\b")
_BACKGROUND = re.compile(
    r"^(?:the |with the |as |in recent|recent|large language models|llms |however|despite|"
    r"while |although |existing |current |traditional |prior |modern |today)",
    re.IGNORECASE,
)


def _sentence_score(sentence: str, position: int) -> float:
    score = 0.0
    if _PROPOSE.search(sentence):
        score += 3.0
    elif _NAMED.search(sentence):
        score += 1.5
    if _NUMBER.search(sentence):
        score += 2.0 if _RESULT.search(sentence) else 1.0
    elif _RESULT.search(sentence):
        score += 0.5
    if _BACKGROUND.search(sentence):
        score -= 1.5
    if position == 0 and score <= 0:
        score -= 1.0  # an opening with no cue is scene-setting
    return score


def tldr(abstract: str, max_words: int | None = None) -> str | None:
    """What the paper contributes, in at most ``max_words`` words: its contribution
    sentence (what is proposed, built or shown), then its best result sentence (one with
    numbers), in the abstract's order; the opening sentences only when nothing says what
    the paper does. Cut with "…" if a sentence alone is too long."""
    limit = max_words or PARAMS.tldr_words
    parts = sentences(abstract)
    if not parts:
        return None
    scored = [(_sentence_score(t, i), i) for i, t in enumerate(parts)]
    best = max(scored, key=lambda x: (x[0], -x[1]))
    if best[0] <= 0:
        chosen = [0]
    else:
        chosen = [best[1]]
        results = [
            (sc, i) for sc, i in scored if i != best[1] and _NUMBER.search(parts[i]) and sc >= 1.0
        ]
        if results:
            extra = max(results, key=lambda x: (x[0], -x[1]))[1]
            if len(parts[best[1]].split()) + len(parts[extra].split()) <= limit:
                chosen.append(extra)
        if len(chosen) == 1 and best[1] + 1 < len(parts):
            nxt = best[1] + 1
            if len(parts[best[1]].split()) + len(parts[nxt].split()) <= limit * 0.7:
                chosen.append(nxt)
    words: list[str] = []
    for i in sorted(chosen):
        words += parts[i].split()
    if len(words) > limit:
        words = words[:limit]
        words[-1] = words[-1].rstrip(",;:") + "…"
    return " ".join(words)


def _tags(pq: _ProfileQueries, doc: _Doc) -> list[str]:
    """The best-matching tags that the paper also gives evidence for: the tag's name as a
    phrase, or a two-word phrase of its meaning, in the title or abstract."""
    p = PARAMS
    sims = sorted(
        (-_match(q, doc), name)
        for name, q in pq.tags.items()
        if not pq.evidence.get(name) or pq.evidence[name] & doc.tf.keys()
    )
    if not sims:
        return []
    floor = max(p.tag_floor, p.tag_relative * -sims[0][0])
    return [name for neg, name in sims[: p.max_tags] if -neg >= floor]


def _surface(doc: _Doc, term: str) -> str:
    """How the paper spells a feature (its first occurrence, title first)."""
    first, _, second = term.partition(" ")
    for toks in doc.tokens:
        for i, (stem, word) in enumerate(toks):
            if stem != first:
                continue
            if not second:
                return word
            if i + 1 < len(toks) and toks[i + 1][0] == second:
                return f"{word} {toks[i + 1][1]}"
    return term


_PHRASES: dict[tuple[tuple[str, ...], tuple[str, ...]], list[tuple[tuple[str, ...], str]]] = {}


def _profile_phrases(profile: Profile) -> list[tuple[tuple[str, ...], str]]:
    """(features, as the profile writes it) for each keyword and tag name, longest first
    (computed once per profile and process)."""
    key = (tuple(profile.keywords), tuple(profile.tags))
    got = _PHRASES.get(key)
    if got is None:
        if len(_PHRASES) >= 64:
            _PHRASES.clear()
        got = _PHRASES[key] = _phrases(profile)
    return got


def _phrases(profile: Profile) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    for text in (*profile.keywords, *(n.replace("-", " ") for n in profile.tags)):
        feats = tuple(f for f in features(text) if " " not in f)
        if feats:
            out.append((feats, text))
    return sorted(set(out), key=lambda x: (-len(x[0]), x[1]))


def _matched_phrases(profile: Profile, doc: _Doc, pq: _ProfileQueries) -> list[str]:
    """The profile's own keywords and tag names the paper contains (as whole phrases),
    most weighty first: what a person would say the paper matches."""
    weight = {t: w for w, t in _contributions(pq.main, doc)}
    found: list[tuple[float, str]] = []
    covered: set[str] = set()
    for feats, text in _profile_phrases(profile):
        key = " ".join(feats)
        present = (key in doc.tf) if len(feats) == 2 else (len(feats) == 1 and feats[0] in doc.tf)
        if len(feats) > 2:
            present = all(f"{a} {b}" in doc.tf for a, b in pairwise(feats))
        if not present or set(feats) <= covered:
            continue
        w = sum(weight.get(f, 0.0) for f in feats) + weight.get(key, 0.0)
        found.append((w, text))
        covered |= set(feats)
    return [t for _, t in sorted(found, key=lambda x: (-x[0], x[1]))]


def _lexical_terms(pq: _ProfileQueries, doc: _Doc) -> list[str]:
    """The paper's words that weighed most, phrases preferred to their single words."""
    ranked = sorted(_contributions(pq.main, doc), key=lambda x: (-x[0], x[1]))
    weight = {t: w for w, t in ranked}
    shown: list[str] = []
    covered: set[str] = set()
    for w, term in ranked:
        if " " not in term:  # show "kv cache" rather than "cache" when the phrase counts too
            phrases = [t for _, t in ranked if " " in t and term in t.split(" ")]
            if phrases and weight[phrases[0]] >= 0.25 * w:
                term = phrases[0]
        parts = set(term.split(" "))
        if parts & covered:
            continue
        shown.append(term)
        covered |= parts
        if len(shown) == 4:
            break
    return [_surface(doc, t) for t in shown]


def _whole_words(doc: _Doc, terms: list[str], raw: str) -> list[str]:
    """Terms that are whole words of the paper, not pieces of a hyphenated one ("fine" of
    "Fine-Grained")."""
    low = raw.lower()
    return [t for t in terms if not re.search(rf"(?:\w-{re.escape(t)}|{re.escape(t)}-\w)", low)]


def _reason(profile: Profile, pq: _ProfileQueries, doc: _Doc, raw_text: str) -> str:
    """ "matches: speculative decoding, KV cache; penalised: training" (a person's words)."""
    shown = _matched_phrases(profile, doc, pq)[:4]
    if len(shown) < 2:
        extra = _whole_words(doc, _lexical_terms(pq, doc), raw_text)
        shown += [t for t in extra if all(t.lower() not in s.lower() for s in shown)][
            : 3 - len(shown)
        ]
    text = "matches: " + ", ".join(shown) if shown else "no match with the profile"
    penalty, words = _clause_penalty(pq, doc) if pq.clauses else (0.0, "")
    if penalty * PARAMS.exclude_clause_weight >= 0.005 and words:
        title = {st for st, _ in doc.tokens[0]}
        hit = [w for st, w in tokens(words) if st in title][:3]
        if hit:
            text += "; penalised: " + " ".join(dict.fromkeys(hit))
    return text


def _learned_reason(
    profile: Profile, pq: _ProfileQueries, doc: _Doc, n_examples: int, top: list[str], raw: str
) -> str:
    learned = ", ".join(_whole_words(doc, [_surface(doc, t) for t in top], raw)) or "nothing"
    return f"{_reason(profile, pq, doc, raw)}; like {n_examples} liked papers in: {learned}"


def _judge(
    profile: Profile, pq: _ProfileQueries, paper: PaperText, model: LearnedModel | None
) -> JudgementResult:
    doc = _doc(pq, paper)
    raw_text = f"{paper.title} {paper.abstract}"
    if model is None:
        relevance = to_relevance(_raw(pq, doc))
        reason = _reason(profile, pq, doc, raw_text)
    else:
        learned, top = model.evaluate(*doc.features)
        relevance = logit_relevance(model.blend(lexical_logit(_raw(pq, doc)), learned))
        reason = _learned_reason(profile, pq, doc, model.n_examples, top, raw_text)
    return JudgementResult(
        status="ok",
        relevance=relevance,
        hype=None,
        tags=_tags(pq, doc) if relevance >= PARAMS.tag_min_relevance else [],
        tldr=tldr(paper.abstract),
        reason=reason,
    )


def score(profile: Profile, paper: PaperText, model: LearnedModel | None = None) -> JudgementResult:
    """Judge one paper: a pure function of its text, the profile (and the model trained on
    its examples, if any) and the scorer version."""
    return _judge(profile, _profile_queries(profile), paper, model)


def score_many(
    profile: Profile, papers: Iterable[PaperText], model: LearnedModel | None = None
) -> list[JudgementResult]:
    """Judge papers one by one (each result is independent of the others)."""
    pq = _profile_queries(profile)
    return [_judge(profile, pq, paper, model) for paper in papers]


def logit(profile: Profile, paper: PaperText, model: LearnedModel | None = None) -> float:
    """The finer number behind the relevance (its logit), for ranking and tuning."""
    pq = _profile_queries(profile)
    doc = _doc(pq, paper)
    if model is None:
        return lexical_logit(_raw(pq, doc))
    return model.blend(lexical_logit(_raw(pq, doc)), model.evaluate(*doc.features, top=0)[0])


def prompt_hash(profile: Profile | None = None, model: LearnedModel | None = None) -> str:
    """Hash of the scorer's version, parameters, IDF table and learned model (if any).

    The profile itself is keyed apart (its content hash); a model's hash covers its weights,
    so new or changed examples give a new key and re-score.
    """
    payload: dict[str, object] = {
        "version": VERSION,
        "params": asdict(PARAMS),
        "idf": idf_table().sha,
    }
    if model is not None:
        payload["learned"] = model.sha
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


# liked papers alone, or a ``learned.TrainingSet``
ExampleSource = (
    Mapping[str, "Sequence[PaperText] | TrainingSet"]
    | Callable[[Profile], "Sequence[PaperText] | TrainingSet"]
)


class LocalScorer:
    """The :class:`~arxivfilter.score.base.Scorer` for offline judgements.

    ``examples`` supplies each profile's training papers: a mapping from profile name to a
    ``learned.TrainingSet`` (or to liked papers alone), or a function of the profile
    (``learned.examples_from_db(engine)``). A profile with examples gets a model trained on
    them (once per scorer); it is used when it earned a weight (``learned.earn_weight``),
    else the profile is scored lexically, as without a source or when none of its examples
    is found (a warning).
    """

    kind: str = "local"

    def __init__(self, examples: ExampleSource | None = None) -> None:
        self._examples = examples
        self._models: dict[tuple[str, str, str | None], LearnedModel | None] = {}

    @property
    def model(self) -> str:
        """The scorer version, which plays the model's part in the cache key."""
        return VERSION

    def trained_model(self, profile: Profile) -> LearnedModel | None:
        """The model trained on the profile's papers (whatever weight it earned), or None."""
        key = (profile.name, profile.content_hash, profile.examples_file)
        if key not in self._models:
            self._models[key] = self._train(profile)
        return self._models[key]

    def learned_model(self, profile: Profile) -> LearnedModel | None:
        """The model the scorer uses: the trained one if it earned a weight, else None."""
        model = self.trained_model(profile)
        return model if model is not None and model.weight > 0 else None

    def _train(self, profile: Profile) -> LearnedModel | None:
        if self._examples is None:
            return None
        if callable(self._examples):
            training = self._examples(profile)
        else:
            training = self._examples.get(profile.name, ())
        if not training:
            if profile.examples or profile.examples_file:
                log.warning(
                    "none of the profile's liked examples is in the database: scoring it "
                    "lexically only (a live run fetches them once by id; a replay needs a "
                    "source that holds them)",
                    profile=profile.name,
                )
            return None
        from arxivfilter.score.learned import train

        model = train(profile, training)
        if model is None:
            log.warning("the liked examples have no text: scoring lexically", profile=profile.name)
        else:
            log.info(
                "trained the local model on the reader's papers",
                profile=profile.name,
                examples=model.n_examples,
                negatives=model.n_negatives,
                disliked=model.n_disliked,
                weight=model.weight,
                why=model.why,
                features=len(model.weights),
                seconds=round(model.train_seconds, 2),
            )
        return model

    def prompt_hash(self, profile: Profile) -> str:
        """Hash of the scorer's parameters, shipped statistics and learned model."""
        return prompt_hash(profile, self.learned_model(profile))

    def score(self, profile: Profile, paper: PaperText) -> JudgementResult:
        """Judge one paper (pure, synchronous)."""
        return score(profile, paper, self.learned_model(profile))

    def score_many(self, profile: Profile, papers: Iterable[PaperText]) -> list[JudgementResult]:
        """Judge many papers (each independently)."""
        return score_many(profile, papers, self.learned_model(profile))

    async def judge(
        self, profile: Profile, papers: Sequence[PaperText], sink: JudgementSink
    ) -> None:
        """Judge every paper, handing each result to ``sink.judgement`` at once."""
        pq = _profile_queries(profile)
        model = self.learned_model(profile)
        for paper in papers:
            try:
                result = _judge(profile, pq, paper, model)
            except Exception as exc:  # one odd paper must not sink the run
                result = JudgementResult(status="failed", error=f"local scorer: {exc!r}"[:500])
            sink.judgement(paper, result)
