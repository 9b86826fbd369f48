"""fetch -> store -> score -> report, each a function on plain data; ``run`` is the four in order.

The CLI builds one :class:`App` (settings, engine, HTTP clients, clock) and calls these;
tests call them directly with injected clients and clocks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import DatabaseError

from arxivfilter import dates, store
from arxivfilter.app import App
from arxivfilter.config import Profile, Settings, load_profiles
from arxivfilter.errors import (
    ArxivFilterError,
    InternalError,
    StorageError,
    UsageError,
    as_error,
)
from arxivfilter.fetch.day import FetchResult, fetch_by_ids, fetch_live, fetch_replay
from arxivfilter.fetch.http import write_json
from arxivfilter.fetch.past import fetch_past_day, harvest_range
from arxivfilter.logs import MASKER, SecretMasker
from arxivfilter.models import Entry, LlmCall
from arxivfilter.notify.deliver import NotifyResult
from arxivfilter.options import Options, fetch_scope, resolve_profiles
from arxivfilter.report.outputs import ReportResult, write_reports
from arxivfilter.score.stage import Budget, ScoreCounts, score_papers

log = structlog.get_logger(__name__)


# --------------------------------------------------------------------------- dates


def check_date(app: App, d: dt.date) -> dt.date:
    dates.check_not_future(d, app.now())
    return d


# --------------------------------------------------------------------------- fetch


@dataclass
class FetchSummary:
    dates: list[dt.date] = field(default_factory=list)
    papers: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    new_papers: int = 0
    updated_papers: int = 0
    new_rows: int = 0
    requests: int = 0
    waited_s: float = 0.0
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # damaged source records (a replayed file cut mid-record) by date; None = date unknown
    damaged: dict[dt.date | None, int] = field(default_factory=dict)
    # catching up several listings: a later one's failure, raised once the others are done
    error: ArxivFilterError | None = None
    catch_up: bool = False  # no --date: every listing since the newest stored one

    def damaged_on(self, day: dt.date) -> int:
        """Damaged records that belong to ``day`` (those of unknown date count for every day)."""
        return self.damaged.get(day, 0) + self.damaged.get(None, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dates": [d.isoformat() for d in self.dates],
            "papers": self.papers,
            "by_type": dict(sorted(self.by_type.items())),
            "new_papers": self.new_papers,
            "updated_papers": self.updated_papers,
            "new_rows": self.new_rows,
            "requests": self.requests,
            "waited_s": round(self.waited_s, 1),
            "sources": self.sources,
            "notes": self.notes,
            "damaged": {
                (d.isoformat() if d else "unknown"): n
                for d, n in sorted(self.damaged.items(), key=lambda x: x[0] or dt.date.min)
            },
        }


def _in_scope(entry: Entry, opts: Options) -> bool:
    return entry.announce_date is not None and _in_scope_date(entry.announce_date, opts)


def _in_scope_date(d: dt.date, opts: Options) -> bool:
    if opts.date is not None:
        return d == opts.date
    if opts.date_from is not None and d < opts.date_from:
        return False
    return not (opts.date_to is not None and d > opts.date_to)


def fetch(app: App, opts: Options) -> FetchSummary:
    """Fetch (or replay) and store. Returns what was stored, per the options' dates."""
    summary = FetchSummary()
    holidays = app.settings.holiday_dates
    if opts.source is not None:
        if opts.date is not None:
            check_date(app, opts.date)
        replayed = fetch_replay(opts.source, date=opts.date)
        entries = [e for e in replayed.entries if _in_scope(e, opts)]
        for day, n in replayed.damaged.items():
            if day is None or _in_scope_date(day, opts):
                summary.damaged[day] = summary.damaged.get(day, 0) + n
        for d in sorted({e.announce_date for e in entries if e.announce_date}):
            if not dates.is_mailing_day(d, holidays):
                log.warning(
                    "replayed records carry a date with no mailing",
                    date=d.isoformat(),
                    reason=dates.no_mailing_reason(d, holidays),
                )
        summary.sources.append(replayed.reason)
        _store(app, entries, opts, summary)
        if not summary.dates and opts.date is not None:
            summary.dates = [opts.date]
            summary.notes.append(
                f"the source holds no paper announced on {opts.date} in these categories"
            )
        elif not summary.dates and (opts.date_from is not None or opts.date_to is not None):
            span = f"{opts.date_from or '…'} .. {opts.date_to or '…'}"
            summary.notes.append(
                f"the source holds no paper announced in {span} in these categories"
            )
            log.warning("the source holds no paper in the range", range=span)
        return summary

    cats = opts.categories or list(app.settings.arxiv.categories)
    if opts.date_from is not None or opts.date_to is not None:
        return _fetch_range(app, opts, cats, summary)
    if opts.date is None and not opts.refresh:
        return _catch_up(app, opts, cats, summary)
    date = opts.date or dates.latest_listing(app.now(), holidays)
    check_date(app, date)
    summary.dates = [date]
    reason = dates.no_mailing_reason(date, holidays)
    if reason:
        summary.notes.append(f"no announcement on {date} ({reason})")
        return summary
    _fetch_day(app, opts, cats, date, summary)
    summary.dates = [date]
    return summary


