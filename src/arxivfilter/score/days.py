"""The score stage's one entry point: judge the stored papers of some days for some profiles.

:func:`score_days` is what the nightly run and ``eval`` both call: it builds the scorer,
the run's budget, the price list, the local prefilter (when ``[llm] prefilter`` < 1) and
the short first pass (``[llm] passes = 2``), judges each (profile, day) in turn through
the cache (``score.stage``), collects finished batches in batch mode, shows one progress
bar and closes the scorer's client. The stage takes what it uses of the composition root
as a Protocol (:class:`ScoreContext`), so it never builds a client itself.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Profile, Settings
from arxivfilter.models import LlmCall, Paper
from arxivfilter.progress import ProgressFactory
from arxivfilter.score.stage import Budget, ScoreCounts, keys_for, plan, score_papers

log = structlog.get_logger(__name__)


class ScoreContext(Protocol):
    """What the score stage uses of the composition root (``app.App``)."""

    settings: Settings
    progress: ProgressFactory

    def session(self) -> Session: ...

    def scorer(self, kind: str) -> Any: ...


@dataclass
class DayWork:
    """The papers of one announcement day one profile judges.

    ``papers`` None: read from the store when the day's turn comes (:meth:`load`), so a
    range of days holds one day's papers at a time, not the whole range's (#23: scoring
    100,000 stored papers peaked at 473 MiB); ``count`` is then what the day announced.
    """

    profile: Profile
    day: dt.date
    papers: list[Paper] | None = None
    scope: list[str] | None = None
    count: int = 0

    @property
    def size(self) -> int:
        return len(self.papers) if self.papers is not None else self.count

    def load(self, session: Session) -> list[Paper]:
        """The day's papers a scorer can read (given, or read now)."""
        if self.papers is not None:
            return self.papers
        return _with_text(store.papers_of_day(session, self.day, self.scope), self.day)


def stored_work(
    ctx: ScoreContext,
    profiles: Sequence[Profile],
    days: Sequence[dt.date],
    categories: list[str] | None,
) -> list[DayWork]:
    """The days with stored papers, in order, each with every profile that has papers on it
    (day by day: all profiles of a day, then the next day), so the profiles of a day share
    one read of its papers (:class:`DayReader`) and the local scorer's per-paper analysis of
    them (``lexical.paper_doc``, ``local.tldr``); each day's papers are read when it is
    judged."""
    if not days:
        return []
    per_profile: list[tuple[Profile, list[str] | None, dict[dt.date, int]]] = []
    with ctx.session() as session:
        for prof in profiles:
            scope = prof.scope(categories)
            counts = store.paper_counts(session, scope, date_from=min(days), date_to=max(days))
            per_profile.append((prof, scope, counts))
    return [
        DayWork(prof, d, None, scope, counts[d])
        for d in days
        for prof, scope, counts in per_profile
        if counts.get(d)
    ]


class DayReader:
    """:meth:`DayWork.load` that reads a day's papers once for the items of the same day and
    scope (every profile of a day, as :func:`stored_work` orders them): only the last
    ``keep`` (day, scope) read are kept (the one judged and those sent ahead to the local
    scorer's workers), so a range holds a few days' papers at a time, never all."""

    keep = 3

    def __init__(self) -> None:
        self._read: OrderedDict[tuple[dt.date, tuple[str, ...] | None], list[Paper]] = OrderedDict()

    def load(self, session: Session, w: DayWork) -> list[Paper]:
        if w.papers is not None:
            return w.papers
        key = (w.day, None if w.scope is None else tuple(w.scope))
        papers = self._read.get(key)
        if papers is None:
            while len(self._read) >= self.keep:
                self._read.popitem(last=False)  # the oldest goes first
            papers = self._read[key] = w.load(session)
        else:
            self._read.move_to_end(key)
        return papers


def _with_text(papers: list[Paper], day: dt.date) -> list[Paper]:
    """The papers a scorer can read: one restored from the committed state without its text
    (state.py: judged low by every profile of its day) is left out, never judged empty."""
    kept = [p for p in papers if p.title or p.abstract]
    if len(kept) < len(papers):
        log.info(
            "papers kept without their text in the state are not scored again "
            "(fetch the day with --refresh to judge them anew)",
            date=day.isoformat(),
            count=len(papers) - len(kept),
        )
    return kept


def price_fn(settings: Settings) -> Callable[[LlmCall], float | None]:
    from arxivfilter.score.prices import Prices

    return Prices.from_settings(settings).call_cost


def first_pass(settings: Settings, scorer: Any) -> tuple[Any, int] | None:
    """The short first pass (``[llm] passes = 2``): a sibling scorer asking relevance only."""
    if settings.llm.passes < 2 or scorer.kind != "llm":
        return None
    from arxivfilter.score.questions import FIRST

    return scorer.sibling(FIRST), settings.llm.second_pass_margin


