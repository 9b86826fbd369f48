"""The fetch stage's one entry point: which dates, from which source, stored.

Which source, when (the rule, in one place: :func:`fetch` and :func:`choose_source`):
  * ``--source PATH``: a replay of recorded data (archived responses, feeds, export-API
    pages, the JSONL dumps; ``fetch.replay``), no network, scoped to the dates asked for;
  * ``--from/--to``: an OAI-PMH harvest of the range (``fetch.past.harvest_range``),
    resumable through the archive;
  * one listing date (``--date``, or each listing a catch-up needs):
      - the archive, when ``data/raw/<date>/`` holds a complete earlier fetch of the same
        categories (zero requests; ``--refresh`` skips this);
      - rss.arxiv.org for the latest listing (the only listing the feeds hold), then the
        export API by id for what the feed lacks (``fetch.day``);
      - one of the last five mailings before it: the ``/list/<cat>/pastweek`` pages, then
        the export API by id (``fetch.past``);
      - an older date: the export API's submission window (approximate dates).
  * no date: every listing since the newest stored one, as far back as the pastweek
    listing reaches (:func:`listings`), oldest first.
Every response is archived before it is parsed (``fetch.http``).

The dates a score or report step covers are resolved here too (:func:`days_to_work`,
:func:`stored_days`). The stage takes what it uses of the composition root as a Protocol
(:class:`FetchContext`), so it never builds a client.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import structlog
from sqlmodel import Session

from arxivfilter import dates, store
from arxivfilter.config import Settings
from arxivfilter.errors import ArxivFilterError
from arxivfilter.fetch.day import (
    FetchResult,
    archive_dir,
    archived_categories,
    fetch_by_ids,
    fetch_rss,
    fill_by_id,
    iter_replay,
    mark_complete,
    merge_entries,
    replay_archive,
)
from arxivfilter.fetch.http import ArxivClient, write_json
from arxivfilter.fetch.past import fetch_api_window, fetch_pastweek, harvest_range
from arxivfilter.models import Entry
from arxivfilter.options import Options
from arxivfilter.progress import ProgressFactory

log = structlog.get_logger(__name__)

PASTWEEK_MAILINGS = 5  # the mailings /list/<cat>/pastweek holds, the latest included


class FetchContext(Protocol):
    """What the fetch stage uses of the composition root (``app.App``)."""

    settings: Settings

    @property
    def arxiv(self) -> ArxivClient: ...

    def now(self) -> dt.datetime: ...

    def session(self) -> Session: ...

    progress: ProgressFactory


# --------------------------------------------------------------------------- which listing


def listings(now: dt.datetime | None, holidays: set[dt.date]) -> list[dt.date]:
    """The listings live arXiv serves by exact date, oldest first: the last
    ``PASTWEEK_MAILINGS`` mailings. The last is the latest listing (the feeds' one)."""
    return dates.recent_mailings(dates.latest_listing(now, holidays), PASTWEEK_MAILINGS, holidays)


def choose_source(
    date: dt.date, now: dt.datetime | None, holidays: set[dt.date]
) -> tuple[str, str]:
    """("rss" | "pastweek" | "api-window", why) for a single listing date."""
    recent = listings(now, holidays)
    if date == recent[-1]:
        return "rss", f"{date} is the latest listing, which rss.arxiv.org holds"
    if date in recent:
        return (
            "pastweek",
            f"{date} is one of the last {PASTWEEK_MAILINGS} mailings, which /list/<cat>/pastweek holds",
        )
    return "api-window", (
        f"{date} is older than the last {PASTWEEK_MAILINGS} mailings: export-API submission window "
        "(approximate dates, no replacements)"
    )


def check_date(ctx: FetchContext, d: dt.date) -> dt.date:
    dates.check_not_future(d, ctx.now())
    return d


# --------------------------------------------------------------------------- one listing


def fetch_live(
    settings: Settings,
    client: ArxivClient,
    date: dt.date,
    categories: Sequence[str],
    *,
    refresh: bool = False,
    now: dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> FetchResult:
    """Fetch listing ``date`` (already checked: not future, a mailing day) from the source
    :func:`choose_source` picks, unless the archive holds it.

    ``progress(n)`` is told how many papers each metadata request covered.
    """
    folder = archive_dir(settings, date)
    before_req, before_wait = client.requests, client.waited
    have = archived_categories(folder)
    if not refresh and have is not None and set(categories) <= set(have):
        return FetchResult(
            date=date,
            entries=replay_archive(folder, date),
            source="archive",
            reason=f"{folder} holds a complete earlier fetch (use --refresh to ask arXiv again)",
        )
    source, reason = choose_source(date, now, settings.holiday_dates)
    if source == "rss":
        entries = fetch_rss(client, settings, date, categories, folder)
        entries = fill_by_id(client, settings, entries, folder, progress)
    elif source == "pastweek":
        entries = merge_entries(fetch_pastweek(settings, client, date, categories, folder=folder))
    else:
        entries = merge_entries(fetch_api_window(settings, client, date, categories, folder=folder))
    entries = [
        e if e.announce_date else e.model_copy(update={"announce_date": date}) for e in entries
    ]
    mark_complete(
        folder, categories=categories, source=source, requests=client.requests - before_req
    )
    return FetchResult(
        date=date,
        entries=entries,
        source=source,
        reason=reason,
        requests=client.requests - before_req,
        waited_s=client.waited - before_wait,
    )


# --------------------------------------------------------------------------- the stage


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
    window: list[dt.date] = field(default_factory=list)  # a catch-up's :func:`listings`

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


def fetch(ctx: FetchContext, opts: Options) -> FetchSummary:
    """Fetch (or replay) and store. Returns what was stored, per the options' dates."""
    summary = FetchSummary()
    if opts.source is not None:
        return _replay(ctx, opts, opts.source, summary)
    cats = opts.categories or list(ctx.settings.arxiv.categories)
    if opts.ranged:
        return _fetch_range(ctx, opts, cats, summary)
    if opts.date is None and not opts.refresh:
        return _catch_up(ctx, opts, cats, summary)
    holidays = ctx.settings.holiday_dates
    date = opts.date or listings(ctx.now(), holidays)[-1]
    check_date(ctx, date)
    summary.dates = [date]
    reason = dates.no_mailing_reason(date, holidays)
    if reason:
        summary.notes.append(f"no announcement on {date} ({reason})")
        return summary
    _fetch_day(ctx, opts, cats, date, summary)
    summary.dates = [date]
    return summary


def _replay(ctx: FetchContext, opts: Options, source: Path, summary: FetchSummary) -> FetchSummary:
    """``--source``: the recorded entries of the dates asked for, stored (no network)."""
    holidays = ctx.settings.holiday_dates
    if opts.date is not None:
        check_date(ctx, opts.date)
    papers, new_rows = summary.papers, summary.new_rows
    for replayed in iter_replay(source, date=opts.date, part=REPLAY_PART):
        entries = [e for e in replayed.entries if e.announce_date and opts.covers(e.announce_date)]
        for day, n in replayed.damaged.items():
            if day is None or opts.covers(day):
                summary.damaged[day] = summary.damaged.get(day, 0) + n
        _warn_no_mailing(entries, holidays)
        if replayed.reason not in summary.sources:
            summary.sources.append(replayed.reason)
        _store(ctx, entries, opts, summary, note=False)
    if summary.papers > papers and summary.new_rows == new_rows:
        summary.notes.append(NOTHING_NEW)
    if not summary.dates and opts.date is not None:
        summary.dates = [opts.date]
        summary.notes.append(
            f"the source holds no paper announced on {opts.date} in these categories"
        )
    elif not summary.dates and opts.ranged:
        span = opts.span()
        summary.notes.append(f"the source holds no paper announced in {span} in these categories")
        log.warning("the source holds no paper in the range", range=span)
    return summary


def _warn_no_mailing(entries: Sequence[Entry], holidays: set[dt.date]) -> None:
    """One warning per replayed date on which arXiv mails nothing (a weekend, a holiday)."""
    for d in sorted({e.announce_date for e in entries if e.announce_date}):
        if not dates.is_mailing_day(d, holidays):
            log.warning(
                "replayed records carry a date with no mailing",
                date=d.isoformat(),
                reason=dates.no_mailing_reason(d, holidays),
            )


def _catch_up(
    ctx: FetchContext, opts: Options, cats: list[str], summary: FetchSummary
) -> FetchSummary:
    """No ``--date``: every listing since the newest stored one, as far back as the pastweek
    listing reaches (five mailings), oldest first, so a dropped or delayed night is caught up;
    with nothing stored, the latest listing only. A listing that fails (the feed not rebuilt
    yet) does not undo the others: its error is raised once they are scored and reported."""
    window = listings(ctx.now(), ctx.settings.holiday_dates)
    latest = window[-1]
    scope = opts.categories
    with ctx.session() as session:
        stored = store.announcement_dates(session, scope, date_from=window[0], date_to=latest)
        newest = store.newest_announcement(session, scope)
        oldest = store.oldest_announcement(session, scope)
    todo = dates.catch_up(window, stored, oldest)
    summary.catch_up = True
    summary.window = window
    if stored and not todo:
        # the newest listing again from this machine's archive, when it holds it (no request)
        have = archived_categories(archive_dir(ctx.settings, max(stored)))
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
            _fetch_day(ctx, opts, cats, day, summary)
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


def _fetch_day(
    ctx: FetchContext, opts: Options, cats: list[str], date: dt.date, summary: FetchSummary
) -> None:
    with ctx.progress(f"fetch {date} (papers)", None) as bar:
        result = fetch_live(
            ctx.settings,
            ctx.arxiv,
            date,
            cats,
            refresh=opts.refresh,
            now=ctx.now(),
            progress=bar.advance,
        )
    summary.requests += result.requests
    summary.waited_s += result.waited_s
    summary.sources.append(f"{result.source}: {result.reason}")
    _store(ctx, result.entries, opts, summary)


def _fetch_range(
    ctx: FetchContext, opts: Options, cats: list[str], summary: FetchSummary
) -> FetchSummary:
    """``--from/--to`` from live arXiv: an OAI-PMH harvest, resumable through the archive."""
    latest = listings(ctx.now(), ctx.settings.holiday_dates)[-1]
    d1 = opts.date_from or latest
    d2 = opts.date_to or latest
    check_date(ctx, d1)
    check_date(ctx, d2)
    dates.check_range(d1, d2)
    with ctx.progress("harvest (records)", None) as bar:
        result = harvest_range(ctx.settings, ctx.arxiv, d1, d2, cats, progress=bar.advance)
    summary.requests += result.requests
    summary.waited_s += result.waited_s
    summary.sources.append(f"{result.source}: {result.reason}")
    _store(
        ctx,
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


NOTHING_NEW = "nothing new: every paper and listing was already stored"
# a replay is stored in parts of about this many entries (whole days, in order)
REPLAY_PART = 5_000


def _store(
    ctx: FetchContext,
    entries: Sequence[Entry],
    opts: Options,
    summary: FetchSummary,
    *,
    note: bool = True,
) -> None:
    """Store ``entries`` and add their counts to ``summary`` (``note``: say when they held
    nothing new; a replay stored in parts says it once, for the whole)."""
    entries = sane_entries(entries, ctx.now())
    with ctx.session() as session:
        counts = store.store_entries(
            session, entries, categories=opts.categories, default_date=opts.date
        )
    summary.papers += counts.papers
    summary.by_type.update(counts.by_type)
    summary.new_papers += counts.new_papers
    summary.updated_papers += counts.updated_papers
    summary.new_rows += counts.new_rows
    summary.dates = sorted(set(summary.dates) | counts.dates)
    if note and counts.papers and not counts.new_rows:
        summary.notes.append(NOTHING_NEW)


# --------------------------------------------------------------------------- the days worked


def days_to_work(ctx: FetchContext, opts: Options, fetched: FetchSummary) -> list[dt.date]:
    """The announcement dates a score/report step covers, after a fetch."""
    if opts.date is not None:
        return [opts.date]
    if opts.source is not None or opts.ranged:
        with ctx.session() as session:
            stored = store.announcement_dates(
                session, opts.categories, date_from=opts.date_from, date_to=opts.date_to
            )
        if opts.source is not None and not opts.ranged:
            return sorted(set(fetched.dates) & set(stored)) or fetched.dates
        return stored
    return fetched.dates


def stored_days(ctx: FetchContext, opts: Options) -> list[dt.date]:
    """The dates of a score or report step that fetches nothing (``--date``, else the
    newest stored listing: not today's calendar date, which may not be fetched yet; after
    adding a profile, ``report`` must still write something)."""
    if opts.date is not None:
        return [check_date(ctx, opts.date)]
    if opts.ranged:
        return []
    with ctx.session() as session:
        newest = store.newest_announcement(session, opts.categories)
    if newest is None:
        log.warning("the database holds no listing yet: run `arxivfilter fetch` first")
        return []
    return [newest]


def warn_unstored(ctx: FetchContext, opts: Options, days: Sequence[dt.date]) -> None:
    """score/report of a date with no stored paper do nothing: say so (a missing fetch, or
    no --date given while the latest listing is not fetched yet)."""
    with ctx.session() as session:
        stored = store.dates_with_papers(session, days, opts.categories)
    empty = [d for d in days if d not in stored]
    for d in empty:
        log.warning(
            "no paper is stored for this date: fetch it first, or give --date",
            date=d.isoformat(),
        )


# --------------------------------------------------------------------------- papers by id


def ensure_examples(ctx: FetchContext, wanted: set[str]) -> None:
    """Store the papers ``wanted`` (the profiles' liked examples), fetched once by id.

    The responses are archived under ``data/raw/examples/`` and the ids asked for are
    recorded there, so an id arXiv does not know is not asked for again. Failure is a
    warning: the local scorer then falls back to its lexical score.
    """
    if not wanted:
        return
    with ctx.session() as session:
        have = store.stored_ids(session, wanted)
    folder = Path(ctx.settings.storage.raw_dir) / "examples"
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
        found = fetch_by_ids(ctx.arxiv, ctx.settings, missing, folder)
    except ArxivFilterError as exc:
        log.warning(
            "could not fetch the profiles' liked examples", count=len(missing), error=str(exc)
        )
        return
    with ctx.session() as session:
        store.store_papers(session, found.values())
    write_json(asked_path, sorted(asked | set(missing)))
    log.info("fetched the profiles' liked examples", asked=len(missing), found=len(found))