def _catch_up(app: App, opts: Options, cats: list[str], summary: FetchSummary) -> FetchSummary:
    """No ``--date``: every listing since the newest stored one, as far back as the pastweek
    listing reaches (five mailings), oldest first, so a dropped or delayed night is caught up;
    with nothing stored, the latest listing only. A listing that fails (the feed not rebuilt
    yet) does not undo the others: its error is raised once they are scored and reported."""
    from arxivfilter.fetch.past import PASTWEEK_MAILINGS

    holidays = app.settings.holiday_dates
    latest = dates.latest_listing(app.now(), holidays)
    window = dates.recent_mailings(latest, PASTWEEK_MAILINGS, holidays)
    scope = opts.categories
    with app.session() as session:
        stored = store.announcement_dates(session, scope, date_from=window[0], date_to=window[-1])
        newest = store.newest_announcement(session, scope)
        oldest = store.oldest_announcement(session, scope)
    todo = dates.catch_up(window, stored, oldest)
    summary.catch_up = True
    if stored and not todo:
        # the newest listing again from this machine's archive, when it holds it (no request)
        from arxivfilter.fetch.day import archive_dir, archived_categories

        have = archived_categories(archive_dir(app.settings, max(stored)))
        if have is not None and set(cats) <= set(have):
            todo = [max(stored)]
    if not todo:
        summary.notes.append(
            f"nothing new: the newest listing ({newest}) is stored; latest is {latest}"
        )
        log.info("nothing new to fetch", newest=str(newest), latest=latest.isoformat())
    elif len(todo) > 1:
        log.info("catching up listings", dates=[d.isoformat() for d in todo])
    done: list[dt.date] = []
    for day in todo:
        try:
            _fetch_day(app, opts, cats, day, summary)
        except ArxivFilterError as exc:
            if not done and day == todo[-1]:
                raise  # nothing fetched at all: fail as a single listing does
            log.warning("a listing could not be fetched", date=day.isoformat(), error=str(exc))
            summary.error = summary.error or exc
            continue
        done.append(day)
    # the stored listings of the window are the run's days (a fully judged one costs nothing
    # and renders the same bytes)
    in_window = set(stored) | set(done)
    summary.dates = sorted({*done, max(in_window)}) if in_window else []
    return summary


