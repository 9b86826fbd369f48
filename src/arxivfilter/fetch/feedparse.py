"""Strict feed parsing: feedparser behind the checks it does not make itself.

feedparser hides faults: it returns the first half of a truncated feed (only ``bozo``
says so), zero entries with no flag for an HTML page, and re-decodes a whole feed as
windows-1252 over one bad byte. :func:`parse_feed` decodes the bytes as UTF-8 itself and
turns each of those into a :class:`~arxivfilter.errors.FeedError` naming the URL.
:func:`sniff_kind` tells replay what a file holds, by content.
"""

from __future__ import annotations

import io
import json
import re
from typing import Literal

import feedparser
import structlog

from arxivfilter.errors import FeedError

log = structlog.get_logger(__name__)

Kind = Literal["rss", "atom-rss", "api", "oai", "archive", "jsonl", "export", "html"]

# Lone surrogates produced by ``surrogateescape``: one per byte that is not valid UTF-8.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_ESCAPED_RUN = re.compile("[\udc80-\udcff]+")
# Prolog before the root element: XML declaration, comments, processing instructions, DOCTYPE.
_PROLOG = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.DOTALL | re.IGNORECASE)
_ROOT = re.compile(r"\s*<(?:[A-Za-z_][\w.-]*:)?(?P<name>[A-Za-z_][\w.-]*)")
_HEAD = 4096  # bytes looked at to recognise a body
# feedparser is told the body is UTF-8 (the HTTP header wins over the XML declaration, RFC 3023).
_UTF8_XML = {"content-type": "application/xml; charset=utf-8"}


def decode_utf8(body: bytes, url: str) -> str:
    """Decode ``body`` as UTF-8; each run of invalid bytes becomes U+FFFD and is logged."""
    text = body.decode("utf-8", errors="surrogateescape")
    bad = len(_ESCAPED_BYTE.findall(text))
    if bad:
        log.warning("invalid UTF-8 replaced", url=url, bytes=bad)
        text = _ESCAPED_RUN.sub("\ufffd", text)
    return text.removeprefix("\ufeff")


def _looks_html(text: str) -> bool:
    head = text.lstrip()[:_HEAD].lower()
    if head.startswith(("<!doctype html", "<html")):
        return True
    return _root_name(text) == "html"


def _root_name(text: str) -> str | None:
    """Local name of the first element after the prolog, or None when there is none."""
    pos = 0
    while True:
        m = _PROLOG.match(text, pos)
        if not m:
            break
        pos = m.end()
    m = _ROOT.match(text, pos)
    return m.group("name") if m else None


def parse_feed(body: bytes, url: str) -> feedparser.FeedParserDict:
    """Parse an RSS/Atom body strictly; raise FeedError (naming ``url``) for anything else.

    Errors: a blank body, an HTML page, a body that is not XML, a bozo XML error (a
    truncated feed), an encoding override, and a document feedparser gives no version.
    """
    if not body.strip():
        raise FeedError(f"blank body where a feed was expected: {url}", url=url)
    text = decode_utf8(body, url)
    if _looks_html(text):
        raise FeedError(f"an HTML page where a feed was expected: {url}", url=url)
    if not text.lstrip().startswith("<"):
        raise FeedError(f"not XML where a feed was expected: {url}", url=url)
    parsed = feedparser.parse(
        io.BytesIO(text.encode("utf-8")),
        response_headers=_UTF8_XML,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        kind = type(exc).__name__ if exc is not None else "unknown"
        raise FeedError(f"malformed feed from {url}: {kind}: {exc}", url=url)
    if not parsed.get("version"):
        raise FeedError(f"not an RSS or Atom feed: {url}", url=url)
    return parsed


def sniff_kind(body: bytes) -> Kind | None:
    """What a body holds, by content: a feed form, an archived response, a JSONL dump, ..."""
    head = body[:_HEAD].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not head:
        return None
    if head.startswith("{"):
        return _sniff_json(body)
    if not head.startswith("<"):
        return None
    if _looks_html(head):
        return "html"
    root = _root_name(head)
    if root == "rss":
        return "rss"
    if root == "OAI-PMH":
        return "oai"
    if root == "feed":
        if "announce_type" in head or "rss.arxiv.org" in head or "oai:arXiv.org:" in head:
            return "atom-rss"
        if "opensearch" in head or "arxiv.org/api" in head:
            return "api"
        # an Atom feed whose header says nothing: look at the first entry
        if "announce_type" in body.decode("utf-8", errors="replace"):
            return "atom-rss"
        return "api"
    return None


def _sniff_json(body: bytes) -> Kind | None:
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        if {"url", "status_code", "body"} <= whole.keys():
            return "archive"
        return _sniff_record(whole)
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        record = json.loads(first)
    except ValueError:
        return None
    return _sniff_record(record) if isinstance(record, dict) else None


def _sniff_record(record: dict[str, object]) -> Kind | None:
    if "schema" in record and "arxiv_id" in record:
        return "export"
    if "id" in record and ("title" in record or "summary" in record):
        return "jsonl"
    return None
