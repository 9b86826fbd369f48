"""The offline local scorer: lexical similarity to a profile, plus a model of its liked papers.

No key, no network, no model download. A judgement depends only on the paper's title and
abstract, the profile (with the text of its liked ``examples``, if any) and this module's
version (``VERSION``, which plays the model's part in the cache key; a trained model's weights
hash joins it in ``prompt_hash``): document frequencies come from a table shipped with the
package (``local_idf.json.gz``, built by ``bench/build_local_idf.py`` from CC0 sample
abstracts), never from the other papers of the day.

The lexical score (features, BM25, calibration): ``lexical.py``.

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

Measured: README "Accuracy" and "Learning from the reader"; speed and calibration figures
in ``bench/README.md`` (each with the command that measures it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from itertools import pairwise
from typing import TYPE_CHECKING

import structlog

from arxivfilter.config import Profile
from arxivfilter.models import JudgementResult, PaperText
from arxivfilter.score import lexical
from arxivfilter.score.base import JudgementSink
from arxivfilter.score.lexical import (
    PaperDoc,
    ProfileQueries,
    Text,
    clause_penalty,
    contributions,
    idf_table,
    lexical_logit,
    logit_relevance,
    paper_doc,
    profile_queries,
    raw_of,
    tag_matches,
    tokens,
)
from arxivfilter.score.lexical import features as features  # re-exported: the public API
from arxivfilter.score.lexical import raw_score as raw_score
from arxivfilter.score.lexical import to_relevance as to_relevance

if TYPE_CHECKING:
    from arxivfilter.score.learned import LearnedModel, TrainingSet
    from arxivfilter.score.pool import LocalPool

log = structlog.get_logger(__name__)

VERSION = "local-3"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$\\(\[\"'])")
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|vs|cf|Fig|Eq|Sec|approx|resp|w\.r\.t)\.)$")


def sentences(abstract: str) -> list[str]:
    """The abstract's sentences (abbreviations such as "e.g." do not end one)."""
    out: list[str] = []
    for piece in _SENTENCE_END.split(" ".join(abstract.split())):
        # an abbreviation ends the sentence: look only at its end (a match is at most 7
        # characters; the boundary before it still sees the character ahead of ``pos``)
        if out and _ABBREVIATION.search(out[-1], max(0, len(out[-1]) - 16)):
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


_DIGIT = re.compile(r"\d")  # every _NUMBER match holds one: most sentences skip _NUMBER


# The same tests, faster (what they find is the same; ``tests/score/test_local.py`` checks
# them against the patterns above). A leading ``\b`` keeps the regex engine from skipping
# ahead to where a match can start, so each alternative begins with its first character and
# tests the boundary behind it (``c(?<!\wc)`` is ``\bc``); the case-insensitive ones read
# the lower-cased sentence when it is ASCII (where lower-casing is what IGNORECASE does).
def _first_char_boundary(alternatives: Sequence[str]) -> str:
    return "|".join(f"{re.escape(a[0])}(?<!\\w{re.escape(a[0])}){a[1:]}" for a in alternatives)


_PROPOSE_OPENERS = (
    "we",
    "this (?:paper|work|article|study)",
    "our (?:work|paper|approach|system|method)",
)
_PROPOSE_LOWER = re.compile(
    rf"(?:{_first_char_boundary(_PROPOSE_OPENERS)})\s+"
    r"(?:\w+\s+){0,2}?(?:propose|present|introduce|design|develop|build|implement|describe|"
    r"formulate|derive|contribute|offer|release|devise|leverage|demonstrate|show|study|"
    r"investigate|analy[sz]e|explore|evaluate|characteri[sz]e|prove|tackle|address)"
)
_NAMED_OPENING = re.compile(  # _NAMED's first alternative, at the start of the sentence
    r"(?:to (?:address|tackle|bridge|overcome|solve|fill|close) [^,]+, )?"
    r"(?:we|this paper|this work|in this (?:paper|work),)\b"
)
# a capitalised word with a second capital ("FooServe is"): possessive runs, as the word
# must end before ",? " either way
_NAMED_SYSTEM = re.compile(r"[A-Z](?<!\w[A-Z])[a-z0-9-]*+[A-Z][A-Za-z0-9-]*+,? (?:is|a|an)\b")
_NAMED_WORD = re.compile(rf"(?:{_first_char_boundary(('called', 'named', 'dubbed'))})\b")
_RESULT_WORDS = (
    "achiev", "improv", "reduc", "outperform", "speed", "accelerat", "lower", "increas", "cut",
    "sav", "boost", "up to", "by up", "faster", "higher", "fewer", "less",
)  # fmt: skip
# searched in " " + the sentence: a leading non-word character lets the engine skip to the
# next one (about 15 % of positions), where ``\b`` or a lookbehind tries every position
# (40 -> 26 us an abstract on a real day)
_RESULT_LOWER = re.compile(rf"\W(?:{'|'.join(map(re.escape, _RESULT_WORDS))})")


