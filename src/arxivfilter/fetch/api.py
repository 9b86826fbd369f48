"""The export API (``export.arxiv.org/api/query``): Atom pages, bytes -> Entry.

Reads both the 2025+ backend (``https://arxiv.org/api/...`` feed ids, ``arXiv Query:``
titles) and the legacy form. The API's errors arrive as an Atom feed with one entry whose
id holds ``api/errors#...``: those raise :class:`~arxivfilter.errors.FeedError`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import structlog

from arxivfilter.errors import FeedError
from arxivfilter.fetch.feedparse import parse_feed
from arxivfilter.models import Entry
from arxivfilter.text import (
    clean_categories,
    is_category,
    normalise,
    normalise_author,
    parse_arxiv_id,
)

log = structlog.get_logger(__name__)

_ERROR_MARK = "api/errors#"


@dataclass
class ApiPage:
    """One export-API response: the total and start the API reports, and its entries."""

    total: int | None
    start: int | None
    entries: list[Entry] = field(default_factory=list)


def id_list_url(base: str, ids: list[str], max_results: int) -> str:
    """The export-API URL asking for ``ids`` (comma-joined) in one page."""
    params = {"id_list": ",".join(ids), "start": 0, "max_results": max_results}
    return f"{base}?{urlencode(params, safe=',', quote_via=quote)}"


def query_url(base: str, search_query: str, start: int, max_results: int) -> str:
    """The export-API URL for one page of ``search_query``, oldest submission first."""
    params = {
        "search_query": search_query,
        "start": start,
        "max_results": max_results,
        "sortBy": "submittedDate",
        "sortOrder": "ascending",
    }
    return f"{base}?{urlencode(params, safe=':', quote_via=quote)}"


def parse_api(body: bytes, url: str) -> ApiPage:
    """Parse one export-API Atom page strictly; an API error entry raises FeedError."""
    parsed = parse_feed(body, url)
    for item in parsed.entries:
        if _ERROR_MARK in str(item.get("id", "")):
            summary = normalise(str(item.get("summary", ""))) or str(item.get("id"))
            raise FeedError(f"arXiv API error for {url}: {summary}", url=url)
    entries = [e for e in (_entry(item, url) for item in parsed.entries) if e is not None]
    return ApiPage(
        total=_int(parsed.feed.get("opensearch_totalresults")),
        start=_int(parsed.feed.get("opensearch_startindex")),
        entries=entries,
    )


def _entry(item: Any, url: str) -> Entry | None:
    try:
        arxiv_id, version = parse_arxiv_id(str(item.get("id", "")))
    except ValueError:
        log.warning("export-API entry without an arXiv id skipped", url=url, id=item.get("id"))
        return None
    categories = clean_categories([str(t.get("term", "")) for t in item.get("tags", [])])
    primary = item.get("arxiv_primary_category") or {}
    primary_term = str(primary.get("term", "")).strip() or None
    if primary_term and is_category(primary_term) and primary_term not in categories:
        categories.insert(0, primary_term)
    # names only: <arxiv:affiliation> sits beside <name> and never enters it
    authors = [normalise_author(str(a.get("name", ""))) for a in item.get("authors", [])]
    return Entry(
        arxiv_id=arxiv_id,
        version=version,
        title=normalise(str(item.get("title", ""))),
        authors=[a for a in authors if a],
        abstract=normalise(str(item.get("summary", ""))),
        categories=categories,
        primary_category=primary_term or (categories[0] if categories else None),
        comment=_optional(item.get("arxiv_comment")),
        journal_ref=_optional(item.get("arxiv_journal_ref")),
        doi=_optional(item.get("arxiv_doi")),
        published=_moment(item.get("published")),
        updated=_moment(item.get("updated")),
        source="api",
    )


def _optional(value: object) -> str | None:
    return normalise(str(value)) or None if value else None


def _moment(raw: object) -> dt.datetime | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip()) if value is not None else None
    except ValueError:
        return None
