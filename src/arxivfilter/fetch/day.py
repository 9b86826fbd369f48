"""The latest listing from rss.arxiv.org, papers by id from the export API, the archive of
earlier fetches, and the replay of recorded data.

The latest listing: one RSS request for all categories joined with ``+``, per category
when the feed hits its 2,000 cap; then the export API by id, in batches, for what the feed
lacks (primary category, comment, journal ref, DOI, dates). Which source serves which date
is decided in one place, :mod:`arxivfilter.fetch.stage`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from arxivfilter.config import Settings
from arxivfilter.errors import FeedError, UpstreamError
from arxivfilter.fetch.api import id_list_url, parse_api
from arxivfilter.fetch.http import ArxivClient, looks_like_xml, write_json
from arxivfilter.fetch.replay import iter_source, read_source
from arxivfilter.fetch.rss import parse_rss, rss_url
from arxivfilter.ingest import fill_from
from arxivfilter.models import Entry

log = structlog.get_logger(__name__)

RSS_CAP = 2000
COMPLETE = "complete.json"


@dataclass
class FetchResult:
    """What a fetch produced, and how."""

    date: dt.date | None
    entries: list[Entry] = field(default_factory=list)
    source: str = "none"  # rss | archive | replay | pastweek | api-window | none
    reason: str = ""
    requests: int = 0
    waited_s: float = 0.0
    note: str | None = None  # "no announcement on D (a Saturday)"
    # replay: damaged source records by the date they belong to (None: unknown)
    damaged: dict[dt.date | None, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- merging


def merge_entries(entries: Sequence[Entry]) -> list[Entry]:
    """One entry per (id, date): listing entries (with an announce type) win, others fill them.

    Entries with no date are kept as they are (the caller gives them ``--date``).
    """
    groups: dict[tuple[str, dt.date | None], list[Entry]] = {}
    for e in entries:
        groups.setdefault((e.arxiv_id, e.announce_date), []).append(e)
    out: list[Entry] = []
    for group in groups.values():
        typed = [e for e in group if e.announce_type is not None]
        base_pool = typed or group
        base = max(base_pool, key=lambda e: e.version or 0)
        for other in group:
            if other is not base and other.source in ("api", "oai", "jsonl", "export"):
                base = fill_from(base, other)
        out.append(base)
    return sorted(out, key=lambda e: (e.announce_date or dt.date.min, e.arxiv_id))


# --------------------------------------------------------------------------- archive


def archive_dir(settings: Settings, date: dt.date) -> Path:
    return Path(settings.storage.raw_dir) / date.isoformat()


def archived_categories(folder: Path) -> list[str] | None:
    """Categories of a complete earlier fetch of this folder, else None."""
    marker = folder / COMPLETE
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        return list(data["categories"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def mark_complete(folder: Path, *, categories: Sequence[str], source: str, requests: int) -> None:
    record = {"categories": list(categories), "source": source, "requests": requests}
    write_json(folder / COMPLETE, record)


def replay_archive(folder: Path, date: dt.date) -> list[Entry]:
    entries = [e for e in read_source(folder, date=date) if e.announce_date in (None, date)]
    return [
        e if e.announce_date else e.model_copy(update={"announce_date": date})
        for e in merge_entries(entries)
    ]


# --------------------------------------------------------------------------- live


def fill_by_id(
    client: ArxivClient,
    settings: Settings,
    entries: list[Entry],
    folder: Path,
    progress: Callable[[int], None] | None = None,
) -> list[Entry]:
    """Complete listing entries with export-API metadata, ``api_batch_size`` ids per request."""
    meta = fetch_by_ids(client, settings, sorted({e.arxiv_id for e in entries}), folder, progress)
    return [fill_from(e, meta[e.arxiv_id]) if e.arxiv_id in meta else e for e in entries]


def fetch_by_ids(
    client: ArxivClient,
    settings: Settings,
    ids: Sequence[str],
    folder: Path,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Entry]:
    """Export-API metadata of ``ids``, ``api_batch_size`` per request (an empty page asked twice)."""
    meta: dict[str, Entry] = {}
    size = settings.arxiv.api_batch_size
    for i in range(0, len(ids), size):
        batch = ids[i : i + size]
        url = id_list_url(settings.arxiv.api_url, list(batch), max_results=len(batch))
        page = parse_api(client.get(url, archive_dir=folder, validate=looks_like_xml).body, url)
        if not page.entries and batch:
            log.warning("empty export-API page, asking once more", url=url)
            page = parse_api(client.get(url, archive_dir=folder, validate=looks_like_xml).body, url)
        for m in page.entries:
            meta[m.arxiv_id] = m
        if progress:
            progress(len(batch))
    missing = [i for i in ids if i not in meta]
    if missing:
        log.warning(
            "export API knew nothing of some requested papers", count=len(missing), first=missing[0]
        )
    return meta


def fetch_rss(
    client: ArxivClient,
    settings: Settings,
    date: dt.date,
    categories: Sequence[str],
    folder: Path,
) -> list[Entry]:
    """Today's listing from rss.arxiv.org (one request; per category at the 2,000 cap)."""
    url = rss_url(settings.arxiv.rss_url, list(categories))
    raw = client.get(url, archive_dir=folder, validate=looks_like_xml)
    listing = parse_rss(raw.body, url)
    _check_listing_date(listing.date, date, url)
    entries = list(listing.entries)
    if listing.item_count >= RSS_CAP and len(categories) > 1:
        log.info("feed reached its cap, fetching per category", items=listing.item_count)
        entries = []
        for cat in categories:
            cat_url = rss_url(settings.arxiv.rss_url, [cat])
            part = parse_rss(
                client.get(cat_url, archive_dir=folder, validate=looks_like_xml).body, cat_url
            )
            _check_listing_date(part.date, date, cat_url)
            entries.extend(part.entries)
    elif listing.item_count >= RSS_CAP:
        log.warning(
            "feed of one category reached its cap: some papers may be missing",
            items=listing.item_count,
        )
    if not entries:
        raise UpstreamError(
            f"the feed for {date} is empty on a mailing day that is not a known holiday: "
            f"treating it as an arXiv outage ({url})",
            url=url,
        )
    return merge_entries(entries)