def _proposes(sentence: str, lower: str | None) -> bool:
    """``_PROPOSE.search(sentence)``"""
    if lower is not None:
        return _PROPOSE_LOWER.search(lower) is not None
    return _PROPOSE.search(sentence) is not None


def _names(sentence: str) -> bool:
    """``_NAMED.search(sentence)``"""
    return bool(
        _NAMED_OPENING.match(sentence)
        or _NAMED_SYSTEM.search(sentence)
        # the substring tests first: most sentences hold none of the words (17 -> 3 us an
        # abstract), and the pattern then checks the boundaries
        or (
            ("called" in sentence or "named" in sentence or "dubbed" in sentence)
            and _NAMED_WORD.search(sentence)
        )
    )


def _results(sentence: str, lower: str | None) -> bool:
    """``_RESULT.search(sentence)``"""
    if lower is not None:
        return _RESULT_LOWER.search(f" {lower}") is not None
    return _RESULT.search(sentence) is not None


def _sentence_score(sentence: str, position: int) -> tuple[float, bool]:
    """(how much the sentence says what the paper does, whether it states a number)."""
    lower = sentence.lower() if sentence.isascii() else None
    score = 0.0
    if _proposes(sentence, lower):
        score += 3.0
    elif _names(sentence):
        score += 1.5
    number = bool(_DIGIT.search(sentence) and _NUMBER.search(sentence))
    if number:
        score += 2.0 if _results(sentence, lower) else 1.0
    elif _results(sentence, lower):
        score += 0.5
    if _BACKGROUND.search(sentence):
        score -= 1.5
    if position == 0 and score <= 0:
        score -= 1.0  # an opening with no cue is scene-setting
    return score, number


def tldr(abstract: str, max_words: int | None = None) -> str | None:
    """What the paper contributes, in at most ``max_words`` words: its contribution
    sentence (what is proposed, built or shown), then its best result sentence (one with
    numbers), in the abstract's order; the opening sentences only when nothing says what
    the paper does. Cut with "…" if a sentence alone is too long."""
    return _tldr(abstract, max_words or lexical.PARAMS.tldr_words)


# papers whose TL;DR is kept: more than a day's papers, so every profile of a day (the work
# goes day by day) finds the one the first wrote (a cache only: it depends on the text alone)
TLDR_CACHE = 4096


@functools.lru_cache(maxsize=TLDR_CACHE)
def _tldr(abstract: str, limit: int) -> str | None:
    parts = sentences(abstract)
    if not parts:
        return None
    judged = [_sentence_score(t, i) for i, t in enumerate(parts)]
    scored = [(sc, i) for i, (sc, _) in enumerate(judged)]
    best = max(scored, key=lambda x: (x[0], -x[1]))
    if best[0] <= 0:
        chosen = [0]
    else:
        chosen = [best[1]]
        results = [(sc, i) for sc, i in scored if i != best[1] and judged[i][1] and sc >= 1.0]
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


def _tags(pq: ProfileQueries, doc: PaperDoc) -> list[str]:
    """The best-matching tags that the paper also gives evidence for: the tag's name as a
    phrase, or a two-word phrase of its meaning, in the title or abstract."""
    p = lexical.PARAMS
    evidence = pq.evidence
    present = pq.evidence_features.intersection(doc.tf)  # the evidence the paper holds
    sims = sorted(
        (-match, name)
        for name, match in zip(pq.tags, tag_matches(pq, doc), strict=True)
        if not evidence.get(name) or not evidence[name].isdisjoint(present)
    )
    if not sims:
        return []
    floor = max(p.tag_floor, p.tag_relative * -sims[0][0])
    return [name for neg, name in sims[: p.max_tags] if -neg >= floor]