def unfinished_days(
    app: App, categories: list[str] | None, profiles: Sequence[Profile]
) -> set[dt.date]:
    """Stored listings of the pastweek window with a paper that some profile has no ``ok``
    judgement of under its current text (a night that failed part-way, a quota that ran
    out): the next run without ``--date`` judges them, paying only for what is missing."""
    from arxivfilter.fetch.past import PASTWEEK_MAILINGS

    holidays = app.settings.holiday_dates
    window = dates.recent_mailings(
        dates.latest_listing(app.now(), holidays), PASTWEEK_MAILINGS, holidays
    )
    out: set[dt.date] = set()
    with app.session() as session:
        stored = store.announcement_dates(
            session, categories, date_from=window[0], date_to=window[-1]
        )
        for day in stored:
            for prof in profiles:
                papers = [p for p, _ in store.papers_on(session, day, prof.scope(categories))]
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


def _fetch_day(
    app: App, opts: Options, cats: list[str], date: dt.date, summary: FetchSummary
) -> None:
    with app.progress(f"fetch {date} (papers)", None) as bar:
        result: FetchResult = fetch_live(
            app.settings,
            app.arxiv,
            date,
            cats,
            refresh=opts.refresh,
            now=app.now(),
            past_fetcher=fetch_past_day,
            progress=bar.advance,
        )
    summary.requests += result.requests
    summary.waited_s += result.waited_s
    summary.sources.append(f"{result.source}: {result.reason}")
    _store(app, result.entries, opts, summary)


def _fetch_range(app: App, opts: Options, cats: list[str], summary: FetchSummary) -> FetchSummary:
    """``--from/--to`` from live arXiv: an OAI-PMH harvest, resumable through the archive."""
    latest = dates.latest_listing(app.now(), app.settings.holiday_dates)
    d1 = opts.date_from or latest
    d2 = opts.date_to or latest
    check_date(app, d1)
    check_date(app, d2)
    dates.check_range(d1, d2)
    with app.progress("harvest (records)", None) as bar:
        result = harvest_range(app.settings, app.arxiv, d1, d2, cats, progress=bar.advance)
    summary.requests += result.requests
    summary.waited_s += result.waited_s
    summary.sources.append(f"{result.source}: {result.reason}")
    _store(
        app,
        [e for e in result.entries if e.announce_date and d1 <= e.announce_date <= d2],
        opts,
        summary,
    )
    return summary


def sane_entries(entries: Sequence[Entry], now: dt.datetime) -> list[Entry]:
    """Entries fit to store: a record whose id is no arXiv id (non-ASCII digits, a path) or
    whose version is absurd gets one warning and is skipped; records dated after today in
    New York are refused with one warning per date (a replayed 2099 would re-anchor feeds)."""
    from arxivfilter.text import record_problem

    today = dates.ny_today(now)
    kept: list[Entry] = []
    future: Counter[dt.date] = Counter()
    for e in entries:
        problem = record_problem(e.arxiv_id, e.version)
        if problem:
            log.warning("record skipped", reason=problem)
        elif e.announce_date is not None and e.announce_date > today:
            future[e.announce_date] += 1
        else:
            kept.append(e)
    for day, n in sorted(future.items()):
        log.warning(
            "records dated after today (New York) refused",
            date=day.isoformat(),
            records=n,
            today=today.isoformat(),
        )
    return kept


def _store(app: App, entries: Sequence[Entry], opts: Options, summary: FetchSummary) -> None:
    entries = sane_entries(entries, app.now())
    with app.session() as session:
        counts = store.store_entries(
            session, entries, categories=opts.categories, default_date=opts.date
        )
    summary.papers += counts.papers
    summary.by_type.update(counts.by_type)
    summary.new_papers += counts.new_papers
    summary.updated_papers += counts.updated_papers
    summary.new_rows += counts.new_rows
    summary.dates = sorted(set(summary.dates) | counts.dates)
    if counts.papers and not counts.new_rows:
        summary.notes.append("nothing new: every paper and listing was already stored")


# --------------------------------------------------------------------------- score