def _check_listing_date(found: dt.date | None, wanted: dt.date, url: str) -> None:
    if found is None:
        raise FeedError(
            f"the feed at {url} carries no pubDate: cannot tell which listing it is", url=url
        )
    if found != wanted:
        raise UpstreamError(
            f"the feed at {url} still holds the listing of {found}, not {wanted}: "
            "the feeds are rebuilt around midnight Eastern; try again later",
            url=url,
        )


def fetch_replay(path: Path, *, date: dt.date | None = None) -> FetchResult:
    """Every entry of a recorded source (``--source``), merged per (id, date). No network."""
    return next(iter_replay(path, date=date, part=None))


def iter_replay(
    path: Path, *, date: dt.date | None = None, part: int | None = 5_000
) -> Iterator[FetchResult]:
    """:func:`fetch_replay` in parts of about ``part`` entries (None: one part), so a large
    replay is never held whole (#23: 100,000 papers peaked at 451 MiB).

    A part ends only between two files when every date of the next file comes after every
    date already read, and no entry lacks a date: each part then holds whole days, in order,
    exactly as nightly replays of those days would (stored one after the other, they give
    the rows one replay gives). A source in any other order stays one part. The damaged
    records are counted on the last part.
    """
    damaged: dict[dt.date | None, int] = {}
    pending: list[Entry] = []
    newest: dt.date | None = None
    undated = False
    for found in iter_source(path, date=date, require_entries=True, damage=damaged):
        if not found:
            continue
        days = {e.announce_date or date for e in found}
        known = [d for d in days if d is not None]
        ordered = len(known) == len(days) and newest is not None and min(known) > newest
        if part is not None and len(pending) >= part and ordered and not undated:
            yield _replayed(path, date, pending, {})
            pending = []
        pending.extend(found)
        undated = undated or len(known) < len(days)
        if known:
            newest = max([*known, newest] if newest is not None else known)
    yield _replayed(path, date, pending, damaged)


def _replayed(
    path: Path, date: dt.date | None, entries: list[Entry], damaged: dict[dt.date | None, int]
) -> FetchResult:
    merged = [
        e if e.announce_date else e.model_copy(update={"announce_date": date})
        for e in merge_entries(entries)
    ]
    return FetchResult(
        date=date, entries=merged, source="replay", reason=f"replaying {path}", damaged=damaged
    )