def _surface(doc: PaperDoc, term: str) -> str:
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


# (features, as the profile writes it, the features joined, what the paper must hold for it
# to be present, the set of its features), longest first
_Phrase = tuple[tuple[str, ...], str, str, tuple[str, ...], frozenset[str]]
_PHRASES: dict[tuple[tuple[str, ...], tuple[str, ...]], list[_Phrase]] = {}


def _profile_phrases(profile: Profile) -> list[_Phrase]:
    """Each keyword and tag name, longest first, with what :func:`_matched_phrases` asks of
    it (computed once per profile and process)."""
    key = (tuple(profile.keywords), tuple(profile.tags))
    got = _PHRASES.get(key)
    if got is None:
        if len(_PHRASES) >= 64:
            _PHRASES.clear()
        got = _PHRASES[key] = [
            (feats, text, " ".join(feats), _needed(feats), frozenset(feats))
            for feats, text in _phrases(profile)
        ]
    return got


def _needed(feats: tuple[str, ...]) -> tuple[str, ...]:
    """The features a paper holds when it holds the phrase: its one word, its bigram, or
    each bigram of a longer one."""
    if len(feats) == 1:
        return feats
    return tuple(f"{a} {b}" for a, b in pairwise(feats))


def _phrases(profile: Profile) -> list[tuple[tuple[str, ...], str]]:
    out: list[tuple[tuple[str, ...], str]] = []
    for text in (*profile.keywords, *(n.replace("-", " ") for n in profile.tags)):
        feats = tuple(f for f in features(text) if " " not in f)
        if feats:
            out.append((feats, text))
    return sorted(set(out), key=lambda x: (-len(x[0]), x[1]))


# per profile: feature -> the positions (in _profile_phrases order) of the phrases whose
# first needed feature it is
_FIRSTS: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, tuple[int, ...]]] = {}


def _phrase_firsts(profile: Profile) -> dict[str, tuple[int, ...]]:
    key = (tuple(profile.keywords), tuple(profile.tags))
    got = _FIRSTS.get(key)
    if got is None:
        if len(_FIRSTS) >= 64:
            _FIRSTS.clear()
        index: dict[str, list[int]] = {}
        for i, phrase in enumerate(_profile_phrases(profile)):
            index.setdefault(phrase[3][0], []).append(i)
        got = _FIRSTS[key] = {f: tuple(at) for f, at in index.items()}
    return got


def _matched_phrases(profile: Profile, doc: PaperDoc, pq: ProfileQueries) -> list[str]:
    """The profile's own keywords and tag names the paper contains (as whole phrases),
    most weighty first: what a person would say the paper matches."""
    tf = doc.tf
    weight: dict[str, float] | None = None
    found: list[tuple[float, str]] = []
    covered: set[str] = set()
    phrases, firsts = _profile_phrases(profile), _phrase_firsts(profile)
    # only the phrases whose first word or bigram the paper holds (most phrases: not), in
    # their order: the same ones the loop would not skip at once
    at = sorted(i for f in firsts.keys() & tf.keys() for i in firsts[f])
    for feats, text, key, needed, feat_set in (phrases[i] for i in at):
        if not all(f in tf for f in needed) or feat_set <= covered:
            continue
        if weight is None:
            weight = {t: w for w, t in contributions(pq.main, doc)}
        w = sum(weight.get(f, 0.0) for f in feats) + weight.get(key, 0.0)
        found.append((w, text))
        covered |= feat_set
    return [t for _, t in sorted(found, key=lambda x: (-x[0], x[1]))]


def _lexical_terms(pq: ProfileQueries, doc: PaperDoc) -> list[str]:
    """The paper's words that weighed most, phrases preferred to their single words."""
    ranked = sorted(contributions(pq.main, doc), key=lambda x: (-x[0], x[1]))
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


def _whole_words(doc: PaperDoc, terms: list[str], raw: str) -> list[str]:
    """Terms that are whole words of the paper, not pieces of a hyphenated one ("fine" of
    "Fine-Grained")."""
    low = raw.lower()
    return [t for t in terms if not _in_hyphenated(t, low)]