def ensure_examples(app: App, opts: Options, profiles: Sequence[Profile]) -> None:
    """Store the liked example papers the profiles name, fetched once by id from arXiv.

    Live runs only (a ``--source`` replay and ``eval`` never touch the network); the
    responses are archived under ``data/raw/examples/`` and the ids asked for are recorded
    there, so an id arXiv does not know is not asked for again. Failure is a warning: the
    local scorer then falls back to its lexical score.
    """
    from arxivfilter.score.learned import judged_ids

    if opts.source is not None:
        return
    wanted: set[str] = set()
    for prof in profiles:
        wanted |= judged_ids(prof)  # liked examples and like/dislike feedback
    if not wanted:
        return
    with app.session() as session:
        have = store.stored_ids(session, wanted)
    folder = Path(app.settings.storage.raw_dir) / "examples"
    asked_path = folder / "requested.json"
    try:
        asked = (
            set(json.loads(asked_path.read_text(encoding="utf-8")))
            if asked_path.is_file()
            else set()
        )
    except (OSError, ValueError):
        asked = set()
    missing = sorted(wanted - have - asked)
    if not missing:
        return
    try:
        found = fetch_by_ids(app.arxiv, app.settings, missing, folder)
    except ArxivFilterError as exc:
        log.warning(
            "could not fetch the profiles' liked examples", count=len(missing), error=str(exc)
        )
        return
    with app.session() as session:
        store.store_papers(session, found.values())
    write_json(asked_path, sorted(asked | set(missing)))
    log.info("fetched the profiles' liked examples", asked=len(missing), found=len(found))


def price_fn(settings: Settings) -> Callable[[LlmCall], float | None]:
    from arxivfilter.score.prices import Prices

    return Prices.from_settings(settings).call_cost


def collect_batches(
    app: App, profiles: Sequence[Profile], *, run_id: int | None = None
) -> ScoreCounts:
    """Batch mode: store what finished batches hold (waiting up to ``batch_wait_seconds``)."""
    total = ScoreCounts()
    if app.settings.llm.mode != "batch" or app.settings.resolve_scorer(None) != "llm":
        return total
    scorer = app.scorer("llm")

    async def _go() -> None:
        try:
            with app.session() as session:
                got = await scorer.collect(
                    session,
                    profiles,
                    wait_seconds=app.settings.llm.batch_wait_seconds,
                    run_id=run_id,
                )
                total.judged, total.failed, total.calls = got.judged, got.failed, got.calls
                total.prompt_tokens, total.completion_tokens = (
                    got.prompt_tokens,
                    got.completion_tokens,
                )
                total.cached_tokens, total.cost_usd = got.cached_tokens, got.cost_usd
                total.pending, total.batches_open = got.pending + got.requeued, got.open_batches
                if got.papers:
                    total.extra_dates = store.dates_of_papers(session, got.papers)
        finally:
            await scorer.aclose()

    asyncio.run(_go())
    return total


def first_pass(settings: Settings, scorer: Any) -> tuple[Any, int] | None:
    """The short first pass (``[llm] passes = 2``): a sibling scorer asking relevance only."""
    if settings.llm.passes < 2:
        return None
    from arxivfilter.score.questions import FIRST

    return scorer.sibling(FIRST), settings.llm.second_pass_margin


def _with_text(papers: list[Any], day: dt.date) -> list[Any]:
    """The papers a scorer can read: one restored from the committed state without its text
    (state.py: judged low by every profile of its day) is left out, never judged empty."""
    kept = [(p, rows) for p, rows in papers if p.title or p.abstract]
    if len(kept) < len(papers):
        log.info(
            "papers kept without their text in the state are not scored again "
            "(fetch the day with --refresh to judge them anew)",
            date=day.isoformat(),
            count=len(papers) - len(kept),
        )
    return kept


