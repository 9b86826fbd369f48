"""Past days and ranges from live arXiv: listing pages, export-API windows, OAI-PMH.

The sources (which one serves which date is decided in :mod:`arxivfilter.fetch.stage`):
  * one of the last five mailings before the latest: ``/list/<cat>/pastweek`` (new
    submissions and cross-lists of the last five mailings, paged with ``skip``), then the
    export API by id for the metadata. Exact dates, no replacements.
  * an older single day: the export API's ``submittedDate`` window of that mailing
    (14:00 ET on the mailing day before the previous announcement up to 14:00 ET on the
    announcing day), one page of up to 2,000 per window. New submissions and cross-lists
    only, dates approximate (marked so in the stored rows).
  * a range (``--from/--to``): OAI-PMH ``ListRecords`` per subject set with ``arXivRaw``
    from D1 (no ``until``: OAI selects by last modification), each version's submission
    time mapped to its mailing through the calendar; rows marked derived. Includes
    replacements (later versions).
rss.arxiv.org also leaves out replacements from version 6 on, so RSS days can miss late
updates; the OAI range fills those in.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import structlog

from arxivfilter import dates
from arxivfilter.config import Settings
from arxivfilter.errors import FeedError
from arxivfilter.fetch.api import parse_api, query_url
from arxivfilter.fetch.day import FetchResult, fill_by_id, merge_entries
from arxivfilter.fetch.http import ArxivClient, decode_archive, looks_like_xml, write_json
from arxivfilter.fetch.listing import iter_listing_pages, merge_days
from arxivfilter.fetch.oai import OaiPage, iter_pages, parse_oai, to_entries
from arxivfilter.models import AnnounceType, Entry

log = structlog.get_logger(__name__)

API_PAGE = 2000


def _looks_like_html(body: bytes) -> str | None:
    head = body.lstrip()[:300].lower()
    if not head:
        return "blank body"
    if b"<html" not in head and b"<!doctype" not in head:
        return "a body that is not HTML"
    return None


def fetch_pastweek(
    settings: Settings,
    client: ArxivClient,
    date: dt.date,
    categories: Sequence[str],
    *,
    folder: Path,
) -> list[Entry]:
    """New submissions and cross-lists of ``date`` from the pastweek listings, then metadata by id."""

    def get(url: str) -> bytes:
        return client.get(url, archive_dir=folder, validate=_looks_like_html).body

    items: dict[str, tuple[AnnounceType, int | None]] = {}
    for cat in categories:
        pages = list(iter_listing_pages(get, settings.arxiv.listing_url, cat))
        for item in merge_days(pages).get(date, []):
            kind: AnnounceType = "new" if item.kind == "new" else "cross"
            if item.arxiv_id not in items or kind == "new":
                items[item.arxiv_id] = (kind, item.version)
    entries = [
        Entry(
            arxiv_id=i,
            version=v,
            title="",
            announce_date=date,
            announce_type=k,
            source="listing",
        )
        for i, (k, v) in sorted(items.items())
    ]
    if not entries:
        return []
    filled = fill_by_id(client, settings, entries, folder)
    return [e for e in filled if e.title]


def fetch_api_window(
    settings: Settings,
    client: ArxivClient,
    date: dt.date,
    categories: Sequence[str],
    *,
    folder: Path,
) -> list[Entry]:
    """Papers first submitted in ``date``'s submission window (one page of up to 2,000 when possible)."""
    holidays = settings.holiday_dates
    cats = " OR ".join(f"cat:{c}" for c in categories)
    query = f"({cats}) AND {dates.api_window_query(date, holidays)}"
    entries: list[Entry] = []
    start = 0
    total: int | None = None
    while total is None or start < total:
        url = query_url(settings.arxiv.api_url, query, start, API_PAGE)
        page = parse_api(client.get(url, archive_dir=folder, validate=looks_like_xml).body, url)
        if not page.entries and start == 0:
            log.warning("empty export-API window page, asking once more", url=url)
            page = parse_api(client.get(url, archive_dir=folder, validate=looks_like_xml).body, url)
        total = page.total or 0
        if not page.entries:
            if start < total:
                raise FeedError(
                    f"the export API answered an empty page at offset {start} of {total} for {url}",
                    url=url,
                )
            break
        entries.extend(page.entries)
        start += len(page.entries)
    return [
        e.model_copy(update={"announce_date": date, "approximate": True, "announce_type": None})
        for e in entries
    ]


# --------------------------------------------------------------------------- OAI ranges


def set_spec(category: str) -> str:
    """``cs.DC`` -> ``cs:cs:DC``; ``hep-th`` -> ``physics:hep-th``-style sets are left to the archive."""
    archive, _, sub = category.partition(".")
    return f"{archive}:{archive}:{sub}" if sub else archive