def _in_hyphenated(term: str, low: str) -> bool:
    """Whether ``term`` is a piece of a hyphenated word of ``low`` (the regex only where the
    text holds the term next to a hyphen at all)."""
    if f"-{term}" not in low and f"{term}-" not in low:
        return False
    return re.search(rf"(?:\w-{re.escape(term)}|{re.escape(term)}-\w)", low) is not None


def _reason(profile: Profile, pq: ProfileQueries, doc: PaperDoc, raw_text: str) -> str:
    """ "matches: speculative decoding, KV cache; penalised: training" (a person's words)."""
    shown = _matched_phrases(profile, doc, pq)[:4]
    if len(shown) < 2:
        extra = _whole_words(doc, _lexical_terms(pq, doc), raw_text)
        shown += [t for t in extra if all(t.lower() not in s.lower() for s in shown)][
            : 3 - len(shown)
        ]
    text = "matches: " + ", ".join(shown) if shown else "no match with the profile"
    penalty, words = clause_penalty(pq, doc) if pq.clauses else (0.0, "")
    if penalty * lexical.PARAMS.exclude_clause_weight >= 0.005 and words:
        title = {st for st, _ in doc.tokens[0]}
        hit = [w for st, w in tokens(words) if st in title][:3]
        if hit:
            text += "; penalised: " + " ".join(dict.fromkeys(hit))
    return text


def _learned_reason(
    profile: Profile, pq: ProfileQueries, doc: PaperDoc, n_examples: int, top: list[str], raw: str
) -> str:
    learned = ", ".join(_whole_words(doc, [_surface(doc, t) for t in top], raw)) or "nothing"
    return f"{_reason(profile, pq, doc, raw)}; like {n_examples} liked papers in: {learned}"


def _judge(
    profile: Profile, pq: ProfileQueries, paper: Text, model: LearnedModel | None
) -> JudgementResult:
    doc = paper_doc(pq, paper)
    raw_text = f"{paper.title} {paper.abstract}"
    if model is None:
        relevance = to_relevance(raw_of(pq, doc))
        reason = _reason(profile, pq, doc, raw_text)
    else:
        learned, top = model.evaluate(*doc.features)
        relevance = logit_relevance(model.blend(lexical_logit(raw_of(pq, doc)), learned))
        reason = _learned_reason(profile, pq, doc, model.n_examples, top, raw_text)
    return JudgementResult(
        status="ok",
        relevance=relevance,
        hype=None,
        tags=_tags(pq, doc) if relevance >= lexical.PARAMS.tag_min_relevance else [],
        tldr=tldr(paper.abstract),
        reason=reason,
    )


def judge_text(
    profile: Profile, pq: ProfileQueries, paper: Text, model: LearnedModel | None
) -> JudgementResult:
    """:func:`score` with the profile's queries at hand, and a failed judgement (with the
    error) for a paper the scorer cannot read: one odd paper must not sink the run."""
    try:
        return _judge(profile, pq, paper, model)
    except Exception as exc:
        return JudgementResult(status="failed", error=f"local scorer: {exc!r}"[:500])


def score(profile: Profile, paper: PaperText, model: LearnedModel | None = None) -> JudgementResult:
    """Judge one paper: a pure function of its text, the profile (and the model trained on
    its examples, if any) and the scorer version."""
    return _judge(profile, profile_queries(profile), paper, model)


def score_many(
    profile: Profile, papers: Iterable[PaperText], model: LearnedModel | None = None
) -> list[JudgementResult]:
    """Judge papers one by one (each result is independent of the others)."""
    pq = profile_queries(profile)
    return [_judge(profile, pq, paper, model) for paper in papers]


def logit(profile: Profile, paper: PaperText, model: LearnedModel | None = None) -> float:
    """The finer number behind the relevance (its logit), for ranking and tuning."""
    pq = profile_queries(profile)
    doc = paper_doc(pq, paper)
    if model is None:
        return lexical_logit(raw_of(pq, doc))
    return model.blend(lexical_logit(raw_of(pq, doc)), model.evaluate(*doc.features, top=0)[0])