def plan_days(
    ctx: ScoreContext, kind: str, work: Sequence[DayWork], *, rescore: bool = False
) -> ScoreCounts:
    """``--dry-run``: what :func:`score_days` would judge ("unscored") and find cached."""
    total = ScoreCounts()
    with ctx.session() as session:
        scorer = ctx.scorer(kind)
        reader = DayReader()
        for w in work:
            papers = reader.load(session, w)
            _keys, todo, cached, _stored = plan(session, scorer, w.profile, papers, rescore=rescore)
            total.papers += len(papers)
            total.cached += cached
            total.unscored += len(todo)
    return total


def score_days(
    ctx: ScoreContext,
    kind: str,
    work: Sequence[DayWork],
    *,
    max_cost: float | None = None,
    rescore: bool = False,
    run_id: int | None = None,
    scorer: Any = None,
    batches: Sequence[Profile] | None = None,
    label: str = "score",
    into: ScoreCounts | None = None,
) -> ScoreCounts:
    """A judgement for every paper of ``work``, (profile, day) after (profile, day), in the
    order given (:func:`stored_work`'s: day by day, every profile of a day in turn).

    ``scorer``: the scorer of ``kind`` to use (None: a new one from ``ctx``); ``max_cost``
    (None: ``[llm] max_cost``) bounds what the whole call spends. ``batches``: in batch
    mode, the profiles whose finished batches are collected before and after judging.
    ``into``: the counts to add to as each day is done (what a failed call had spent).
    """
    scorer = scorer if scorer is not None else ctx.scorer(kind)
    llm = ctx.settings.llm
    share = llm.prefilter
    job = _Job(
        scorer=scorer,
        budget=Budget(max_cost if max_cost is not None else llm.max_cost),
        price=price_fn(ctx.settings) if kind == "llm" else None,
        # the local scorer only when it will rank something (the prefilter is on)
        prefilter=(ctx.scorer("local"), share) if kind == "llm" and share < 1.0 else None,
        first=first_pass(ctx.settings, scorer) if kind == "llm" else None,
        rescore=rescore,
        run_id=run_id,
        base_url=llm.base_url or None,
    )
    total = into if into is not None else ScoreCounts()
    collect = getattr(scorer, "collect", None) if batches is not None else None
    n = _expect(scorer, work)

    async def _all() -> None:
        with ctx.session() as session, ctx.progress(f"{label} ({kind})", n) as bar:
            try:
                if collect is not None:  # results that came in since the last run, first
                    _absorb(total, await _collect(session, collect, batches, 0.0, run_id))
                for i, w in enumerate(work):
                    counts = await job.score(session, w, bar.advance, work[i + 1 : i + 3])
                    log.info(
                        "scored", profile=w.profile.name, date=w.day.isoformat(), **counts.as_dict()
                    )
                    total.merge(counts)
                if collect is not None:  # what this run submitted, if it finishes in time
                    wait = llm.batch_wait_seconds if total.pending else 0.0
                    _absorb(total, await _collect(session, collect, batches, wait, run_id))
            finally:
                await _close(scorer, job.prefilter[0] if job.prefilter else None)

    asyncio.run(_all())
    return total


def _expect(scorer: Any, work: Sequence[DayWork]) -> int:
    """The papers of ``work`` in all, told to a scorer that plans for them (the local
    scorer's worker processes start for long work only)."""
    n = sum(w.size for w in work)
    expect = getattr(scorer, "expect", None)
    if expect is not None and work:
        expect(n, max(w.size for w in work))
    return n


