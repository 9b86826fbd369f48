"""The score stage: which papers need a judgement, and storing what scorers say.

A judgement is keyed by (paper text hash, profile content hash, scorer model, prompt hash):
the cache key. A paper whose key already has an ``ok`` judgement costs nothing; a
``failed`` one is tried again on the next run; ``rescore`` forces a new judgement.
Results are stored one by one as they arrive, so a killed run keeps what it paid for.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import structlog
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Profile
from arxivfilter.models import JudgementResult, LlmCall, Paper, PaperText
from arxivfilter.score.base import Scorer
from arxivfilter.score.prompt import MAX_TAGS, REASON_CHARS, TLDR_CHARS, cut_text
from arxivfilter.text import cache_key, normalise

log = structlog.get_logger(__name__)

PriceFn = Callable[[LlmCall], float | None]
TAG_CHARS = 64
JUDGEMENT_BATCH = 1000  # local judgements stored per transaction
# local judgements written (not yet committed) at a time, so the writing goes on while the
# scorer's worker processes judge the next papers, rather than all at the end of a day
JUDGEMENT_STAGE = 128
ERROR_CHARS = 1000
# NUL (PostgreSQL refuses it) and lone surrogates (UTF-8 cannot encode them), which a
# server's JSON escapes can produce
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _clean(text: str | None) -> str | None:
    """Model or server text made storable: normalised (NFC, one line, no controls)."""
    return None if text is None else normalise(text)


def _capped(text: str | None, limit: int) -> str | None:
    """Reader-facing text bounded in characters, whichever scorer wrote it."""
    cleaned = _clean(text)
    return None if cleaned is None else cut_text(cleaned, limit, " …")


def _storable(text: str | None) -> str | None:
    """Raw text kept verbatim for audit, minus what no database can store."""
    return None if text is None else _UNSTORABLE.sub("", text)


@dataclass
class ScoreCounts:
    papers: int = 0
    judged: int = 0
    cached: int = 0
    failed: int = 0
    unscored: int = 0  # left unscored by --max-cost
    prefiltered: int = 0  # judged by the local prefilter instead of the LLM
    second_pass: int = 0  # papers whose first-pass relevance sent them to the full pass
    pending: int = 0  # papers in a submitted batch, not finished yet (not a failure)
    batches_open: int = 0
    extra_dates: set[dt.date] = field(default_factory=set)  # dates whose judgements arrived
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    cost_unknown: bool = False
    errors: list[str] = field(default_factory=list)

    def merge(self, other: ScoreCounts) -> None:
        for name in (
            "papers",
            "judged",
            "cached",
            "failed",
            "unscored",
            "prefiltered",
            "second_pass",
            "pending",
            "batches_open",
            "calls",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.cost_usd += other.cost_usd
        self.cost_unknown = self.cost_unknown or other.cost_unknown
        self.errors.extend(other.errors)
        self.extra_dates |= other.extra_dates

    def add_calls(self, other: ScoreCounts) -> None:
        """Add what ``other``'s LLM calls used and cost (not its papers)."""
        for name in ("calls", "prompt_tokens", "completion_tokens", "cached_tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.cost_usd += other.cost_usd
        self.cost_unknown = self.cost_unknown or other.cost_unknown

    def as_dict(self) -> dict[str, object]:
        return {
            "papers": self.papers,
            "judged": self.judged,
            "cached": self.cached,
            "failed": self.failed,
            "unscored": self.unscored,
            "prefiltered": self.prefiltered,
            "second_pass": self.second_pass,
            "pending": self.pending,
            "batches_open": self.batches_open,
            "llm_calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "cost_usd": None
            if self.cost_unknown and not self.cost_usd
            else round(self.cost_usd, 6),
        }


class Budget:
    """Money spent by this run, shared by every profile and date it scores."""

    def __init__(self, max_cost: float = 0.0) -> None:
        self.max_cost = max_cost
        self.spent = 0.0

    def may_start(self) -> bool:
        return self.max_cost <= 0 or self.spent < self.max_cost


class StoreSink:
    """A :class:`~arxivfilter.score.base.JudgementSink` writing to the database as results arrive."""

    def __init__(
        self,
        session: Session,
        *,
        profile: Profile,
        scorer: Scorer,
        keys: dict[str, str],
        counts: ScoreCounts,
        budget: Budget,
        price: PriceFn | None = None,
        run_id: int | None = None,
        base_url: str | None = None,
        on_result: Callable[[], None] | None = None,
    ) -> None:
        self.session = session
        self.profile = profile
        self.scorer = scorer
        self.keys = keys
        self.counts = counts
        self.budget = budget
        self.price = price
        self.run_id = run_id
        self.base_url = base_url
        self.on_result = on_result
        self.prompt_hash = scorer.prompt_hash(profile)
        self.done: set[str] = set()
        # the local scorer's judgements go in batches (free to recompute after a kill);
        # an LLM reply's judgement is committed at once, with its call
        self.batched = scorer.kind == "local"
        self.rows: list[dict[str, Any]] = []
        self.staged = 0  # rows written in the open transaction
        # the keys with a stored row, when the caller knows them (score_papers' plan):
        # saving then need not ask the database (None: it asks)
        self.stored: set[str] | None = None

    def judgement(self, paper: PaperText, result: JudgementResult) -> None:
        key = self.keys[paper.arxiv_id]
        row: dict[str, Any] = {
            "cache_key": key,
            "arxiv_id": paper.arxiv_id,
            "profile": self.profile.name,
            "scorer": self.scorer.kind,
            "model": self.scorer.model,
            "text_hash": paper.text_hash,
            "profile_hash": self.profile.content_hash,
            "prompt_hash": self.prompt_hash,
            "status": result.status,
            "relevance": result.relevance,
            "hype": result.hype,
            "tags": [t[:TAG_CHARS] for t in result.tags[:MAX_TAGS]],
            "tldr": _capped(result.tldr, TLDR_CHARS),
            "reason": _capped(result.reason, REASON_CHARS),
            "error": _capped(result.error, ERROR_CHARS),
            "run_id": self.run_id,
        }
        if self.batched:
            self.rows.append(row)
            if len(self.rows) >= JUDGEMENT_STAGE:
                self._stage()
        else:  # a paid reply: committed with its call, one judgement per transaction
            store.save_judgements(self.session, [row], stored=self.stored)
        self.done.add(paper.arxiv_id)
        if result.status == "ok":
            self.counts.judged += 1
        else:
            self.counts.failed += 1
            if result.error and len(self.counts.errors) < 20:
                self.counts.errors.append(f"{paper.arxiv_id}: {result.error}")
        if self.on_result:
            self.on_result()

    def flush(self) -> None:
        """Commit the judgements held back (the local scorer's: nothing paid is lost with
        them), in set-sized statements and one commit."""
        rows, self.rows = self.rows, []
        if rows or self.staged:
            store.save_judgements(self.session, rows, stored=self.stored)  # and the staged
        self.staged = 0

    def _stage(self) -> None:
        """Write the rows held back, committing once a transaction holds ``JUDGEMENT_BATCH``."""
        if self.staged + len(self.rows) >= JUDGEMENT_BATCH:
            self.flush()
            return
        rows, self.rows = self.rows, []
        store.save_judgements(self.session, rows, commit=False, stored=self.stored)
        self.staged += len(rows)

    def pending(self, paper: PaperText) -> None:
        """The paper is in a submitted batch: its judgement comes with a later collection."""
        self.done.add(paper.arxiv_id)
        self.counts.pending += 1
        if self.on_result:
            self.on_result()

    def llm_call(self, call: LlmCall) -> None:
        call.run_id = self.run_id
        call.raw_reply = _storable(call.raw_reply)
        call.error = _clean(call.error)
        if len(call.arxiv_ids) == 1 and call.arxiv_ids[0] in self.keys:
            call.cache_key = self.keys[call.arxiv_ids[0]]
        call.profile = call.profile or self.profile.name
        call.base_url = call.base_url or self.base_url
        # a reply (ok, or invalid before its follow-up) is committed with the judgement it
        # decides; a failed request is committed at once (no judgement may follow it)
        store.save_llm_call(self.session, call, commit=call.status not in ("ok", "invalid"))
        log.debug(
            "llm call",
            profile=call.profile,
            papers=call.arxiv_ids,
            mode=call.mode,
            status=call.status,
            http_status=call.http_status,
            latency_ms=call.latency_ms,
            prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens,
            error=call.error,
        )
        self.counts.calls += 1
        self.counts.prompt_tokens += call.prompt_tokens or 0
        self.counts.completion_tokens += call.completion_tokens or 0
        self.counts.cached_tokens += call.cached_tokens or 0
        cost = self.price(call) if self.price else None
        if cost is None:
            if call.prompt_tokens:
                self.counts.cost_unknown = True
        else:
            self.counts.cost_usd += cost
            self.budget.spent += cost

    def may_start_call(self) -> bool:
        return self.budget.may_start()


def keys_for(
    scorer: Scorer, profile: Profile, papers: Sequence[Paper] | Sequence[PaperText]
) -> dict[str, str]:
    """The cache key of each paper's judgement by ``scorer`` for ``profile``, by id."""
    prompt_hash = scorer.prompt_hash(profile)
    return {
        p.arxiv_id: cache_key(p.text_hash, profile.content_hash, scorer.model, prompt_hash)
        for p in papers
    }


class Plan(NamedTuple):
    """What a (profile, day) needs: the cache key of each paper (by id), the papers that need a
    judgement, how many are judged already, and the keys of the todo papers that have a
    stored row all the same (a failure to retry, or ``--rescore``): replaced, not added."""

    keys: dict[str, str]
    todo: list[Paper]
    cached: int
    stored: set[str]


def plan(
    session: Session,
    scorer: Scorer,
    profile: Profile,
    papers: Sequence[Paper],
    *,
    rescore: bool = False,
) -> Plan:
    """What judging ``papers`` for ``profile`` with ``scorer`` needs (:class:`Plan`)."""
    keys = keys_for(scorer, profile, papers)
    existing = store.judgements_for_keys(session, keys.values())
    todo: list[Paper] = []
    cached = 0
    stored: set[str] = set()
    for p in papers:
        key = keys[p.arxiv_id]
        j = existing.get(key)
        if j is not None and j.status == "ok" and not rescore:
            cached += 1
        else:
            todo.append(p)
            if j is not None:
                stored.add(key)
    return Plan(keys, todo, cached, stored)


async def score_papers(
    session: Session,
    scorer: Scorer,
    profile: Profile,
    papers: Sequence[Paper],
    *,
    budget: Budget,
    rescore: bool = False,
    price: PriceFn | None = None,
    run_id: int | None = None,
    base_url: str | None = None,
    prefilter: tuple[Scorer, float] | None = None,
    first_pass: tuple[Scorer, int] | None = None,
    on_result: Callable[[], None] | None = None,
) -> ScoreCounts:
    """Give every paper a judgement for ``profile`` (cached ones cost nothing).

    ``first_pass`` (a scorer asking relevance only, and a margin): every paper without a
    full judgement gets the short first call; only those reaching the profile's threshold
    minus the margin go on to ``scorer``. The others keep their first-pass judgement.
    """
    counts = ScoreCounts(papers=len(papers))
    keys, todo, counts.cached, stored = plan(session, scorer, profile, papers, rescore=rescore)
    _advance(on_result, counts.cached)
    if not todo:
        return counts
    run = _Run(session, profile, budget, price, run_id, base_url, rescore, on_result)
    texts: list[PaperText] = list(todo)
    if scorer.kind == "llm":
        texts = await _narrow(run, texts, counts, keys, stored, prefilter, first_pass)
    sink = run.sink(StoreSink, scorer, keys, counts)
    sink.stored = stored
    try:
        await scorer.judge(profile, texts, sink)
    finally:
        sink.flush()
    counts.unscored += sum(1 for t in texts if t.arxiv_id not in sink.done)
    return counts


def _advance(on_result: Callable[[], None] | None, n: int = 1) -> None:
    if on_result is not None:
        for _ in range(n):
            on_result()


_Sink = TypeVar("_Sink", bound="StoreSink")


@dataclass(frozen=True)
class _Run:
    """What every step of one :func:`score_papers` call shares: where results go, what the
    calls may spend, and the progress callback."""

    session: Session
    profile: Profile
    budget: Budget
    price: PriceFn | None
    run_id: int | None
    base_url: str | None
    rescore: bool
    on_result: Callable[[], None] | None

    def sink(
        self,
        kind: type[_Sink],
        scorer: Scorer,
        keys: dict[str, str],
        counts: ScoreCounts,
        *,
        progress: bool = True,
    ) -> _Sink:
        return kind(
            self.session,
            profile=self.profile,
            scorer=scorer,
            keys=keys,
            counts=counts,
            budget=self.budget,
            price=self.price,
            run_id=self.run_id,
            base_url=self.base_url,
            on_result=self.on_result if progress else None,
        )


async def _narrow(
    run: _Run,
    texts: list[PaperText],
    counts: ScoreCounts,
    keys: dict[str, str],
    stored: set[str],
    prefilter: tuple[Scorer, float] | None,
    first_pass: tuple[Scorer, int] | None,
) -> list[PaperText]:
    """The papers an LLM scorer's full call still has to judge, after the local prefilter
    and the short first pass (each when configured). ``stored``: the plan's keys with a
    row, which the prefilter's rows (under the same keys) are added to."""
    if prefilter is not None and prefilter[1] < 1.0:
        local, share = prefilter
        texts = await _prefilter(
            run.session,
            local,
            run.profile,
            texts,
            share,
            counts,
            keys,
            run.run_id,
            run.on_result,
            stored=stored,
        )
    if first_pass is not None and texts:
        texts = await _first_pass(run, first_pass, texts, counts)
    return texts


async def _prefilter(
    session: Session,
    local: Scorer,
    profile: Profile,
    texts: list[PaperText],
    share: float,
    counts: ScoreCounts,
    keys: dict[str, str],
    run_id: int | None,
    on_result: Callable[[], None] | None,
    *,
    stored: set[str],
) -> list[PaperText]:
    """Judge everything locally; only the best ``share`` goes on to the LLM.

    The papers left out keep their local judgement under the LLM's cache key: that is the
    decision this configuration made for them, so a re-run does not send them again.
    """
    results: dict[str, JudgementResult] = {}

    class _Collect:
        def judgement(self, paper: PaperText, result: JudgementResult) -> None:
            results[paper.arxiv_id] = result

        def llm_call(self, call: LlmCall) -> None:  # pragma: no cover - local scorer makes none
            pass

        def may_start_call(self) -> bool:
            return True

    await local.judge(profile, texts, _Collect())
    ranked = sorted(texts, key=lambda t: (-(results[t.arxiv_id].relevance or 0), t.arxiv_id))
    keep = max(1, math.ceil(len(ranked) * share))
    passed, dropped = ranked[:keep], ranked[keep:]
    sink = StoreSink(
        session,
        profile=profile,
        scorer=local,
        keys=keys,
        counts=ScoreCounts(),
        budget=Budget(),
        run_id=run_id,
        on_result=on_result,
    )
    # the keys it writes are the full call's: a paper it keeps may share one with a paper it
    # drops (the same text), whose row the full call's judgement then replaces
    sink.stored = stored
    for t in dropped:
        sink.judgement(t, results[t.arxiv_id])
    sink.flush()
    counts.prefiltered += len(dropped)
    log.info(
        "prefilter", profile=profile.name, to_llm=len(passed), local_only=len(dropped), share=share
    )
    return passed


class _RecordingSink(StoreSink):
    """A StoreSink that also keeps each result (the first pass decides from them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.results: dict[str, JudgementResult] = {}

    def judgement(self, paper: PaperText, result: JudgementResult) -> None:
        self.results[paper.arxiv_id] = result
        super().judgement(paper, result)


async def _first_pass(
    run: _Run, first_pass: tuple[Scorer, int], texts: list[PaperText], counts: ScoreCounts
) -> list[PaperText]:
    """The short first pass (cached under its own keys); the papers that go on to the full one.

    A paper whose first-pass relevance stays below ``threshold - margin`` keeps its
    first-pass judgement (relevance only) as its judgement; one whose first pass failed
    keeps the failure (tried again next run); the rest are returned.
    """
    scorer, margin = first_pass
    profile = run.profile
    keys = keys_for(scorer, profile, texts)
    existing = store.judgements_for_keys(run.session, keys.values())
    relevance: dict[str, int | None] = {}
    todo: list[PaperText] = []
    for t in texts:
        j = existing.get(keys[t.arxiv_id])
        if j is not None and j.status == "ok" and not run.rescore:
            relevance[t.arxiv_id] = j.relevance
        else:
            todo.append(t)
    first = ScoreCounts()
    sink = run.sink(_RecordingSink, scorer, keys, first, progress=False)
    if todo:
        await scorer.judge(profile, todo, sink)
    relevance.update({i: r.relevance for i, r in sink.results.items() if r.status == "ok"})
    floor = profile.threshold - margin
    passed = _after_first_pass(
        texts, relevance, sink.results, sink.done, floor, counts, run.on_result
    )
    counts.add_calls(first)
    counts.second_pass += len(passed)
    log.info(
        "first pass",
        profile=profile.name,
        asked=len(todo),
        cached=len(texts) - len(todo),
        to_second_pass=len(passed),
        floor=floor,
    )
    return passed


def _after_first_pass(
    texts: list[PaperText],
    relevance: dict[str, int | None],
    results: dict[str, JudgementResult],
    done: set[str],
    floor: int,
    counts: ScoreCounts,
    on_result: Callable[[], None] | None,
) -> list[PaperText]:
    """The papers whose first-pass relevance reaches ``floor`` (they go on to the full
    pass); the others are counted: judged (below the floor), failed, pending, unscored."""
    passed: list[PaperText] = []
    for t in texts:
        if t.arxiv_id not in relevance:  # failed, or left unasked by --max-cost
            if t.arxiv_id in results:
                counts.failed += 1
                error = results[t.arxiv_id].error
                if error and len(counts.errors) < 20:
                    counts.errors.append(f"{t.arxiv_id}: {error}")
            elif t.arxiv_id in done:  # in a submitted batch
                counts.pending += 1
            else:
                counts.unscored += 1
            if on_result:
                on_result()
        elif (relevance[t.arxiv_id] or 0) >= floor:
            passed.append(t)
        else:
            counts.judged += 1
            if on_result:
                on_result()
    return passed
