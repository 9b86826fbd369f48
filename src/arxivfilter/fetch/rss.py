"""rss.arxiv.org: today's listing as RSS 2.0 (``/rss/``) or Atom (``/atom/``), bytes -> Entry.

Each item says ``arXiv:2411.16552v1 Announce Type: cross Abstract: ...``; the feed's own
``pubDate`` (in America/New_York) is the listing date, never the clock. The feed lacks the
true primary category, comment and journal reference: the orchestrator fills those by id
from the export API, so ``primary_category`` here is provisional (the first category).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

import structlog

from arxivfilter.errors import FeedError
from arxivfilter.fetch.feedparse import parse_feed
from arxivfilter.models import ANNOUNCE_TYPES, AnnounceType, Entry
from arxivfilter.text import (
    clean_categories,
    normalise,
    normalise_author,
    parse_arxiv_id,
    split_creators,
)

log = structlog.get_logger(__name__)

NEW_YORK = ZoneInfo("America/New_York")
_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce\s+Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:\s*(?P<abs>.*))?$",
    re.DOTALL | re.IGNORECASE,
)
_GUID_PREFIX = re.compile(r"^oai:arXiv\.org:", re.IGNORECASE)
_FEED_ERROR = "Feed error for query"


@dataclass
class RssListing:
    """One rss.arxiv.org response: its listing date, its entries (one per paper), its item count."""

    date: dt.date | None
    entries: list[Entry] = field(default_factory=list)
    item_count: int = 0


def rss_url(base: str, categories: list[str], atom: bool = False) -> str:
    """``https://rss.arxiv.org/rss/cs.DC+cs.OS`` (or ``/atom/...``) from a base with or without ``/rss/``."""
    root = base.rstrip("/")
    for suffix in ("/rss", "/atom"):
        if root.endswith(suffix):
            root = root[: -len(suffix)]
    return f"{root}/{'atom' if atom else 'rss'}/{'+'.join(categories)}"


def parse_rss(body: bytes, url: str) -> RssListing:
    """Parse an rss.arxiv.org feed (RSS 2.0 or Atom) strictly into entries.

    Zero items is not an error here (the caller decides outage vs holiday); the
    "Feed error for query" channel is. Duplicated items keep the highest version.
    """
    parsed = parse_feed(body, url)
    channel = parsed.feed
    title = str(channel.get("title", ""))
    if title.startswith(_FEED_ERROR):
        reason = normalise(str(channel.get("subtitle", ""))) or title
        raise FeedError(f"arXiv RSS feed error for {url}: {reason}", url=url)
    items = list(parsed.entries)
    date = _listing_date(channel, items)
    if date is None and items:
        log.warning("feed has no publication date", url=url)
    kept: dict[str, Entry] = {}
    for item in items:
        entry = _entry(item, date, url)
        if entry is None:
            continue
        previous = kept.get(entry.arxiv_id)
        if previous is not None:
            log.warning(
                "duplicated item in feed",
                url=url,
                arxiv_id=entry.arxiv_id,
                versions=[previous.version, entry.version],
            )
            if (entry.version or 0) <= (previous.version or 0):
                continue
        kept[entry.arxiv_id] = entry
    return RssListing(date=date, entries=list(kept.values()), item_count=len(items))


def _listing_date(channel: Any, items: list[Any]) -> dt.date | None:
    """The channel's pubDate as a New York date; else an item's (Atom entries carry the
    announcement date in ``published``); the build time (``updated``) only as a last resort."""
    candidates = [channel.get("published")]
    candidates += [item.get("published") for item in items[:1]]
    candidates.append(channel.get("updated"))
    for raw in candidates:
        moment = _parse_moment(raw)
        if moment is not None:
            return moment.astimezone(NEW_YORK).date()
    return None


def _parse_moment(raw: object) -> dt.datetime | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    value = raw.strip()
    moment: dt.datetime | None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if moment.tzinfo is None:  # a date without a zone is already the listing's own
        moment = moment.replace(tzinfo=NEW_YORK)
    return moment


def _entry(item: Any, date: dt.date | None, url: str) -> Entry | None:
    description = str(item.get("summary", "") or "")
    match = _DESCRIPTION.match(description)
    raw_id = match.group("id") if match else _GUID_PREFIX.sub("", str(item.get("id", "")))
    try:
        arxiv_id, version = parse_arxiv_id(raw_id)
    except ValueError:
        log.warning("feed item without an arXiv id skipped", url=url, guid=item.get("id"))
        return None
    abstract = match.group("abs") if match and match.group("abs") else ""
    if not abstract.strip():
        log.warning("feed item without abstract", url=url, arxiv_id=arxiv_id)
    categories = clean_categories([str(t.get("term", "")) for t in item.get("tags", [])])
    return Entry(
        arxiv_id=arxiv_id,
        version=version,
        title=normalise(str(item.get("title", ""))),
        authors=_authors(item),
        abstract=normalise(abstract),
        categories=categories,
        primary_category=categories[0] if categories else None,
        announce_date=date,
        announce_type=_announce_type(item, match, arxiv_id, url),
        source="rss",
    )


def _announce_type(
    item: Any, match: re.Match[str] | None, arxiv_id: str, url: str
) -> AnnounceType | None:
    raw = str(item.get("arxiv_announce_type") or (match.group("type") if match else "")).strip()
    value = raw.lower()
    if value in ANNOUNCE_TYPES:
        return cast(AnnounceType, value)
    log.warning("feed item with unknown announce type", url=url, arxiv_id=arxiv_id, type=raw)
    return None


def _authors(item: Any) -> list[str]:
    """``dc:creator`` is one comma-joined string (affiliations in parentheses, kept apart);
    an Atom form with one ``<author>`` per person is taken as it is."""
    people = [str(a.get("name", "")) for a in item.get("authors", []) if a.get("name")]
    if not people and item.get("author"):
        people = [str(item.get("author"))]
    if len(people) == 1:
        return [name for name, _affiliation in split_creators(people[0])]
    names = [normalise_author(p) for p in people]
    return [n for n in names if n]