async def _close(*scorers: Any) -> None:
    """Close the scorers' clients (the LLM's) and worker processes (the local scorer's)."""
    for used in scorers:
        aclose = getattr(used, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass
class _Job:
    """What every (profile, day) of one :func:`score_days` call shares."""

    scorer: Any
    budget: Budget
    price: Callable[[LlmCall], float | None] | None
    prefilter: tuple[Any, float] | None
    first: tuple[Any, int] | None
    rescore: bool
    run_id: int | None
    base_url: str | None
    reader: DayReader = field(default_factory=DayReader)
    ahead: bool = True  # the last (profile, day) was mostly new work

    async def score(
        self,
        session: Session,
        w: DayWork,
        on_result: Callable[[], None],
        nxt: Sequence[DayWork] = (),
    ) -> ScoreCounts:
        papers = self.reader.load(session, w)
        for _ in range(w.size - len(papers)):  # kept without text: not judged, counted done
            on_result()
        then = getattr(self.scorer, "then", None)  # the local scorer's worker processes
        if then is not None and getattr(self.scorer, "uses_workers", False):
            # while the workers judge this day, they may as well start on the next one
            # (only after a day of mostly new work: most of the next is likely new too)
            upcoming = nxt if self.ahead else []
            then([(u.profile, self.reader.load(session, u)) for u in upcoming])
        counts = await score_papers(
            session,
            self.scorer,
            w.profile,
            papers,
            budget=self.budget,
            rescore=self.rescore,
            price=self.price,
            run_id=self.run_id,
            base_url=self.base_url,
            prefilter=self.prefilter,
            first_pass=self.first,
            on_result=on_result,
        )
        self.ahead = counts.cached * 10 <= counts.papers
        return counts


async def _collect(
    session: Session,
    collect: Any,
    profiles: Sequence[Profile] | None,
    wait: float,
    run_id: int | None,
) -> ScoreCounts:
    """What finished batches hold (waiting up to ``wait`` seconds), as counts."""
    got = await collect(session, profiles or [], wait_seconds=wait, run_id=run_id)
    counts = _collected(session, got)
    log.info(
        "batches collected",
        collected=got.batches,
        judged=got.judged,
        requeued=got.requeued,
        still_open=got.open_batches,
    )
    return counts


def _absorb(total: ScoreCounts, collected: ScoreCounts) -> None:
    """Add a collection's counts; what is pending and open is the collection's own figure."""
    pending, still_open = collected.pending, collected.batches_open
    total.merge(collected)
    total.pending, total.batches_open = pending, still_open


def _collected(session: Session, got: Any) -> ScoreCounts:
    counts = ScoreCounts(
        judged=got.judged,
        failed=got.failed,
        calls=got.calls,
        prompt_tokens=got.prompt_tokens,
        completion_tokens=got.completion_tokens,
        cached_tokens=got.cached_tokens,
        cost_usd=got.cost_usd,
        batches_open=got.open_batches,
        pending=got.pending + got.requeued,  # requeued: submitted again next run
    )
    if got.papers:
        counts.extra_dates = store.dates_of_papers(session, got.papers)
    return counts


def collect_batches(
    ctx: ScoreContext, profiles: Sequence[Profile], *, run_id: int | None = None
) -> ScoreCounts:
    """Batch mode: store what finished batches hold (waiting up to ``batch_wait_seconds``)."""
    if ctx.settings.llm.mode != "batch" or ctx.settings.resolve_scorer(None) != "llm":
        return ScoreCounts()
    scorer = ctx.scorer("llm")

    async def _go() -> ScoreCounts:
        try:
            with ctx.session() as session:
                got = await scorer.collect(
                    session,
                    profiles,
                    wait_seconds=ctx.settings.llm.batch_wait_seconds,
                    run_id=run_id,
                )
                return _collected(session, got)
        finally:
            await scorer.aclose()

    return asyncio.run(_go())


def outcomes(
    session: Session, scorer: Any, profile: Profile, papers: Sequence[Paper], settings: Settings
) -> dict[str, tuple[str, int | None]]:
    """id -> (status, relevance) of the judgement each paper ended with: the full one, else
    (two passes) the first pass's; ("missing", None) for a paper with neither."""
    first = first_pass(settings, scorer)
    out: dict[str, tuple[str, int | None]] = {}
    for which in [scorer] + ([first[0]] if first else []):
        keys = keys_for(
            which, profile, [p for p in papers if out.get(p.arxiv_id, ("missing",))[0] == "missing"]
        )
        found = store.judgements_for_keys(session, keys.values())
        for arxiv_id, key in keys.items():
            j = found.get(key)
            out[arxiv_id] = (j.status, j.relevance) if j is not None else ("missing", None)
    return out


def unfinished_days(
    ctx: ScoreContext,
    window: Sequence[dt.date],
    categories: list[str] | None,
    profiles: Sequence[Profile],
) -> set[dt.date]:
    """Stored listings of ``window`` with a paper that some profile has no ``ok`` judgement
    of under its current text (a night that failed part-way, a quota that ran out): the next
    run without ``--date`` judges them, paying only for what is missing."""
    out: set[dt.date] = set()
    if not window:
        return out
    with ctx.session() as session:
        stored = store.announcement_dates(
            session, categories, date_from=window[0], date_to=window[-1]
        )
        for day in stored:
            for prof in profiles:
                papers = store.papers_of_day(session, day, prof.scope(categories))
                papers = [p for p in papers if p.title or p.abstract]
                if not papers:
                    continue
                have = store.ok_judged(
                    session, [p.arxiv_id for p in papers], prof.name, prof.content_hash
                )
                if any((p.arxiv_id, p.text_hash) not in have for p in papers):
                    out.add(day)
                    break
    return out


def examples_wanted(profiles: Sequence[Profile]) -> set[str]:
    """The papers the profiles' verdicts name (liked examples, like/dislike feedback)."""
    from arxivfilter.score.learned import judged_ids

    wanted: set[str] = set()
    for prof in profiles:
        wanted |= judged_ids(prof)
    return wanted
