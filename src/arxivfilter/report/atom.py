"""The Atom feed ``digests/<profile>/feed.xml``: listed papers of the last ``days`` days.

Built with :mod:`xml.etree.ElementTree` (which escapes), after removing the characters
XML 1.0 forbids. Every timestamp is 00:00 America/New_York of a listing date, the window
counts back from the newest announcement in the database, and entry ids are the papers'
arXiv URLs, so the same papers render the same bytes.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

from arxivfilter.config import Profile
from arxivfilter.dates import listing_midnight
from arxivfilter.models import ListedPaper
from arxivfilter.report.digest import excerpt, is_listed
from arxivfilter.report.escape import safe_url, tex_plain, xml_text

ATOM_NS = "http://www.w3.org/2005/Atom"


def _stamp(day: dt.date) -> str:
    return listing_midnight(day).isoformat()


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def feed_papers(
    papers: Iterable[ListedPaper], threshold: int, *, newest: dt.date, days: int = 30
) -> list[ListedPaper]:
    """The listed papers dated in ``(newest - days, newest]``, one per arxiv_id (its latest
    listing), newest date first, then relevance, then arxiv_id."""
    start = newest - dt.timedelta(days=days)
    latest: dict[str, ListedPaper] = {}
    for p in papers:
        if not (start < p.date <= newest) or not is_listed(p, threshold):
            continue
        cur = latest.get(p.arxiv_id)
        if cur is None or p.date > cur.date:
            latest[p.arxiv_id] = p
    return sorted(
        latest.values(),
        key=lambda p: (-p.date.toordinal(), -(p.relevance or 0), p.arxiv_id),
    )


def _summary(p: ListedPaper) -> str:
    hype = f", hype {p.hype}/100" if p.hype is not None else ""
    parts = [f"Relevance {p.relevance}/100{hype}."]
    if p.updated_version is not None:
        parts.append(f"Updated v{p.updated_version}.")
    for label, value in (("TL;DR", tex_plain(p.tldr)), ("Why", p.reason)):
        if xml_text(value):
            parts.append(f"{label}: {xml_text(value)}")
    abstract = xml_text(tex_plain(excerpt(p.abstract, 400)))
    if abstract:
        parts.append(f"Abstract: {abstract}")
    return "\n".join(parts)


def _entry(feed: ET.Element, p: ListedPaper) -> None:
    entry = _sub(feed, "entry")
    _sub(entry, "id", safe_url(p.arxiv_id))
    _sub(entry, "title", xml_text(tex_plain(p.title)) or "(untitled)", type="text")
    _sub(entry, "link", rel="alternate", type="text/html", href=safe_url(p.arxiv_id))
    _sub(
        entry,
        "link",
        rel="related",
        type="application/pdf",
        title="PDF",
        href=safe_url(p.arxiv_id, "pdf"),
    )
    _sub(entry, "published", _stamp(p.date))
    _sub(entry, "updated", _stamp(p.date))
    for name in (xml_text(a) for a in p.authors):
        if name:
            _sub(_sub(entry, "author"), "name", name)
    for tag in (xml_text(t) for t in p.tags):
        if tag:
            _sub(entry, "category", term=tag)
    _sub(entry, "summary", _summary(p), type="text")


def render_feed(
    profile: Profile,
    papers: list[ListedPaper],
    *,
    newest: dt.date,
    days: int = 30,
    site_url: str = "",
    repository: str = "",
    digests_path: str = "digests",
    installation: str = "",
) -> str:
    """The Atom feed of ``profile`` (``papers``: judged papers of any dates; the listing rule
    and the ``days``-day window ending at ``newest`` pick the entries).

    Its id and ``rel="self"`` link are unique to the installation: ``site_url`` (the public
    http(s) URL of the profile's digest folder), else the GitHub ``repository`` (owner/name:
    the feed's raw URL, the folder's page as ``alternate``), else a URN naming
    ``installation`` if given; with neither, ``urn:arxivfilter:<profile>`` and no self link
    (set ``[report] site_url`` to publish a feed).
    """
    name = xml_text(profile.name)
    base = site_url.rstrip("/")
    if base and urlsplit(base).scheme not in ("http", "https"):
        raise ValueError(f"site_url must be an http(s) URL: {site_url!r}")
    self_url = alternate = ""
    if base:
        self_url, alternate = f"{base}/feed.xml", f"{base}/"
    elif repository:
        folder = "/".join(quote(p) for p in (*digests_path.strip("/").split("/"), profile.name))
        self_url = f"https://raw.githubusercontent.com/{repository}/HEAD/{folder}/feed.xml"
        alternate = f"https://github.com/{repository}/tree/HEAD/{folder}"
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    if self_url:
        feed_id = self_url
    elif installation:
        feed_id = f"urn:arxivfilter:{quote(installation, safe='')}:{quote(name, safe='')}"
    else:
        feed_id = f"urn:arxivfilter:{quote(name, safe='')}"
    _sub(feed, "id", feed_id)
    _sub(feed, "title", f"arxivfilter: {name}", type="text")
    description = xml_text(profile.description)
    if description:
        _sub(feed, "subtitle", description, type="text")
    _sub(feed, "updated", _stamp(newest))
    _sub(_sub(feed, "author"), "name", "arxivfilter")
    if self_url:
        _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
        _sub(feed, "link", rel="alternate", type="text/html", href=alternate)
    for p in feed_papers(papers, profile.threshold, newest=newest, days=days):
        _entry(feed, p)
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, "unicode") + "\n"