def _new_progress() -> dict[str, object]:
    """The harvest state of a set not harvested yet."""
    return {"pages": [], "token": None, "done": False}


def _read_progress(path: Path) -> dict[str, object]:
    """A set's harvest state ``{pages, token, done}``; a fresh one when the file is missing,
    unreadable or not of that shape (a warning: the set is harvested again)."""
    if not path.is_file():
        return _new_progress()
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = None
    if (
        isinstance(state, dict)
        and isinstance(state.get("pages"), list)
        and all(isinstance(n, str) and "/" not in n for n in state["pages"])
        and isinstance(state.get("token"), str | None)
        and isinstance(state.get("done"), bool)
    ):
        return state
    log.warning("OAI-PMH harvest progress unreadable: harvesting this set again", path=str(path))
    return _new_progress()


def _archived_page(path: Path) -> OaiPage:
    """One OAI-PMH page read back from the archive (ValueError or FeedError if unusable)."""
    url, status, raw = decode_archive(path.read_text(encoding="utf-8"))
    if status != 200 or raw is None:
        raise ValueError(f"{path.name}: not an archived 200 response")
    return parse_oai(raw, url or str(path))


def harvest_range(
    settings: Settings,
    client: ArxivClient,
    date_from: dt.date,
    date_to: dt.date,
    categories: Sequence[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> FetchResult:
    """Everything announced in ``date_from..date_to`` per OAI-PMH (resumable through the archive).

    Pages are archived under ``data/raw/oai-<from>-<to>/<set>/`` with a ``progress.json`` that
    records the pages read and the next resumption token, so an interrupted harvest replays
    what it has and goes on from the token.
    """
    listing_for = partial(dates.listing_for_submission, holidays=settings.holiday_dates)
    # keyed by the whole range: a later, longer range must harvest again (records announced
    # after a finished harvest are not in its pages)
    root = Path(settings.storage.raw_dir) / f"oai-{date_from.isoformat()}-{date_to.isoformat()}"
    entries: list[Entry] = []
    before, before_wait = client.requests, client.waited

    def read(page: OaiPage) -> None:
        for rec in page.records:
            entries.extend(to_entries(rec, listing_for, start=date_from, end=date_to))

    for cat in categories:
        spec = set_spec(cat)
        folder = root / spec.replace(":", "_")
        _harvest_set(settings, client, spec, folder, date_from, read=read, progress=progress)
    return FetchResult(
        date=None,
        entries=merge_entries(entries),
        source="oai",
        reason=f"OAI-PMH harvest of {', '.join(set_spec(c) for c in categories)} from {date_from}",
        requests=client.requests - before,
        waited_s=client.waited - before_wait,
    )


def _harvest_set(
    settings: Settings,
    client: ArxivClient,
    spec: str,
    folder: Path,
    date_from: dt.date,
    *,
    read: Callable[[OaiPage], None],
    progress: Callable[[int], None] | None,
) -> None:
    """One OAI set: the pages an earlier harvest archived read back, then the rest harvested
    from its resumption token, the progress file rewritten after each new page."""
    state_path = folder / "progress.json"
    pages, done_pages, state = _resume(folder, spec)
    for page in done_pages:
        read(page)
        if progress:
            progress(len(page.records))
    if state.get("done"):
        return
    token = state.get("token")
    get = _ArchivingGet(client, folder)
    for page in iter_pages(
        get,
        settings.arxiv.oai_url,
        set_spec=None if token else spec,
        from_date=None if token else date_from,
        resumption_token=token if isinstance(token, str) else None,
    ):
        read(page)
        if get.last is not None:
            pages.append(get.last.name)
        state = {
            "pages": pages,
            "token": page.resumption_token,
            "done": page.resumption_token is None,
        }
        write_json(state_path, state)
        if progress:
            progress(len(page.records))


def _resume(folder: Path, spec: str) -> tuple[list[str], list[OaiPage], dict[str, object]]:
    """A set's archived page names, those pages and its harvest state; all fresh (a warning)
    when an archived page cannot be read back."""
    state = _read_progress(folder / "progress.json")
    pages: list[str] = list(state["pages"])  # type: ignore[call-overload]
    try:
        return pages, [_archived_page(folder / name) for name in pages], state
    except (OSError, ValueError, FeedError) as exc:
        log.warning(
            "an archived OAI-PMH page is unreadable: harvesting this set again",
            set=spec,
            error=str(exc),
        )
        return [], [], _new_progress()


class _ArchivingGet:
    """GETs of one set's pages, archived in its folder; ``last`` is the last page's file."""

    def __init__(self, client: ArxivClient, folder: Path) -> None:
        self.client = client
        self.folder = folder
        self.last: Path | None = None

    def __call__(self, url: str) -> bytes:
        raw = self.client.get(url, archive_dir=self.folder, validate=looks_like_xml)
        self.last = raw.archived
        return raw.body