def prompt_hash(profile: Profile | None = None, model: LearnedModel | None = None) -> str:
    """Hash of the scorer's version, parameters, IDF table and learned model (if any).

    The profile itself is keyed apart (its content hash); a model's hash covers its weights,
    so new or changed examples give a new key and re-score.
    """
    payload: dict[str, object] = {
        "version": VERSION,
        "params": asdict(lexical.PARAMS),
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

    ``workers``: processes that judge a long (profile, day) beside this one (``pool.py``;
    0: one per usable CPU, 1: none), used for a (profile, day) of ``parallel_min`` papers
    (``pool.PARALLEL_MIN``) in work of ``parallel_total`` (``pool.PARALLEL_TOTAL``; told by
    :meth:`expect`, which the score stage calls), and stopped by :meth:`aclose`; the
    judgements are the same either way.
    """

    kind: str = "local"

    def __init__(
        self,
        examples: ExampleSource | None = None,
        *,
        workers: int = 1,
        parallel_min: int | None = None,
        parallel_total: int | None = None,
    ) -> None:
        from arxivfilter.score.pool import PARALLEL_MIN, PARALLEL_TOTAL, pool_size

        self._examples = examples
        self._models: dict[tuple[str, str, str | None], LearnedModel | None] = {}
        self._workers = pool_size(workers)  # 0: judge in this process
        self._parallel_min = PARALLEL_MIN if parallel_min is None else parallel_min
        self._parallel_total = PARALLEL_TOTAL if parallel_total is None else parallel_total
        self._wanted = self._parallel_total == 0  # else when expect() finds the work enough
        self._pool: LocalPool | None = None

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

    def expect(self, total: int, largest: int) -> None:
        """The work to come: ``total`` papers in all, the largest (profile, day) of
        ``largest``. The worker processes are used only for work that pays for starting
        them (``pool.PARALLEL_TOTAL``); their fork server is started now if so, while the
        first day is read."""
        self._wanted = total >= self._parallel_total and largest >= self._parallel_min
        if self.uses_workers:
            try:
                self._worker_pool().warm()
            except (OSError, RuntimeError, ValueError) as exc:
                self._without_workers(
                    "cannot start the local scorer's worker processes: judging in this process",
                    error=f"{type(exc).__name__}: {exc}",
                )

    @property
    def uses_workers(self) -> bool:
        """Whether the worker processes judge this work (so :meth:`then` is used: if not,
        the score stage need not read the next days before their turn)."""
        return bool(self._workers and self._wanted)

    def then(self, upcoming: Sequence[tuple[Profile, Sequence[PaperText]]]) -> None:
        """The (profile, papers) the next calls of :meth:`judge` are likely to ask for (every
        paper, before the cache is asked), in order: the worker processes judge them as soon
        as the current call's papers are sent, while this process stores those and reads on
        (``pool.py``). Called before every (profile, day); empty when nothing is worth
        sending ahead."""
        if self._pool is not None:
            self._pool.then([])  # forget an earlier guess
        wanted = [(p, papers) for p, papers in upcoming if len(papers) >= self._parallel_min]
        if self.uses_workers and wanted:
            self._worker_pool().then([(p, self.learned_model(p), papers) for p, papers in wanted])

    async def judge(
        self, profile: Profile, papers: Sequence[PaperText], sink: JudgementSink
    ) -> None:
        """Judge every paper, handing each result to ``sink.judgement`` at once, in the
        papers' order: in the worker processes when there are enough papers for them
        (``pool.py``), else (or for what is left when they fail) in this process."""
        model = self.learned_model(profile)
        done = 0
        if self.uses_workers and len(papers) >= self._parallel_min:
            from arxivfilter.score.pool import PoolError

            try:
                for paper, result in zip(
                    papers, self._worker_pool().judge(profile, model, papers), strict=True
                ):
                    sink.judgement(paper, result)
                    done += 1
            except PoolError as exc:
                self._without_workers(
                    "the local scorer's worker processes failed: judging in this process",
                    error=str(exc),
                    profile=profile.name,
                )
        pq = profile_queries(profile)
        for paper in papers[done:]:
            sink.judgement(paper, judge_text(profile, pq, paper, model))

    async def aclose(self) -> None:
        """Stop the worker processes, if any were started."""
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def _without_workers(self, why: str, **context: str) -> None:
        """Warn, stop the workers, and judge in this process for the rest of this scorer's
        work."""
        log.warning(why, **context)
        self.close()
        self._workers = 0

    def _worker_pool(self) -> LocalPool:
        if self._pool is None:
            from arxivfilter.score.pool import LocalPool

            self._pool = LocalPool(self._workers, judge_text)
        return self._pool