def score(
    app: App,
    opts: Options,
    day_list: Sequence[dt.date],
    profiles: Sequence[Profile],
    *,
    run_id: int | None = None,
) -> ScoreCounts:
    """A judgement for every stored paper of ``day_list`` x ``profiles``."""
    kind = app.settings.resolve_scorer(opts.scorer)
    total = ScoreCounts()
    with app.session() as session:
        works = {
            prof.name: [
                (d, _with_text(store.papers_on(session, d, prof.scope(opts.categories)), d))
                for d in day_list
            ]
            for prof in profiles
        }
    n = sum(len(papers) for work in works.values() for _, papers in work)
    if opts.collect_only:
        return collect_batches(app, profiles, run_id=run_id)
    if n == 0:
        return total
    if opts.dry_run:
        with app.session() as session:
            scorer = app.scorer(kind)
            from arxivfilter.score.stage import plan

            for prof in profiles:
                for _d, papers in works[prof.name]:
                    _keys, todo, cached = plan(
                        session, scorer, prof, [p for p, _ in papers], rescore=opts.rescore
                    )
                    total.papers += len(papers)
                    total.cached += cached
                    total.unscored += len(todo)
        return total
    if kind == "local" or app.settings.llm.prefilter < 1.0:
        ensure_examples(app, opts, profiles)
    scorer = app.scorer(kind)
    budget = Budget(opts.max_cost if opts.max_cost is not None else app.settings.llm.max_cost)
    price = price_fn(app.settings) if kind == "llm" else None
    # the local scorer only when it will rank something (the prefilter is on)
    share = app.settings.llm.prefilter
    prefilter = (app.scorer("local"), share) if kind == "llm" and share < 1.0 else None
    first = first_pass(app.settings, scorer) if kind == "llm" else None

    batch = getattr(scorer, "collect", None)

    async def _collect(session: Any, wait: float) -> None:
        assert batch is not None
        got = await batch(session, profiles, wait_seconds=wait, run_id=run_id)
        total.judged += got.judged
        total.failed += got.failed
        total.calls += got.calls
        total.prompt_tokens += got.prompt_tokens
        total.completion_tokens += got.completion_tokens
        total.cached_tokens += got.cached_tokens
        total.cost_usd += got.cost_usd
        total.batches_open = got.open_batches
        total.pending = got.pending + got.requeued  # requeued: submitted again next run
        if got.papers:
            total.extra_dates |= store.dates_of_papers(session, got.papers)
        log.info(
            "batches collected",
            collected=got.batches,
            judged=got.judged,
            requeued=got.requeued,
            still_open=got.open_batches,
        )

    async def _all() -> None:
        with app.session() as session, app.progress(f"score ({kind})", n) as bar:
            try:
                if batch is not None:  # results that came in since the last run, first
                    await _collect(session, 0.0)
                for prof in profiles:
                    for d, papers in works[prof.name]:
                        counts = await score_papers(
                            session,
                            scorer,
                            prof,
                            [p for p, _ in papers],
                            budget=budget,
                            rescore=opts.rescore,
                            price=price,
                            run_id=run_id,
                            base_url=app.settings.llm.base_url or None,
                            prefilter=prefilter,
                            first_pass=first,
                            on_result=bar.advance,
                        )
                        log.info(
                            "scored", profile=prof.name, date=d.isoformat(), **counts.as_dict()
                        )
                        total.merge(counts)
                if batch is not None:  # what this run submitted, if it finishes in time
                    wait = app.settings.llm.batch_wait_seconds if total.pending else 0.0
                    await _collect(session, wait)
            finally:
                aclose = getattr(scorer, "aclose", None)
                if aclose is not None:
                    await aclose()

    asyncio.run(_all())
    return total


# --------------------------------------------------------------------------- report


def report(
    app: App,
    opts: Options,
    day_list: Sequence[dt.date],
    profiles: Sequence[Profile],
    *,
    damaged: dict[dt.date, int] | None = None,
) -> ReportResult:
    kind = app.settings.resolve_scorer(opts.scorer)
    with app.session() as session:
        return write_reports(
            session,
            app.settings,
            profiles,
            day_list,
            categories=opts.categories,
            scorer=kind,
            damaged=damaged,
        )


# --------------------------------------------------------------------------- notify


