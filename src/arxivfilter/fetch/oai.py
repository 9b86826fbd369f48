"""OAI-PMH responses (``ListRecords`` / ``GetRecord``) with metadataPrefix ``arXivRaw`` or ``arXiv``.

Pure functions from bytes to values; the HTTP client (503 + Retry-After) lives elsewhere.

* ``arXivRaw`` carries the version history: ``<version version="v2"><date>Mon, 2 Apr 2007
  19:18:42 GMT</date>...`` (listed in string order: v1, v10, v11, v2 ... -- sorted here),
  one comma-joined ``<authors>`` string and a space-separated ``<categories>`` string
  (primary first).
* ``arXiv`` (tolerated) has structured ``<author><keyname/><forenames/></author>`` and only
  ``<created>``/``<updated>`` dates, no per-version times: :func:`to_entries` cannot place
  such records on a listing date and returns nothing for them.
* Paging: follow ``resumptionToken`` until it is absent or empty; no page size and no
  ``completeListSize`` is assumed (:func:`iter_pages` does this with an injected ``fetch``).
* Errors: ``noRecordsMatch`` is an empty harvest; any other ``<error code=...>`` raises
  FeedError naming the URL and the code.

``from``/``until`` select by last modification, not announcement: map each version's
submission time to its listing date (``dates.listing_for_submission``) and keep the dates
wanted; entries made so are marked ``derived``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode

from arxivfilter.errors import FeedError
from arxivfilter.models import AnnounceType, Entry
from arxivfilter.text import (
    clean_categories,
    normalise,
    normalise_author,
    parse_arxiv_id,
    split_authors,
)

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_O = f"{{{OAI_NS}}}"
EMPTY_CODES = frozenset({"noRecordsMatch"})


@dataclass(frozen=True)
class OaiRecord:
    """One OAI-PMH record. Deleted records carry only the header fields."""

    identifier: str  # oai:arXiv.org:0803.4354
    arxiv_id: str
    datestamp: date | None = None
    set_specs: list[str] = field(default_factory=list)
    deleted: bool = False
    metadata_format: str | None = None  # "arXivRaw", "arXiv", or None (deleted)
    versions: list[tuple[int, datetime]] = field(default_factory=list)  # sorted, UTC
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    abstract: str | None = None
    categories: list[str] = field(default_factory=list)
    primary_category: str | None = None
    comments: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    report_no: str | None = None
    license: str | None = None
    submitter: str | None = None
    created: date | None = None  # arXiv format only
    updated: date | None = None  # arXiv format only

    @property
    def latest_version(self) -> int | None:
        """The highest version number, None when the format gives no versions."""
        return self.versions[-1][0] if self.versions else None


@dataclass
class OaiPage:
    """One OAI-PMH response: its records and the token for the next page (None at the end).

    ``error`` holds a non-fatal error code (``noRecordsMatch``: an empty harvest).
    ``complete_list_size`` and ``cursor`` are informational; arXiv may omit them.
    """

    records: list[OaiRecord]
    resumption_token: str | None = None
    error: str | None = None
    response_date: datetime | None = None
    complete_list_size: int | None = None
    cursor: int | None = None


# --------------------------------------------------------------------------- URLs


def list_records_url(
    base: str,
    *,
    set_spec: str | None = None,
    from_date: date | None = None,
    metadata_prefix: str = "arXivRaw",
    resumption_token: str | None = None,
) -> str:
    """A ``ListRecords`` URL; with a token, only verb and token (the protocol forbids more)."""
    params: dict[str, str] = {"verb": "ListRecords"}
    if resumption_token is not None:
        params["resumptionToken"] = resumption_token
    else:
        params["metadataPrefix"] = metadata_prefix
        if from_date is not None:
            params["from"] = from_date.isoformat()
        if set_spec is not None:
            params["set"] = set_spec
    return f"{base.rstrip('?')}?{urlencode(params, safe=':')}"


def iter_pages(
    fetch: Callable[[str], bytes | str],
    base: str,
    *,
    set_spec: str | None = None,
    from_date: date | None = None,
    metadata_prefix: str = "arXivRaw",
    resumption_token: str | None = None,
    max_pages: int = 10_000,
) -> Iterator[OaiPage]:
    """Fetch and parse ``ListRecords`` pages (``fetch(url) -> body``), following tokens.

    Start from ``resumption_token`` to resume an interrupted harvest. A token repeated by
    the server, a page with no record that still hands out a token (a server that would
    page on forever), or a chain longer than ``max_pages``, raises FeedError (exit 3).
    """
    token = resumption_token
    seen: set[str] = set()
    for _ in range(max_pages):
        url = list_records_url(
            base,
            set_spec=set_spec,
            from_date=from_date,
            metadata_prefix=metadata_prefix,
            resumption_token=token,
        )
        page = parse_oai(fetch(url), url=url)
        yield page
        token = page.resumption_token
        if token is None:
            return
        if not page.records:
            raise FeedError(
                f"OAI-PMH page at {url} holds no record but a resumptionToken: "
                "a broken upstream (it would page on without end)",
                url=url,
            )
        if token in seen:
            raise FeedError(f"OAI-PMH resumptionToken {token!r} repeated at {url}", url=url)
        seen.add(token)
    raise FeedError(f"OAI-PMH harvest from {base} did not end after {max_pages} pages")


# --------------------------------------------------------------------------- recognition


# --------------------------------------------------------------------------- parsing


def parse_oai(body: bytes | str, url: str | None = None) -> OaiPage:
    """Parse a ``ListRecords``/``GetRecord`` response. Raises FeedError naming the URL."""
    where = url or "OAI-PMH response"
    data = body.encode("utf-8") if isinstance(body, str) else body
    if not data.strip():
        raise FeedError(f"empty response from {where}", url=url)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise FeedError(f"{where} is not well-formed XML: {exc}", url=url) from exc
    if root.tag != f"{_O}OAI-PMH":
        raise FeedError(f"{where} is not an OAI-PMH response (root <{_local(root.tag)}>)", url=url)

    response_date = _datetime(root.findtext(f"{_O}responseDate"))
    errors = root.findall(f"{_O}error")
    if errors:
        codes = [e.get("code", "") for e in errors]
        if all(code in EMPTY_CODES for code in codes):
            return OaiPage(records=[], error=codes[0], response_date=response_date)
        message = "; ".join(
            f"{e.get('code', '?')}: {normalise(e.text)}".rstrip(": ") for e in errors
        )
        raise FeedError(f"OAI-PMH error from {where}: {message}", url=url)

    container = root.find(f"{_O}ListRecords")
    if container is None:
        container = root.find(f"{_O}GetRecord")
    if container is None:
        raise FeedError(f"{where} holds neither ListRecords nor GetRecord", url=url)

    records = [_record(r) for r in container.iter(f"{_O}record")]
    token_el = container.find(f"{_O}resumptionToken")
    token = (token_el.text or "").strip() if token_el is not None else ""
    return OaiPage(
        records=records,
        resumption_token=token or None,
        response_date=response_date,
        complete_list_size=_int(token_el.get("completeListSize")) if token_el is not None else None,
        cursor=_int(token_el.get("cursor")) if token_el is not None else None,
    )


def _record(rec: ET.Element) -> OaiRecord:
    header = rec.find(f"{_O}header")
    identifier = (header.findtext(f"{_O}identifier") if header is not None else None) or ""
    identifier = identifier.strip()
    datestamp = _date(header.findtext(f"{_O}datestamp") if header is not None else None)
    set_specs = (
        [s.text.strip() for s in header.findall(f"{_O}setSpec") if s.text]
        if header is not None
        else []
    )
    deleted = header is not None and header.get("status") == "deleted"
    base_id = _arxiv_id(identifier.rsplit(":", 1)[-1]) if identifier else ""
    metadata = rec.find(f"{_O}metadata")
    meta = next(iter(metadata), None) if metadata is not None else None
    if deleted or meta is None:
        return OaiRecord(
            identifier=identifier,
            arxiv_id=base_id,
            datestamp=datestamp,
            set_specs=set_specs,
            deleted=deleted,
        )

    fmt = _local(meta.tag)
    fields = {_local(child.tag): child for child in meta}
    arxiv_id = _arxiv_id(_text(fields.get("id"))) or base_id
    categories = clean_categories((_text(fields.get("categories")) or "").split())
    if fmt == "arXiv":
        authors = _structured_authors(fields.get("authors"))
        versions: list[tuple[int, datetime]] = []
    else:
        authors = split_authors(normalise(_text(fields.get("authors"))))
        versions = _versions(meta)
    return OaiRecord(
        identifier=identifier,
        arxiv_id=arxiv_id,
        datestamp=datestamp,
        set_specs=set_specs,
        deleted=False,
        metadata_format=fmt,
        versions=versions,
        title=normalise(_text(fields.get("title"))) or None,
        authors=authors,
        abstract=normalise(_text(fields.get("abstract"))) or None,
        categories=categories,
        primary_category=categories[0] if categories else None,
        comments=normalise(_text(fields.get("comments"))) or None,
        journal_ref=normalise(_text(fields.get("journal-ref"))) or None,
        doi=normalise(_text(fields.get("doi"))) or None,
        report_no=normalise(_text(fields.get("report-no"))) or None,
        license=normalise(_text(fields.get("license"))) or None,
        submitter=normalise_author(_text(fields.get("submitter")) or "") or None,
        created=_date(_text(fields.get("created"))),
        updated=_date(_text(fields.get("updated"))),
    )


def _versions(meta: ET.Element) -> list[tuple[int, datetime]]:
    out: dict[int, datetime] = {}
    for el in meta:
        if _local(el.tag) != "version":
            continue
        label = (el.get("version") or "").strip().lower().lstrip("v")
        when = _datetime(next((_text(c) for c in el if _local(c.tag) == "date"), None))
        if label.isdigit() and when is not None:
            out[int(label)] = when
    return sorted(out.items())


def _structured_authors(node: ET.Element | None) -> list[str]:
    if node is None:
        return []
    names: list[str] = []
    for author in node:
        parts = {_local(c.tag): _text(c) for c in author}
        name = " ".join(
            p for p in (parts.get("forenames"), parts.get("keyname"), parts.get("suffix")) if p
        )
        name = normalise_author(name)
        if name:
            names.append(name)
    return names


# --------------------------------------------------------------------------- entries


def to_entries(
    record: OaiRecord,
    listing_for: Callable[[datetime], date | None],
    *,
    start: date | None = None,
    end: date | None = None,
) -> list[Entry]:
    """One Entry per announced version, dated by ``listing_for(submission time)``.

    v1 is ``new`` and later versions ``replace`` (the store derives cross / replace-cross
    per category); versions that fall on the same listing date collapse into one, the
    highest version, ``new`` if v1 is among them. Entries outside ``start``..``end`` are
    dropped. Deleted records and records without version dates give no entries. The text
    is the record's current text: OAI keeps no per-version metadata.
    """
    if record.deleted or not record.versions or not record.title:
        return []
    groups: dict[date, list[tuple[int, datetime]]] = {}
    for number, submitted in record.versions:
        day = listing_for(submitted)
        if day is not None:
            groups.setdefault(day, []).append((number, submitted))
    published = record.versions[0][1]
    entries: list[Entry] = []
    for day in sorted(groups):
        if (start is not None and day < start) or (end is not None and day > end):
            continue
        number, submitted = max(groups[day])
        is_new = any(n == 1 for n, _ in groups[day])
        entries.append(
            _entry(
                record,
                day,
                "new" if is_new else "replace",
                version=number,
                published=published,
                updated=submitted,
                derived=True,
            )
        )
    return entries


def placed_entry(record: OaiRecord, day: date) -> Entry:
    """A record without version times (``arXiv`` format) placed on a caller's date, marked
    approximate. Typed ``new``: such a source carries no replacements (DESIGN.md: say so,
    do not guess one from ``<updated>``)."""
    return _entry(record, day, "new", approximate=True)


def _entry(record: OaiRecord, day: date, kind: AnnounceType, **extra: object) -> Entry:
    return Entry.model_validate(
        {
            "arxiv_id": record.arxiv_id,
            "title": record.title or "",
            "authors": record.authors,
            "abstract": record.abstract or "",
            "categories": record.categories,
            "primary_category": record.primary_category,
            "comment": record.comments,
            "journal_ref": record.journal_ref,
            "doi": record.doi,
            "announce_date": day,
            "announce_type": kind,
            "source": "oai",
            **extra,
        }
    )


# --------------------------------------------------------------------------- helpers


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(el: ET.Element | None) -> str | None:
    if el is None:
        return None
    return "".join(el.itertext())


def _arxiv_id(raw: str | None) -> str:
    raw = (raw or "").strip()
    if not raw:
        return ""
    try:
        return parse_arxiv_id(raw)[0]
    except ValueError:
        return raw


def _int(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _datetime(value: str | None) -> datetime | None:
    """RFC 2822 (``Sun, 30 Mar 2008 23:26:50 GMT``) or ISO 8601 (``2016-10-21T04:36:53Z``), UTC."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
