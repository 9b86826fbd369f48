"""``--source PATH``: recorded data read back with no network, each file known by its content.

Recognised: the raw archive ``{url, status_code, body, [headers], [fetched_at]}`` (its body
then read by content), rss.arxiv.org RSS/Atom, export-API Atom, the JSONL dumps of the
daily-arXiv forks, and this project's own ``export --format jsonl`` records; listing pages
and OAI-PMH are readers of :data:`READERS` too.

Every entry comes back with its date; the caller applies the date and category filters.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from arxivfilter import dates
from arxivfilter.errors import FeedError, SourceError
from arxivfilter.fetch.api import parse_api
from arxivfilter.fetch.feedparse import sniff_kind
from arxivfilter.fetch.http import decode_archive
from arxivfilter.fetch.listing import looks_like_listing, parse_listing
from arxivfilter.fetch.listing import to_entries as listing_entries
from arxivfilter.fetch.oai import parse_oai, placed_entry
from arxivfilter.fetch.oai import to_entries as oai_entries
from arxivfilter.fetch.rss import parse_rss
from arxivfilter.models import REPLACEMENTS, Entry
from arxivfilter.text import (
    clean_categories,
    normalise,
    normalise_author,
    parse_arxiv_id,
    split_authors,
)

log = structlog.get_logger(__name__)

_DATE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")  # small-2025-12-16
INDEX_NAME = "index.tsv"  # sibling of the JSONL dumps: id -> first_seen_file_date
ARCHIVE_MARKER = "complete.json"  # fetch/day.py's "this archived day is complete" marker


@dataclass(frozen=True)
class ReplayContext:
    """What a reader knows besides the bytes: where they came from and the fallback dates."""

    path: Path  # the file on disk
    url: str  # the archived URL, else the file path
    date: dt.date | None  # the caller's --date
    folder_date: dt.date | None  # the nearest ``YYYY-MM-DD`` folder above the file
    archived: bool = False  # the bytes are the body of an archived response
    # line numbers of damaged records (not JSON: a file cut mid-record), shared by the
    # contexts of one file
    damaged: list[int] = field(default_factory=list, compare=False)


# A reader returns the entries of one body, or None when the body is not its kind after all.
Reader = Callable[[bytes, ReplayContext], list[Entry] | None]


def read_source(
    path: Path,
    *,
    date: dt.date | None = None,
    require_entries: bool = False,
    damage: dict[dt.date | None, int] | None = None,
) -> list[Entry]:
    """Every entry of a file or a folder (read recursively, sorted), each with its date.

    Files not understood (unknown shapes, recorded error responses, non-200 archives, records
    with no date to place them on) get one warning each and are skipped; a missing path, or
    one holding nothing recognised, raises SourceError, as does one that yields no entry at
    all when ``require_entries`` (a ``--source`` given by the user). Damaged records (a line
    that is not JSON, such as a file cut mid-record) are counted in ``damage`` by the date they
    most likely belong to (the file's own date, else the newest date it holds; None if neither).
    """
    return [e for found in iter_source(path, date=date, require_entries=require_entries,
                                       damage=damage) for e in found]  # fmt: skip


def iter_source(
    path: Path,
    *,
    date: dt.date | None = None,
    require_entries: bool = False,
    damage: dict[dt.date | None, int] | None = None,
) -> Iterator[list[Entry]]:
    """:func:`read_source` one file at a time (the entries of each recognised file, in the
    sorted order of the files), so a caller can store a large replay in parts. The errors
    of :func:`read_source` are raised once every file has been read."""
    if not path.exists():
        raise SourceError(f"source not found: {path}")
    files = [path] if path.is_file() else list(_walk(path))
    any_entries = False
    recognised = 0
    reason = "no files"
    for file in files:
        try:
            found = _read_file(file, date, damage)
        except _Skipped as skip:
            log.warning(skip.event, path=str(file), **skip.fields)
            reason = f"{skip.event} ({file.name})"
            continue
        recognised += 1
        any_entries = any_entries or bool(found)
        yield found
    if not recognised:
        raise SourceError(f"nothing recognised in source {path}: {reason}")
    if require_entries and not any_entries:
        raise SourceError(f"no paper in source {path}: the recognised files hold no entries")


class _Skipped(Exception):
    """A file that yields nothing: logged once by :func:`read_source`."""

    def __init__(self, event: str, **fields: object) -> None:
        super().__init__(event)
        self.event = event
        self.fields = fields


def _walk(folder: Path) -> Iterator[Path]:
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = file.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue  # .gitkeep, .DS_Store, hidden folders
        if file.name == INDEX_NAME and any(file.parent.glob("*.jsonl")):
            continue  # a companion of the JSONL dumps, read by them
        if file.name == ARCHIVE_MARKER:
            continue  # bookkeeping of an archived day, not a response
        yield file


def _kind(body: bytes) -> str | None:
    return sniff_kind(body)


def _read_file(
    file: Path, date: dt.date | None, damage: dict[dt.date | None, int] | None = None
) -> list[Entry]:
    """The entries of one file; raises _Skipped when it yields nothing usable."""
    try:
        body = file.read_bytes()
    except OSError as exc:
        raise SourceError(f"cannot read {file}: {exc}") from exc
    ctx = ReplayContext(path=file, url=str(file), date=date, folder_date=_folder_date(file))
    kind = _kind(body)
    found: list[Entry] = []
    try:
        found = _read_archive(body, ctx) if kind == "archive" else _dispatch(kind, body, ctx)
    finally:
        if ctx.damaged and damage is not None:
            day = _damage_date(file, ctx, found)
            damage[day] = damage.get(day, 0) + len(ctx.damaged)
    return found


def _damage_date(file: Path, ctx: ReplayContext, found: list[Entry]) -> dt.date | None:
    """The date a file's damaged records most likely belong to (None: unknown)."""
    in_name = _DATE_IN_NAME.findall(file.stem)
    dated = [e.announce_date for e in found if e.announce_date]
    return (
        ctx.date
        or ctx.folder_date
        or (_as_date(in_name[0]) if len(in_name) == 1 else None)
        or (max(dated) if dated else None)
    )


def _read_archive(body: bytes, ctx: ReplayContext) -> list[Entry]:
    archived_url, status, raw = decode_archive(body.decode("utf-8", errors="replace"))
    url = archived_url or str(ctx.path)
    if status != 200:
        raise _Skipped("archived non-200 response skipped", url=url, status=status)
    if raw is None:
        raise _Skipped("archived response without a text body skipped", url=url)
    inner_ctx = ReplayContext(
        path=ctx.path,
        url=url,
        date=ctx.date,
        folder_date=ctx.folder_date,
        archived=True,
        damaged=ctx.damaged,
    )
    return _dispatch(_kind(raw), raw, inner_ctx)


def _dispatch(kind: str | None, body: bytes, ctx: ReplayContext) -> list[Entry]:
    reader = READERS.get(kind) if kind else None
    if reader is None:
        raise _Skipped("unrecognised file skipped", kind=kind, **_origin(ctx))
    try:
        found = reader(body, ctx)
    except (FeedError, ValueError) as exc:
        # recorded error responses (HTML pages, API errors, truncated bodies) record a
        # failed fetch, not papers
        raise _Skipped(
            "unreadable file skipped", kind=kind, error=str(exc), **_origin(ctx)
        ) from exc
    if found is None:
        raise _Skipped("unrecognised file skipped", kind=kind, **_origin(ctx))
    return found


def _origin(ctx: ReplayContext) -> dict[str, object]:
    return {"url": ctx.url} if ctx.archived else {}


# --------------------------------------------------------------------------- feeds


def _read_rss(body: bytes, ctx: ReplayContext) -> list[Entry]:
    listing = parse_rss(body, ctx.url)
    if listing.date is not None:
        return listing.entries
    fallback = ctx.folder_date or ctx.date
    if fallback is None:
        if listing.entries:
            raise _Skipped(
                "feed without a date skipped (give --date)", entries=len(listing.entries)
            )
        return []
    return [e.model_copy(update={"announce_date": fallback}) for e in listing.entries]


def _read_api(body: bytes, ctx: ReplayContext) -> list[Entry]:
    page = parse_api(body, ctx.url)
    day = ctx.folder_date or ctx.date
    if day is None:
        if page.entries:
            raise _Skipped(
                "export-API entries without a date skipped (give --date)",
                entries=len(page.entries),
            )
        return []
    return [e.model_copy(update={"announce_date": day}) for e in page.entries]


# --------------------------------------------------------------------------- JSONL dumps


def _read_jsonl(body: bytes, ctx: ReplayContext) -> list[Entry]:
    index = _index_dates(ctx.path.parent / INDEX_NAME)
    in_name = _DATE_IN_NAME.findall(ctx.path.stem)
    name_date = _as_date(in_name[0]) if len(in_name) == 1 else None
    seen: set[str] = set()
    entries: list[Entry] = []
    duplicates = undated = uncategorised = 0
    for number, record in _records(body, ctx):
        raw_id = str(record.get("id", "")).strip()
        try:
            arxiv_id, version = parse_arxiv_id(raw_id)
        except ValueError:
            log.warning("JSONL record without an arXiv id skipped", path=str(ctx.path), line=number)
            continue
        if arxiv_id in seen:
            duplicates += 1
            continue
        seen.add(arxiv_id)
        day = _as_date(record.get("date")) or index.get(arxiv_id) or name_date or ctx.date
        if day is None:
            undated += 1
            continue
        entry = _jsonl_entry(record, arxiv_id, version, day)
        if not entry.categories:
            uncategorised += 1
            continue
        entries.append(entry)
    if duplicates:
        log.info("duplicate ids in JSONL dump dropped", path=str(ctx.path), duplicates=duplicates)
    if undated:
        log.warning(
            "JSONL records without a date skipped (give --date)",
            path=str(ctx.path),
            records=undated,
        )
    if uncategorised:
        log.warning(
            "JSONL records without an arXiv category skipped",
            path=str(ctx.path),
            records=uncategorised,
        )
    return entries


def _jsonl_entry(record: dict[str, Any], arxiv_id: str, version: int | None, day: dt.date) -> Entry:
    raw_categories = record.get("categories") or []
    if isinstance(raw_categories, str):
        raw_categories = raw_categories.split()
    categories = clean_categories([str(c) for c in raw_categories])
    authors = record.get("authors") or []
    names = (
        split_authors(authors)
        if isinstance(authors, str)
        else [normalise_author(str(a)) for a in authors]
    )
    return Entry(
        arxiv_id=arxiv_id,
        version=version,
        title=normalise(str(record.get("title") or "")),
        authors=[n for n in names if n],
        abstract=normalise(str(record.get("summary") or record.get("abstract") or "")),
        categories=categories,
        primary_category=categories[0] if categories else None,
        comment=_optional(record.get("comment")),
        announce_date=day,
        announce_type=None,  # these listings hold new submissions and cross-lists only
        source="jsonl",
    )


def _index_dates(index: Path) -> dict[str, dt.date]:
    """``index.tsv`` beside the dumps: id -> first_seen_file_date (empty when absent)."""
    if not index.is_file():
        return {}
    out: dict[str, dt.date] = {}
    with index.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            day = _as_date(row.get("first_seen_file_date"))
            if row.get("id") and day is not None:
                out[row["id"].strip()] = day
    return out


# --------------------------------------------------------------------------- own export


def _read_export(body: bytes, ctx: ReplayContext) -> list[Entry]:
    entries: list[Entry] = []
    for number, record in _records(body, ctx):
        if record.get("schema") != 1 or "arxiv_id" not in record:
            log.warning("export record of unknown schema skipped", path=str(ctx.path), line=number)
            continue
        entries.extend(_export_entries(record, ctx, number))
    return entries


def _export_entries(record: dict[str, Any], ctx: ReplayContext, number: int) -> list[Entry]:
    try:
        arxiv_id, id_version = parse_arxiv_id(str(record["arxiv_id"]))
    except ValueError as exc:
        log.warning("export record skipped", path=str(ctx.path), line=number, reason=str(exc))
        return []
    by_date: dict[dt.date, set[str]] = {}
    for row in record.get("announcements") or []:
        day = _as_date(row.get("date"))
        if day is not None:
            by_date.setdefault(day, set()).add(str(row.get("type", "")))
    if not by_date:
        log.warning("export record without announcements skipped", path=str(ctx.path), line=number)
        return []
    categories = clean_categories([str(c) for c in record.get("categories") or []])
    version = record.get("version")
    base = Entry(
        arxiv_id=arxiv_id,
        version=int(version) if isinstance(version, int) else id_version,
        title=normalise(str(record.get("title") or "")),
        authors=[n for n in (normalise_author(str(a)) for a in record.get("authors") or []) if n],
        abstract=normalise(str(record.get("abstract") or "")),
        categories=categories,
        primary_category=record.get("primary_category") or (categories[0] if categories else None),
        comment=_optional(record.get("comment")),
        source="export",
    )
    return [
        base.model_copy(
            update={
                "announce_date": day,
                "announce_type": "replace" if types and types <= REPLACEMENTS else "new",
            }
        )
        for day, types in sorted(by_date.items())
    ]


# --------------------------------------------------------------------------- helpers


def _records(body: bytes, ctx: ReplayContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each JSON object line; bad lines get a warning."""
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            log.warning("damaged record (not JSON) skipped", path=str(ctx.path), line=number)
            ctx.damaged.append(number)
            continue
        if isinstance(record, dict):
            yield number, record
        else:
            log.warning("damaged record (not an object) skipped", path=str(ctx.path), line=number)
            ctx.damaged.append(number)


def _optional(value: object) -> str | None:
    return (normalise(str(value)) or None) if value else None


def _folder_date(file: Path) -> dt.date | None:
    for parent in file.parents:
        if _DATE_NAME.match(parent.name):
            return _as_date(parent.name)
    return None


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or len(value.strip()) < 10:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


# --------------------------------------------------------------------------- listings, OAI


def _read_listing(body: bytes, ctx: ReplayContext) -> list[Entry] | None:
    """arXiv listing pages (HTML): ids, kinds and dates as the page shows them."""
    if not looks_like_listing(body.decode("utf-8", errors="replace")):
        return None
    return listing_entries(parse_listing(body, ctx.url))


def _read_oai(body: bytes, ctx: ReplayContext) -> list[Entry]:
    """OAI-PMH arXivRaw: one entry per announced version, dated through the calendar.

    Replay has no configuration, so holidays are not applied here: a version submitted
    before a holiday is dated to the holiday's listing date, which the calendar warns about.
    """
    page = parse_oai(body, ctx.url)
    entries = [e for rec in page.records for e in oai_entries(rec, dates.listing_for_submission)]
    # metadataPrefix arXiv: no version times, so no listing date of their own
    undated = [r for r in page.records if not r.deleted and r.title and not r.versions]
    if not undated:
        return entries
    day = ctx.folder_date or ctx.date
    if day is None:
        if entries:
            log.warning(
                "OAI-PMH records without version dates skipped (give --date)",
                path=str(ctx.path),
                records=len(undated),
            )
            return entries
        raise _Skipped(
            "OAI-PMH records without version dates (metadataPrefix arXiv) skipped: give "
            "--date, or harvest arXivRaw",
            records=len(undated),
        )
    return entries + [placed_entry(r, day) for r in undated]


READERS: dict[str, Reader] = {
    "rss": _read_rss,
    "atom-rss": _read_rss,
    "api": _read_api,
    "jsonl": _read_jsonl,
    "export": _read_export,
    "html": _read_listing,
    "oai": _read_oai,
}