def notify(
    app: App, opts: Options, day_list: Sequence[dt.date], *, run_id: int | None, automatic: bool
) -> NotifyResult:
    """E-mail and webhook delivery of ``day_list`` to every configured recipient, once.

    ``automatic`` (called by ``run``): dates older than ``[notify] max_age_days`` before the
    newest stored listing are not sent, so a backfill does not mail history.
    """
    from arxivfilter.notify.deliver import deliver

    kind = app.settings.resolve_scorer(opts.scorer)
    with app.session() as session:
        oldest = None
        newest = store.newest_announcement(session, opts.categories) if automatic else None
        if newest is not None:
            oldest = newest - dt.timedelta(days=app.settings.notify.max_age_days)
        return deliver(
            session,
            app.settings,
            load_profiles(None),
            day_list,
            categories=opts.categories,
            scorer=kind,
            run_id=run_id,
            oldest=oldest,
            now=app.now,
            **app.notify_hooks,
        )


# --------------------------------------------------------------------------- run


@dataclass
class RunSummary:
    fetch: FetchSummary
    score: ScoreCounts
    report: ReportResult | None
    exit_code: int
    wall_s: float
    run_id: int | None = None
    message: str | None = None
    stages: tuple[str, ...] = ("fetch", "score", "report")
    dry_run: bool = False  # score counts are a plan: "unscored" = would be judged
    notify: NotifyResult | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "stages": list(self.stages),
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "wall_s": round(self.wall_s, 2),
            "fetch": self.fetch.as_dict(),
            "score": self.score.as_dict(),
            "report": self.report.as_dict() if self.report else None,
            "notify": self.notify.as_dict() if self.notify else None,
            "message": self.message,
        }


def days_to_work(app: App, opts: Options, fetched: FetchSummary) -> list[dt.date]:
    """The announcement dates a score/report step covers."""
    if opts.date is not None:
        return [opts.date]
    if opts.source is not None or opts.date_from is not None or opts.date_to is not None:
        with app.session() as session:
            stored = store.announcement_dates(
                session, opts.categories, date_from=opts.date_from, date_to=opts.date_to
            )
        if opts.source is not None and opts.date_from is None and opts.date_to is None:
            return sorted(set(fetched.dates) & set(stored)) or fetched.dates
        return stored
    return fetched.dates


def run(
    app: App,
    opts: Options,
    *,
    command: str = "run",
    stages: tuple[str, ...] = ("fetch", "score", "report"),
) -> RunSummary:
    """The whole pipeline (or some stages of it) under the run lock, recorded in ``runs``."""
    started = time.monotonic()
    if opts.max_cost is not None and opts.max_cost < 0:
        raise UsageError(f"--max-cost must be 0 or more (USD), not {opts.max_cost:g}")
    # a fetch reads every category a profile needs, too
    profiles = resolve_profiles(opts, app.settings)
    # run notifies after report when recipients are configured; `notify` is that stage alone
    auto_notify = command == "run" and "report" in stages and app.settings.notify.configured
    if auto_notify:
        stages = (*stages, "notify")
    if "score" in stages or "report" in stages:
        kind = app.settings.resolve_scorer(opts.scorer)  # --scorer llm, nothing set: exit 2 now
        if "score" in stages and kind == "llm":
            from arxivfilter.score.prices import require_price

            limit = opts.max_cost if opts.max_cost is not None else app.settings.llm.max_cost
            require_price(app.settings, limit)  # a limit on an unpriced model: exit 2 now
    with app.lock():
        refresh_from_state(app)
        try:
            with app.session() as session:
                aborted = store.abort_stale_runs(session)
                if aborted:
                    log.warning(
                        "marked runs left running by a killed process as aborted", count=aborted
                    )
                run_row = store.start_run(
                    session,
                    command,
                    date_from=opts.date or opts.date_from,
                    date_to=opts.date or opts.date_to,
                    profiles=[p.name for p in profiles],
                )
        except DatabaseError as exc:
            raise StorageError(f"database error: {_db_message(exc)}") from None
        fsum = FetchSummary()
        scounts = ScoreCounts()
        rres: ReportResult | None = None
        nres: NotifyResult | None = None
        try:
            if "fetch" in stages or opts.source is not None:
                # score/report --source: the recorded papers are staged first (no network)
                scope = fetch_scope(opts.categories, profiles)
                fsum = fetch(app, dataclasses.replace(opts, categories=scope))
                log.info("fetch", **fsum.as_dict())
                if fsum.catch_up and "score" in stages:
                    unfinished = unfinished_days(app, opts.categories, profiles)
                    if unfinished - set(fsum.dates):
                        log.info(
                            "judging what earlier runs left unjudged",
                            dates=sorted(d.isoformat() for d in unfinished),
                        )
                    fsum.dates = sorted(set(fsum.dates) | unfinished)
            else:
                fsum.dates = _dates_without_fetch(app, opts)
            day_list = [] if opts.collect_only else days_to_work(app, opts, fsum)
            if "fetch" not in stages:
                _warn_unstored(app, opts, day_list)
            if "score" in stages and (day_list or opts.collect_only):
                scounts = score(app, opts, day_list, profiles, run_id=run_row.id)
                log.info("score", **scounts.as_dict())
            if scounts.extra_dates and not opts.dry_run:  # batch results for earlier dates
                day_list = sorted(set(day_list) | scounts.extra_dates)
            if "report" in stages and day_list and not opts.dry_run:
                damaged = {d: fsum.damaged_on(d) for d in day_list if fsum.damaged_on(d)}
                rres = report(app, opts, day_list, profiles, damaged=damaged)
                log.info("report", **rres.as_dict())
            if "notify" in stages and day_list and not opts.dry_run:
                nres = notify(app, opts, day_list, run_id=run_row.id, automatic=auto_notify)
                log.info("notify", **nres.as_dict()["counts"])
            if fsum.error is not None:  # a listing of the catch-up failed: the others are done
                raise fsum.error
        except Exception as exc:  # domain (its code), storage (5), anything else a crash (70)
            error = as_error(exc)
            record_failure(
                app,
                run_row,
                error,
                {"fetch": fsum.as_dict(), "score": scounts.as_dict()},
                cost_usd=scounts.cost_usd or None,
                dates=fsum.dates,
            )
            save_state(app, profiles, failed=True)  # a failed night keeps what it paid for
            if error is exc:
                raise
            raise error from exc
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM under ``schedule``
            with app.session() as session:
                store.finish_run(
                    session, run_row, status="interrupted", exit_code=130, message="interrupted"
                )
            raise
        except BaseException:  # SystemExit: the process is being stopped
            with app.session() as session:
                store.finish_run(
                    session, run_row, status="failed", exit_code=1, message="interrupted"
                )
            raise
        n_damaged = sum(fsum.damaged.values())
        exit_code = (
            1 if (scounts.failed or (scounts.unscored and not opts.dry_run) or n_damaged) else 0
        )
        message = None
        if n_damaged:
            message = (
                f"{n_damaged} damaged source record{'s' if n_damaged != 1 else ''} skipped "
                "(not valid JSON: a file cut mid-record?); the day may be incomplete"
            )
        elif scounts.unscored and not opts.dry_run:
            message = f"{scounts.unscored} papers left unscored: --max-cost reached"
        elif scounts.failed:
            message = (
                f"{scounts.failed} papers failed to score (listed in the digest's failed section)"
            )
        if nres is not None and nres.exit_code:
            # within `run` a delivery problem is exit 1: the outputs (and the ledger) are
            # written and must be committed; `notify` alone gives the precise code
            exit_code = max(exit_code, 1) if auto_notify else nres.exit_code
            message = "; ".join(m for m in (message, f"notify: {nres.message}") if m)
        summary = RunSummary(
            fsum,
            scounts,
            rres,
            exit_code,
            time.monotonic() - started,
            run_row.id,
            message,
            stages,
            dry_run=opts.dry_run,
            notify=nres,
        )
        with app.session() as session:
            store.finish_run(
                session,
                run_row,
                status="ok" if exit_code == 0 else "failed",
                exit_code=exit_code,
                counts=summary.as_dict(),
                cost_usd=scounts.cost_usd or None,
                message=message,
                dates=day_list,
            )
        save_state(app, profiles)
        return summary


def refresh_from_state(app: App) -> None:
    """Rebuild or refresh the database from the committed state (``[state] dir``) when the
    database is missing or behind it (a fresh CI runner)."""
    from arxivfilter import state

    folder = state.state_dir(app.settings)
    if folder is None or not folder.is_dir():
        return
    if state.is_behind(app.engine, folder):
        loaded = state.load_state(app.engine, folder)
        log.info("database refreshed from the committed state", **loaded.as_dict())


def save_state(app: App, profiles: Sequence[Profile], *, failed: bool = False) -> None:
    """Write the committed state (``[state] dir``) at the end of a run. After a failed run a
    problem here is a warning (the run's own error is what the exit code reports)."""
    from arxivfilter import state

    folder = state.state_dir(app.settings)
    if folder is None:
        return
    try:
        known = load_profiles(None)
    except ArxivFilterError:
        known = list(profiles)
    floor = state.text_floor(app.settings, [*known, *profiles])
    try:
        keep = liked_ids([*known, *profiles])
        state.save_state(app.engine, folder, text_floor=floor, keep=keep)
    except Exception as exc:
        if not failed:
            raise
        log.warning("could not save the state after the failed run", error=str(exc))


def liked_ids(profiles: Sequence[Profile]) -> frozenset[str]:
    """The profiles' liked example papers (the learned model trains on their text)."""
    from arxivfilter.score.learned import profile_example_ids

    ids: set[str] = set()
    for prof in profiles:
        try:
            ids |= profile_example_ids(prof)
        except ArxivFilterError:
            continue
    return frozenset(ids)


def _db_message(exc: DatabaseError) -> str:
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())[:300]


def record_failure(
    app: App,
    run_row: Any,
    error: ArxivFilterError,
    counts: dict[str, Any],
    *,
    cost_usd: float | None = None,
    dates: Sequence[dt.date] = (),
) -> None:
    """Close the record of a run that failed, with what it had done so far. A crash (an
    :class:`InternalError`) is ``crashed`` and keeps its traceback, secrets masked."""
    masker = SecretMasker([app.settings.llm.api_key, *MASKER.secrets])
    status = "failed"
    if isinstance(error, InternalError):
        status = "crashed"
        counts = {**counts, "traceback": masker.mask(error.traceback)}
    with app.session() as session:
        store.finish_run(
            session,
            run_row,
            status=status,
            exit_code=error.exit_code,
            counts=counts,
            cost_usd=cost_usd,
            message=masker.mask(str(error)),
            dates=dates,
        )


def _warn_unstored(app: App, opts: Options, days: Sequence[dt.date]) -> None:
    """score/report of a date with no stored paper do nothing: say so (a missing fetch, or
    no --date given while the latest listing is not fetched yet)."""
    with app.session() as session:
        empty = [d for d in days if not store.papers_on(session, d, opts.categories)]
    for d in empty:
        log.warning(
            "no paper is stored for this date: fetch it first, or give --date",
            date=d.isoformat(),
        )


def _dates_without_fetch(app: App, opts: Options) -> list[dt.date]:
    if opts.date is not None:
        return [check_date(app, opts.date)]
    if opts.date_from is not None or opts.date_to is not None:
        return []
    # no --date: the newest stored listing (not today's calendar date, which may not be
    # fetched yet: after adding a profile, `report` must still write something)
    with app.session() as session:
        newest = store.newest_announcement(session, opts.categories)
    if newest is None:
        log.warning("the database holds no listing yet: run `arxivfilter fetch` first")
        return []
    return [newest]
