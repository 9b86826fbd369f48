"""Storage: engine set-up, migrations, upserts and the queries the stages need.

Every function takes the ``Session`` (or ``Engine``) it works on; nothing is opened at
import. The database is created and migrated (alembic) on first use.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
import structlog
from sqlalchemy import Engine, event, func, text, update
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError, SQLAlchemyError
from sqlmodel import Session, col, create_engine, delete, select

from arxivfilter import ingest
from arxivfilter.errors import ConfigError, StorageError
from arxivfilter.models import (
    Announcement,
    Entry,
    Feedback,
    Judgement,
    LlmBatch,
    LlmBatchRequest,
    LlmCall,
    LlmMode,
    Notification,
    Paper,
    Run,
    utcnow,
)
from arxivfilter.text import text_hash

log = structlog.get_logger(__name__)

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# --------------------------------------------------------------------------- engine


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite"):
        return None
    db_path = url.split("///", 1)[1] if "///" in url else ""
    db_path = db_path.split("?", 1)[0]
    if not db_path or db_path == ":memory:" or db_path.startswith("file:"):
        return None
    return Path(db_path)


# SQLite's page cache per connection, in KiB when negative (its default is 2 MiB): the
# judgements' indexes take random inserts (cache keys are hashes), and a night of a year's
# database re-read their pages from disk
CACHE_SIZE = -16_000


def make_engine(url: str, *, busy_timeout: float = 30.0, migrate_now: bool = True) -> Engine:
    """An engine for ``url`` (SQLite: WAL, busy timeout, foreign keys), migrated to head."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[1] if "///" in url else ""
        if db_path and db_path != ":memory:":
            try:
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the database folder for {db_path}: {exc.strerror}"
                ) from exc
        kwargs["connect_args"] = {"timeout": busy_timeout}
        if db_path and db_path != ":memory:" and not db_path.startswith("file:"):
            check_integrity(Path(db_path))
    try:
        engine = create_engine(url, **kwargs)
    except ImportError as exc:  # the URL's driver (DBAPI) is not installed
        raise ConfigError(_missing_driver(url, exc)) from None
    except (SQLAlchemyError, ValueError) as exc:
        raise ConfigError(f"database URL is not usable: {type(exc).__name__}: {exc}") from None

    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA cache_size={CACHE_SIZE}")
            cur.close()

    if migrate_now:
        migrate(engine)
    return engine


#: Above this size the full ``quick_check`` (it reads every page: 17-64 s at 1,000,000
#: papers, 5.7 GB) gives way to a structural check that reads the schema and the first
#: page of every table and index, so a command's fixed cost stays independent of history.
FULL_CHECK_MAX_BYTES = 256 * 1024 * 1024


def _structural_check(conn: sqlite3.Connection) -> list[str]:
    """The schema, then one row through every table and every index: a corrupted root or
    first page raises DatabaseError (cost independent of the file's size)."""
    names = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('table', 'index')"
        " ORDER BY name"
    ).fetchall()
    for kind, name, table, sql in names:
        if kind == "index" and " WHERE " in str(sql or "").upper():
            continue  # a partial index cannot be named without its condition
        quoted_table = '"' + str(table).replace('"', '""') + '"'
        if kind == "table":
            conn.execute(f"SELECT * FROM {quoted_table} LIMIT 1").fetchall()
        else:
            quoted_index = '"' + str(name).replace('"', '""') + '"'
            conn.execute(
                f"SELECT 1 FROM {quoted_table} INDEXED BY {quoted_index} LIMIT 1"
            ).fetchall()
    return ["ok"]


def check_integrity(path: Path, *, full_max_bytes: int | None = None) -> None:
    """An integrity check of an existing SQLite file, read-only, before anything writes to
    it: a file corrupted mid-way is a StorageError (exit 5) for every command, and is left
    exactly as it was. Up to :data:`FULL_CHECK_MAX_BYTES`, ``PRAGMA quick_check`` (about
    0.1 s for 100 MB); above it, :func:`_structural_check` (the README says how to run the
    full check by hand)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    limit = FULL_CHECK_MAX_BYTES if full_max_bytes is None else full_max_bytes
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            if path.stat().st_size <= limit:
                rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            else:
                rows = _structural_check(conn)
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return  # another process is writing: its own checks apply
        raise StorageError(f"the database {path} cannot be read: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"the database {path} is corrupt: {exc}") from None
    if rows != ["ok"]:
        detail = "; ".join(str(r) for r in rows)[:300]
        raise StorageError(
            f"the database {path} is corrupt (quick_check: {detail}); restore it from a copy"
        )


#: driver module -> the extra of this package that installs it
_DRIVER_EXTRAS = {"psycopg": "postgres", "psycopg_binary": "postgres", "psycopg_c": "postgres"}


def _missing_driver(url: str, exc: ImportError) -> str:
    """One line naming the database URL's scheme (never its password) and what to install."""
    scheme = url.split(":", 1)[0]
    module = (exc.name or "").split(".")[0]
    extra = _DRIVER_EXTRAS.get(module)
    if extra is None and scheme.startswith("postgresql+psycopg"):
        extra = "postgres"
    if extra:
        install = f"pip install 'arxivfilter[{extra}]'"
    elif module == "psycopg2":
        install = "pip install psycopg2, or use postgresql+psycopg:// and pip install 'arxivfilter[postgres]'"
    else:
        install = f"install the Python package that provides {module or 'it'}"
    what = f"its driver {module!r}" if module else "its driver"
    return f"database URL {scheme}://…: {what} is not installed ({install})"


_REVISION = re.compile(r'^revision: str = "([^"]+)"', re.M)
_DOWN_REVISION = re.compile(r'^down_revision: [^=]*= "([^"]+)"', re.M)


def _head_revisions() -> set[str]:
    """The newest migration(s), read from the version files (alembic itself costs ~0.3 s
    to import: it is loaded only when a migration is due)."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for file in (_MIGRATIONS / "versions").glob("*.py"):
        source = file.read_text(encoding="utf-8")
        revisions.update(_REVISION.findall(source))
        downs.update(_DOWN_REVISION.findall(source))
    return revisions - downs


def _current_revisions(engine: Engine) -> set[str]:
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}
    except DatabaseError:  # a new database (no table yet), or not a database: alembic says
        return set()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest alembic revision (creates it on first use)."""
    current = _current_revisions(engine)
    if current and current == _head_revisions():
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except DatabaseError as exc:  # locked, unreadable, or not a database at all
        raise StorageError(
            f"database error while opening and migrating: {_db_message(exc)}"
        ) from None


def _db_message(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig) if orig is not None else str(exc).splitlines()[0]


def integrity_ok(engine: Engine) -> bool:
    if engine.dialect.name != "sqlite":
        return True
    with engine.connect() as conn:
        return conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


# --------------------------------------------------------------------------- ingest


@dataclass
class StoreCounts:
    """What one store call did."""

    papers: int = 0  # distinct papers in the input that were kept
    new_papers: int = 0  # papers not in the database before
    updated_papers: int = 0  # papers whose stored version/text changed
    new_rows: int = 0  # announcement rows added
    by_type: Counter[str] = field(default_factory=Counter)  # distinct papers by strongest type
    dates: set[dt.date] = field(default_factory=set)

    def merge(self, other: StoreCounts) -> None:
        self.papers += other.papers
        self.new_papers += other.new_papers
        self.updated_papers += other.updated_papers
        self.new_rows += other.new_rows
        self.by_type.update(other.by_type)
        self.dates |= other.dates


def upsert_paper(session: Session, entry: Entry, thash: str | None = None) -> tuple[Paper, str]:
    """Insert or update one paper; returns (paper, "new" | "updated" | "same").

    ``thash`` is the entry's ``text_hash`` when the caller has it already.
    """
    paper = session.get(Paper, entry.arxiv_id)
    if thash is None:
        thash = text_hash(entry.title, entry.abstract)
    if paper is None:
        paper = Paper(**ingest.paper_columns(entry, thash))
        session.add(paper)
        return paper, "new"
    if ingest.fold(paper, entry):
        session.add(paper)
        return paper, "updated"
    return paper, "same"


#: entries stored per transaction: set-sized statements, bounded memory, resumable
STORE_CHUNK = 2000
#: most values in one ``IN (…)`` list (SQLite's and PostgreSQL's limits are far above)
IN_CHUNK = 500
#: ids per ``IN (…)`` when a whole period's rows are read (the site): fewer, larger reads
_READ_CHUNK = 5000


def chunks(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size``: every ``IN (…)`` query and batched write goes through
    this one helper."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _id_groups(ordered: Sequence[Entry], size: int) -> Iterator[Sequence[Entry]]:
    """Slices of about ``size`` entries sorted by id, never splitting one id's entries."""
    start = 0
    while start < len(ordered):
        end = min(start + size, len(ordered))
        while end < len(ordered) and ordered[end].arxiv_id == ordered[end - 1].arxiv_id:
            end += 1
        yield ordered[start:end]
        start = end


def store_entries(
    session: Session,
    entries: Iterable[Entry],
    *,
    categories: Sequence[str] | None,
    default_date: dt.date | None = None,
) -> StoreCounts:
    """Store papers and their announcement rows (one per date x configured category carried).

    Entries that carry none of ``categories`` (None = no filter) are skipped. Idempotent:
    storing the same entries twice adds nothing. Work goes in slices of :data:`STORE_CHUNK`
    entries, each a few set-sized statements and one commit: a run killed mid-way resumes
    (the same call again) to the same rows.
    """
    counts = StoreCounts()
    seen: dict[tuple[str, dt.date], str] = {}
    # newest version first so a paper listed twice keeps its newest text
    ordered = sorted(entries, key=lambda e: (e.arxiv_id, -(e.version or 0)))
    try:
        for group in _id_groups(ordered, STORE_CHUNK):
            _store_group(session, group, categories, default_date, counts, seen)
            session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StorageError(f"database error while storing papers: {_db_message(exc)}") from None
    return counts


def _stored_of(
    session: Session, ids: Sequence[str]
) -> tuple[dict[str, Paper], dict[str, set[tuple[dt.date, str]]]]:
    """The stored papers of ``ids`` and each one's (date, category) listings."""
    stored: dict[str, Paper] = {}
    existing: dict[str, set[tuple[dt.date, str]]] = {i: set() for i in ids}
    for part in chunks(ids):
        for found in session.exec(select(Paper).where(col(Paper.arxiv_id).in_(part))):
            stored[found.arxiv_id] = found
        rows = session.exec(
            select(
                col(Announcement.arxiv_id), col(Announcement.date), col(Announcement.category)
            ).where(col(Announcement.arxiv_id).in_(part))
        )
        for arxiv_id, day, category in rows:
            existing[arxiv_id].add((day, category))
    return stored, existing


def _listing(entry: Entry, date: dt.date, cat: str, rtype: str, thash: str) -> dict[str, Any]:
    return {
        "arxiv_id": entry.arxiv_id,
        "date": date,
        "category": cat,
        "type": rtype,
        "version": entry.version,
        "text_hash": thash,
        "source": entry.source,
        "approximate": entry.approximate,
        "derived": entry.derived,
    }


def _store_group(
    session: Session,
    group: Sequence[Entry],
    categories: Sequence[str] | None,
    default_date: dt.date | None,
    counts: StoreCounts,
    seen: dict[tuple[str, dt.date], str],
) -> None:
    """One slice of :func:`store_entries`: one read of its papers and of their listings, one
    insert of the new papers, one of the new listings, the changed papers' updates."""
    stored, existing = _stored_of(session, sorted({e.arxiv_id for e in group}))
    # new papers as plain namespaces (an ORM object costs ~0.5 ms to build), inserted at once
    created: dict[str, SimpleNamespace] = {}
    listings: list[dict[str, Any]] = []
    now = utcnow()
    for entry in group:
        date = entry.announce_date or default_date
        cats = ingest.listed_categories(entry, categories) if date is not None else []
        if date is None or not cats:
            continue
        thash = text_hash(entry.title, entry.abstract)
        paper: Any = stored.get(entry.arxiv_id) or created.get(entry.arxiv_id)
        if paper is None:
            values = ingest.paper_columns(entry, thash)
            paper = created[entry.arxiv_id] = SimpleNamespace(
                **values, created_at=now, modified_at=now
            )
            counts.new_papers += 1
        elif ingest.fold(paper, entry):
            counts.updated_papers += 1
        have = existing[entry.arxiv_id]
        if ingest.is_dump_listing(entry):
            cats = _first_dump_listing(session, entry.arxiv_id, date, cats, have, listings)
            if not cats:
                continue
        strongest = None
        for cat in cats:
            rtype = ingest.row_type(entry, cat, paper.primary_category)
            if strongest is None or ingest.type_rank(rtype) < ingest.type_rank(strongest):
                strongest = rtype
            if (date, cat) not in have:
                listings.append(_listing(entry, date, cat, rtype, thash))
                have.add((date, cat))
                counts.new_rows += 1
        key = (entry.arxiv_id, date)
        if key not in seen and strongest is not None:
            seen[key] = strongest
            counts.papers += 1
            counts.by_type[strongest] += 1
            counts.dates.add(date)
    _insert_new(session, created, listings)


def _insert_new(
    session: Session, created: dict[str, SimpleNamespace], listings: list[dict[str, Any]]
) -> None:
    """The new papers and listings of a slice, in one statement each (Core inserts: the
    ORM's bulk insert adds its own bookkeeping per row)."""
    papers_table: sa.Table = Paper.__table__  # type: ignore[attr-defined]
    if created:
        columns = [c.name for c in papers_table.columns]
        session.execute(
            papers_table.insert(), [{c: vars(p)[c] for c in columns} for p in created.values()]
        )
    session.flush()  # the changed papers, and dump rows superseded by an earlier listing
    if listings:
        session.execute(Announcement.__table__.insert(), listings)  # type: ignore[attr-defined]


def _first_dump_listing(
    session: Session,
    arxiv_id: str,
    date: dt.date,
    cats: list[str],
    have: set[tuple[dt.date, str]],
    pending: list[dict[str, Any]] | None = None,
) -> list[str]:
    """The categories in which a daily dump's listing of a paper on ``date`` is its first
    (``ingest.first_listing``); the dump rows it supersedes (``ingest.supersedes``), stored
    or ``pending`` in this slice, are deleted."""
    keep = ingest.first_listing(date, cats, have)
    if any(d > date and c in keep for d, c in have):
        rows = session.exec(
            select(Announcement).where(
                Announcement.arxiv_id == arxiv_id,
                col(Announcement.date) > date,
                col(Announcement.category).in_(keep),
                Announcement.source == "jsonl",
            )
        ).all()
        for row in rows:
            session.delete(row)
            have.discard((row.date, row.category))
        if pending:
            gone = [
                r
                for r in pending
                if r["arxiv_id"] == arxiv_id
                and ingest.supersedes(date, keep, r["date"], r["category"], r["source"])
            ]
            for r in gone:
                pending.remove(r)
                have.discard((r["date"], r["category"]))
    return keep


def store_papers(session: Session, entries: Iterable[Entry]) -> int:
    """Papers without announcements (liked examples fetched by id); returns how many were new."""
    added = 0
    try:
        for entry in entries:
            _, state = upsert_paper(session, entry)
            added += state == "new"
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StorageError(f"database error while storing papers: {_db_message(exc)}") from None
    return added


def stored_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """The ones of ``ids`` that are stored papers."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    for chunk in chunks(wanted):
        found.update(
            session.exec(select(col(Paper.arxiv_id)).where(col(Paper.arxiv_id).in_(chunk)))
        )
    return found


# --------------------------------------------------------------------------- queries


def papers_on(
    session: Session,
    date: dt.date,
    categories: Sequence[str] | None,
    *,
    ids: Iterable[str] | None = None,
) -> list[tuple[Paper, list[Announcement]]]:
    """Distinct papers announced on ``date`` in ``categories`` (None = all), sorted by id.

    ``ids`` restricts the answer to those papers (the feed asks only for candidates).
    """
    stmt = (
        select(Announcement, Paper)
        .join(Paper, col(Paper.arxiv_id) == col(Announcement.arxiv_id))
        .where(Announcement.date == date)
    )
    if categories is not None:
        stmt = stmt.where(col(Announcement.category).in_(list(categories)))
    wanted = set(ids) if ids is not None else None
    if wanted is not None and len(wanted) <= 500:
        stmt = stmt.where(col(Announcement.arxiv_id).in_(sorted(wanted)))
    rows = session.exec(stmt.order_by(col(Announcement.arxiv_id), col(Announcement.category))).all()
    by_id: dict[str, tuple[Paper, list[Announcement]]] = {}
    for row, paper in rows:
        if wanted is not None and row.arxiv_id not in wanted:
            continue
        by_id.setdefault(row.arxiv_id, (paper, []))[1].append(row)
    return [by_id[i] for i in sorted(by_id)]


def papers_of_day(session: Session, date: dt.date, categories: Sequence[str] | None) -> list[Paper]:
    """The distinct papers announced on ``date`` in ``categories`` (None = all), sorted by
    id: :func:`papers_on` without the announcement rows (what the score stage reads, with
    half the records to build)."""
    listed = select(col(Announcement.arxiv_id)).where(Announcement.date == date)
    if categories is not None:
        listed = listed.where(col(Announcement.category).in_(list(categories)))
    stmt = select(Paper).where(col(Paper.arxiv_id).in_(listed))
    # sorted here, as papers_on sorts: PostgreSQL's collation may order "math-ph/..." and
    # "math/..." otherwise
    return sorted(session.exec(stmt).all(), key=lambda p: p.arxiv_id)


def previous_text_hashes(session: Session, ids: Sequence[str], before: dt.date) -> dict[str, str]:
    """Per paper, the text it had at its latest announcement before ``before`` (replacements)."""
    out: dict[str, tuple[dt.date, str]] = {}
    for chunk in chunks(ids):
        stmt = select(
            col(Announcement.arxiv_id), col(Announcement.date), col(Announcement.text_hash)
        ).where(col(Announcement.arxiv_id).in_(chunk), Announcement.date < before)
        for arxiv_id, date, thash in session.exec(stmt):
            if arxiv_id not in out or date > out[arxiv_id][0]:
                out[arxiv_id] = (date, thash)
    return {k: v[1] for k, v in out.items()}


def listing_candidates(
    session: Session,
    profile: str,
    threshold: int,
    *,
    date_from: dt.date,
    date_to: dt.date,
    categories: Sequence[str] | None,
) -> dict[dt.date, set[str]]:
    """Papers of ``date_from..date_to`` with some ok judgement at or above ``threshold``.

    A superset of what a feed lists (the listing rule is applied by the caller); one query
    instead of loading every paper of every day.
    """
    # driven by the window's announcements (date index), each tested against the paper's
    # judgements (paper-profile index): a join let the planner scan every judgement instead
    judged = (
        select(col(Judgement.id))
        .where(
            col(Judgement.arxiv_id) == col(Announcement.arxiv_id),
            Judgement.profile == profile,
            Judgement.status == "ok",
            col(Judgement.relevance) >= threshold,
        )
        .exists()
    )
    stmt = (
        select(col(Announcement.date), col(Announcement.arxiv_id))
        .where(Announcement.date >= date_from, Announcement.date <= date_to, judged)
        .distinct()
    )
    if categories is not None:
        stmt = stmt.where(col(Announcement.category).in_(list(categories)))
    out: dict[dt.date, set[str]] = {}
    for date, arxiv_id in session.exec(stmt):
        out.setdefault(date, set()).add(arxiv_id)
    return out


def announcement_dates(
    session: Session,
    categories: Sequence[str] | None = None,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[dt.date]:
    stmt = select(col(Announcement.date)).distinct()
    if categories is not None:
        stmt = stmt.where(col(Announcement.category).in_(list(categories)))
    if date_from is not None:
        stmt = stmt.where(Announcement.date >= date_from)
    if date_to is not None:
        stmt = stmt.where(Announcement.date <= date_to)
    return sorted(session.exec(stmt).all())


def dates_with_papers(
    session: Session, dates: Sequence[dt.date], categories: Sequence[str] | None = None
) -> set[dt.date]:
    """The dates of ``dates`` with a stored paper in ``categories`` (None = all): those
    :func:`papers_on` finds something for, in one query per 500 dates."""
    out: set[dt.date] = set()
    for group in chunks(sorted(set(dates))):
        stmt = (
            select(col(Announcement.date))
            .distinct()
            .join(Paper, col(Paper.arxiv_id) == col(Announcement.arxiv_id))
            .where(col(Announcement.date).in_(group))
        )
        if categories is not None:
            stmt = stmt.where(col(Announcement.category).in_(list(categories)))
        out.update(session.exec(stmt).all())
    return out


def paper_counts(
    session: Session,
    categories: Sequence[str] | None = None,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[dt.date, int]:
    """Distinct papers per announcement date in ``categories`` (None = all): what each day
    scanned, for the dates ``date_from..date_to`` (None = unbounded)."""
    stmt = select(col(Announcement.date), func.count(func.distinct(Announcement.arxiv_id)))
    if categories is not None:
        stmt = stmt.where(col(Announcement.category).in_(list(categories)))
    if date_from is not None:
        stmt = stmt.where(Announcement.date >= date_from)
    if date_to is not None:
        stmt = stmt.where(Announcement.date <= date_to)
    return {d: int(n) for d, n in session.exec(stmt.group_by(col(Announcement.date)))}


def _category_filter(categories: Sequence[str] | None) -> tuple[str, dict[str, Any]]:
    if categories is None:
        return "", {}
    names = {f"c{i}": c for i, c in enumerate(categories)}
    return " AND category IN (" + ", ".join(f":{n}" for n in names) + ")", names


def judged_dates(
    session: Session, profile: str, categories: Sequence[str] | None = None
) -> set[dt.date]:
    """Announcement dates with at least one judgement (any status) for ``profile``.

    The distinct dates are walked one index probe each (the next date after the last), and
    each is tested until its first judged paper: work in the number of dates, not of rows.
    """
    cats, params = _category_filter(categories)
    sql = text(
        "WITH RECURSIVE day(d) AS ("
        f" SELECT (SELECT min(date) FROM announcements WHERE 1 = 1{cats})"
        " UNION ALL"
        f" SELECT (SELECT min(date) FROM announcements WHERE date > day.d{cats})"
        " FROM day WHERE day.d IS NOT NULL)"
        " SELECT day.d FROM day WHERE day.d IS NOT NULL AND EXISTS ("
        " SELECT 1 FROM announcements a JOIN judgements j ON j.arxiv_id = a.arxiv_id"
        f" WHERE a.date = day.d AND j.profile = :profile{cats.replace('category', 'a.category')})"
    ).columns(sa.column("d", sa.Date))
    rows = session.connection().execute(sql, {"profile": profile, **params})
    return {r[0] for r in rows}


def newest_announcement(
    session: Session, categories: Sequence[str] | None = None
) -> dt.date | None:
    stmt = select(func.max(Announcement.date))
    if categories is not None:
        stmt = stmt.where(col(Announcement.category).in_(list(categories)))
    return session.exec(stmt).one()


def oldest_announcement(
    session: Session, categories: Sequence[str] | None = None
) -> dt.date | None:
    stmt = select(func.min(Announcement.date))
    if categories is not None:
        stmt = stmt.where(col(Announcement.category).in_(list(categories)))
    return session.exec(stmt).one()


def previous_text_hash(session: Session, arxiv_id: str, before: dt.date) -> str | None:
    """The text the paper had at its latest announcement before ``before`` (for replacements)."""
    row = session.exec(
        select(Announcement.text_hash)
        .where(Announcement.arxiv_id == arxiv_id, Announcement.date < before)
        .order_by(col(Announcement.date).desc())
        .limit(1)
    ).first()
    return row


def judgement_for(session: Session, cache_key: str) -> Judgement | None:
    return session.exec(select(Judgement).where(Judgement.cache_key == cache_key)).first()


def judgements_for_keys(session: Session, keys: Iterable[str]) -> dict[str, Judgement]:
    keys = list(keys)
    out: dict[str, Judgement] = {}
    for chunk in chunks(keys):
        for j in session.exec(select(Judgement).where(col(Judgement.cache_key).in_(chunk))).all():
            out[j.cache_key] = j
    return out


def latest_judgement(
    session: Session, arxiv_id: str, profile: str, *, text_hash_: str | None = None
) -> Judgement | None:
    stmt = select(Judgement).where(Judgement.arxiv_id == arxiv_id, Judgement.profile == profile)
    if text_hash_ is not None:
        stmt = stmt.where(Judgement.text_hash == text_hash_)
    return session.exec(stmt.order_by(col(Judgement.id).desc()).limit(1)).first()


def save_judgement(session: Session, judgement: Judgement) -> Judgement:
    """Insert or replace the judgement of a cache key (a --rescore or a retried failure)."""
    try:
        old = judgement_for(session, judgement.cache_key)
        if old is not None:
            for name in (
                "status",
                "relevance",
                "hype",
                "tags",
                "tldr",
                "reason",
                "error",
                "run_id",
                "scorer",
                "model",
            ):
                setattr(old, name, getattr(judgement, name))
            old.created_at = utcnow()
            judgement = old
        session.add(judgement)
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StorageError(f"database error while saving a judgement: {_db_message(exc)}") from None
    return judgement


#: the columns a judgement's re-scoring replaces (save_judgement / save_judgements)
_REJUDGED = (
    "status",
    "relevance",
    "hype",
    "tags",
    "tldr",
    "reason",
    "error",
    "run_id",
    "scorer",
    "model",
    "created_at",
)


def save_judgements(
    session: Session,
    rows: Sequence[dict[str, Any]],
    *,
    commit: bool = True,
    stored: set[str] | None = None,
) -> None:
    """Insert or replace many judgements (column dicts, by cache key) in set-sized statements
    and one commit: for judgements no paid reply decides (the local scorer). ``commit=False``
    leaves them in the open transaction, for a later call to commit (with no rows: commit
    what earlier calls left). ``stored``: the keys of these rows that have a stored row, if
    the caller knows them (it asked the database before judging, and no other process
    writes them meanwhile: the run lock); the keys inserted are added to it."""
    now = utcnow()
    latest = {r["cache_key"]: {**r, "created_at": now} for r in rows}  # the last of a key wins
    keys = sorted(latest)
    try:
        if stored is None:
            stored = set()
            for part in chunks(keys):
                stored.update(
                    session.exec(
                        select(col(Judgement.cache_key)).where(col(Judgement.cache_key).in_(part))
                    )
                )
        fresh = [latest[k] for k in keys if k not in stored]
        again = [
            {"key": k, **{f"v_{c}": latest[k][c] for c in _REJUDGED}} for k in keys if k in stored
        ]
        if fresh:
            # a Core insert: the ORM's bulk insert adds its own bookkeeping per row
            session.execute(Judgement.__table__.insert(), fresh)  # type: ignore[attr-defined]
            stored.update(r["cache_key"] for r in fresh)
        if again:
            table = Judgement.__table__  # type: ignore[attr-defined]
            session.connection().execute(
                sa.update(table)
                .where(table.c.cache_key == sa.bindparam("key"))
                .values({c: sa.bindparam(f"v_{c}") for c in _REJUDGED}),
                again,
            )
            # loaded copies of the replaced rows are stale: read them again when used
            for obj in list(session.identity_map.values()):
                if isinstance(obj, Judgement) and obj.cache_key in stored:
                    session.expire(obj)
        if commit:
            session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StorageError(f"database error while saving judgements: {_db_message(exc)}") from None


def save_llm_call(session: Session, call: LlmCall, *, commit: bool = True) -> None:
    """Log one LLM call. ``commit=False`` leaves it to the next commit of the session: the
    judgement its reply decides, so a kill between the two never keeps a paid reply whose
    judgement is lost (the resumed run would pay for it again)."""
    try:
        session.add(call)
        if commit:
            session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StorageError(
            f"database error while logging an LLM call: {_db_message(exc)}"
        ) from None


@dataclass(frozen=True)
class ModeMemory:
    """The structured-output mode a server accepted, kept per (base URL, model): what the
    LLM scorer is handed to remember it across runs (it never opens a session itself)."""

    engine: Engine
    base_url: str
    model: str

    def load(self) -> str | None:
        with Session(self.engine) as session:
            return llm_mode(session, self.base_url, self.model)

    def save(self, mode: str) -> None:
        with Session(self.engine) as session:
            save_llm_mode(session, self.base_url, self.model, mode)


def llm_mode(session: Session, base_url: str, model: str) -> str | None:
    row = session.exec(
        select(LlmMode)
        .where(LlmMode.base_url == base_url, LlmMode.model == model)
        .order_by(col(LlmMode.id).desc())
    ).first()
    return row.mode if row else None


def save_llm_mode(session: Session, base_url: str, model: str, mode: str) -> None:
    if llm_mode(session, base_url, model) == mode:
        return
    session.add(LlmMode(base_url=base_url, model=model, mode=mode))
    session.commit()


# --------------------------------------------------------------------------- runs


def start_run(
    session: Session,
    command_name: str,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    profiles: Sequence[str] = (),
) -> Run:
    run = Run(command=command_name, date_from=date_from, date_to=date_to, profiles=list(profiles))
    session.add(run)
    session.commit()
    session.refresh(run)
    return run


def finish_run(
    session: Session,
    run: Run,
    *,
    status: str,
    exit_code: int,
    counts: dict[str, Any] | None = None,
    cost_usd: float | None = None,
    message: str | None = None,
    dates: Iterable[dt.date] = (),
) -> None:
    """Close a run's record; ``dates`` (the dates it worked on) fill a range it started without
    (``--source`` replays and latest-listing runs learn their dates as they go)."""
    try:
        session.rollback()
        fresh = session.get(Run, run.id)
        if fresh is None:
            return
        worked = sorted(set(dates))
        if worked and fresh.date_from is None and fresh.date_to is None:
            fresh.date_from, fresh.date_to = worked[0], worked[-1]
        fresh.status = status
        fresh.exit_code = exit_code
        fresh.counts = dict(counts or {})
        fresh.cost_usd = cost_usd
        fresh.message = message
        fresh.finished_at = utcnow()
        session.add(fresh)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.warning("could not record the end of the run", run_id=run.id)


def abort_stale_runs(session: Session) -> int:
    """Mark runs left ``running`` by a killed process as ``aborted`` (call while holding the lock)."""
    stale = session.exec(select(Run).where(Run.status == "running")).all()
    for run in stale:
        run.status = "aborted"
        run.finished_at = utcnow()
        run.message = "the process ended before the run finished"
        session.add(run)
    if stale:
        session.commit()
    return len(stale)


def list_runs(session: Session, limit: int = 20) -> list[Run]:
    return list(session.exec(select(Run).order_by(col(Run.id).desc()).limit(limit)).all())


# --------------------------------------------------------------------------- delivery ledger


def ledger_entry(
    session: Session, recipient: str, date: dt.date, channel: str
) -> Notification | None:
    return session.exec(
        select(Notification).where(
            Notification.recipient == recipient,
            Notification.date == date,
            Notification.channel == channel,
        )
    ).first()


def claim_notification(
    session: Session,
    *,
    recipient: str,
    date: dt.date,
    channel: str,
    message_id: str,
    papers: int,
    run_id: int | None,
) -> Notification | None:
    """Claim the delivery of ``date`` to ``recipient`` over ``channel`` for this run.

    Returns the claimed row (status ``pending``, committed before anything is sent), or None
    when it is sent already or another live run holds it. A ``failed`` row, or a ``pending``
    one whose run is no longer running (the process died mid-send), is taken over with its
    first ``message_id`` kept, so a resend carries the same Message-ID. The claim is a
    unique insert or a compare-and-set update, so two processes never both win it.
    """
    try:
        row = ledger_entry(session, recipient, date, channel)
        if row is None:
            row = Notification(
                recipient=recipient,
                date=date,
                channel=channel,
                message_id=message_id,
                status="pending",
                papers=papers,
                attempts=1,
                run_id=run_id,
            )
            return _insert_claim(session, row)
        if row.status == "sent" or _held_by_live_run(session, row, run_id):
            return None
        return _take_over_claim(session, row, papers, run_id)
    except OperationalError as exc:
        session.rollback()
        raise StorageError(
            f"database error while claiming a notification: {_db_message(exc)}"
        ) from None


def _insert_claim(session: Session, row: Notification) -> Notification | None:
    """A first claim: the unique insert wins, or another process got there first (None)."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return None
    return row


def _held_by_live_run(session: Session, row: Notification, run_id: int | None) -> bool:
    """A ``pending`` claim of another run that is still running."""
    if row.status != "pending" or row.run_id is None or row.run_id == run_id:
        return False
    owner = session.get(Run, row.run_id)
    return owner is not None and owner.status == "running"


def _take_over_claim(
    session: Session, row: Notification, papers: int, run_id: int | None
) -> Notification | None:
    """A failed or abandoned claim taken over by compare-and-set (its message id kept);
    None when another process changed it first."""
    claimed = session.exec(
        update(Notification)
        .where(
            col(Notification.id) == row.id,
            col(Notification.status) == row.status,
            col(Notification.attempts) == row.attempts,
        )
        .values(status="pending", run_id=run_id, attempts=row.attempts + 1, papers=papers)
    )
    session.commit()
    if claimed.rowcount != 1:
        return None
    session.refresh(row)
    return row


def finish_notification(
    session: Session, row: Notification, *, status: str, error: str | None = None
) -> None:
    """Record the outcome of a claimed delivery (``sent`` or ``failed``) at once."""
    try:
        row.status = status
        row.error = error
        if status == "sent":
            row.sent_at = utcnow()
        session.add(row)
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StorageError(
            f"database error while recording a notification: {_db_message(exc)}"
        ) from None


def ledger(session: Session, date: dt.date | None = None) -> list[Notification]:
    """Every ledger row (of ``date``), by date, channel and recipient."""
    stmt = select(Notification)
    if date is not None:
        stmt = stmt.where(Notification.date == date)
    return list(
        session.exec(
            stmt.order_by(
                col(Notification.date), col(Notification.channel), col(Notification.recipient)
            )
        ).all()
    )


def restore_ledger(session: Session, rows: Iterable[Notification]) -> int:
    """Add ledger rows (from committed state) that the database lacks; a stored ``sent``
    row is never downgraded. Returns how many rows were added or upgraded."""
    changed = 0
    try:
        for incoming in rows:
            have = ledger_entry(session, incoming.recipient, incoming.date, incoming.channel)
            if have is None:
                session.add(
                    Notification(
                        recipient=incoming.recipient,
                        date=incoming.date,
                        channel=incoming.channel,
                        message_id=incoming.message_id,
                        status=incoming.status,
                        papers=incoming.papers,
                        attempts=incoming.attempts,
                        error=incoming.error,
                        sent_at=incoming.sent_at,
                    )
                )
                changed += 1
            elif incoming.status == "sent" and have.status != "sent":
                have.status, have.sent_at = "sent", incoming.sent_at
                have.message_id = incoming.message_id
                session.add(have)
                changed += 1
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StorageError(
            f"database error while restoring the ledger: {_db_message(exc)}"
        ) from None
    return changed


# --------------------------------------------------------------------------- export / show


def announcements_of(session: Session, arxiv_id: str) -> list[Announcement]:
    return list(
        session.exec(
            select(Announcement)
            .where(Announcement.arxiv_id == arxiv_id)
            .order_by(col(Announcement.date), col(Announcement.category))
        ).all()
    )


def judgements_of(session: Session, arxiv_id: str) -> list[Judgement]:
    return list(
        session.exec(
            select(Judgement).where(Judgement.arxiv_id == arxiv_id).order_by(col(Judgement.id))
        ).all()
    )


# --------------------------------------------------------------------------- the web page


@dataclass(frozen=True)
class PeriodPaper:
    """A paper announced in a period: its current text and its first date in that period."""

    arxiv_id: str
    version: int | None
    title: str
    authors: list[str]
    abstract: str
    primary_category: str | None
    text_hash: str
    date: dt.date


@dataclass(frozen=True)
class JudgementRow:
    arxiv_id: str
    id: int
    scorer: str
    text_hash: str
    relevance: int | None
    hype: int | None
    tags: list[str]
    tldr: str | None
    reason: str | None


def _first_in_period(
    categories: Sequence[str] | None, date_from: dt.date | None, date_to: dt.date | None
) -> Any:
    """(arxiv_id, first): each paper announced in the period and categories, with its first
    date there (the subquery of :func:`period_paper_keys`)."""
    conditions: list[Any] = []
    if categories is not None:
        conditions.append(col(Announcement.category).in_(list(categories)))
    if date_from is not None:
        conditions.append(col(Announcement.date) >= date_from)
    if date_to is not None:
        conditions.append(col(Announcement.date) <= date_to)
    return (
        sa.select(col(Announcement.arxiv_id), func.min(Announcement.date).label("first"))
        .where(*conditions)
        .group_by(col(Announcement.arxiv_id))
        .subquery()
    )


def ok_judged(
    session: Session, ids: Sequence[str], profile: str, profile_hash: str
) -> set[tuple[str, str]]:
    """(arxiv_id, text_hash) of the ``ok`` judgements of ``ids`` by the profile's current text."""
    out: set[tuple[str, str]] = set()
    for group in chunks(ids):
        stmt = sa.select(col(Judgement.arxiv_id), col(Judgement.text_hash)).where(
            col(Judgement.arxiv_id).in_(list(group)),
            col(Judgement.profile) == profile,
            col(Judgement.profile_hash) == profile_hash,
            col(Judgement.status) == "ok",
        )
        out.update((a, h) for a, h in session.execute(stmt))
    return out


# --------------------------------------------------------------------------- batches


def _commit(session: Session, what: str) -> None:
    try:
        session.commit()
    except OperationalError as exc:
        session.rollback()
        raise StorageError(f"database error while saving {what}: {_db_message(exc)}") from None


def save_batch(
    session: Session, batch: LlmBatch, requests: Sequence[LlmBatchRequest] = ()
) -> LlmBatch:
    """Insert or update a batch (and insert its request lines) in one transaction."""
    session.add(batch)
    session.flush()
    for r in requests:
        r.batch = batch.id or 0
        session.add(r)
    _commit(session, "a batch")
    session.refresh(batch)
    return batch


def open_batches(session: Session) -> list[LlmBatch]:
    """Batches whose results are not stored yet, oldest first."""
    stmt = select(LlmBatch).where(col(LlmBatch.collected_at).is_(None)).order_by(col(LlmBatch.id))
    return list(session.exec(stmt).all())


def batch_requests(session: Session, batch: int) -> list[LlmBatchRequest]:
    stmt = select(LlmBatchRequest).where(LlmBatchRequest.batch == batch)
    return list(session.exec(stmt.order_by(col(LlmBatchRequest.id))).all())


def pending_cache_keys(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` a pending batch line will fill."""
    wanted = set(keys)
    stmt = select(LlmBatchRequest.cache_keys).where(LlmBatchRequest.status == "pending")
    found: set[str] = set()
    for row in session.exec(stmt).all():
        found.update(k for k in row if k in wanted)
    return found


def save_batch_results(
    session: Session,
    calls: Sequence[LlmCall],
    judgements: Sequence[Judgement],
    requests: Sequence[LlmBatchRequest],
) -> None:
    """A collected batch in one transaction: its call rows, its judgements (insert or replace
    by cache key, as :func:`save_judgement`) and its lines marked done."""
    existing = judgements_for_keys(session, [j.cache_key for j in judgements])
    for j in judgements:
        old = existing.get(j.cache_key)
        if old is not None:
            for name in ("status", "relevance", "hype", "tags", "tldr", "reason", "error"):
                setattr(old, name, getattr(j, name))
            old.run_id, old.scorer, old.model, old.created_at = (
                j.run_id,
                j.scorer,
                j.model,
                utcnow(),
            )
            j = old
        existing[j.cache_key] = j
        session.add(j)
    for call in calls:
        session.add(call)
    for r in requests:
        r.status = "done"
        session.add(r)
    _commit(session, "a batch's results")


def pending_papers(session: Session) -> int:
    """Papers in batch lines not collected yet."""
    stmt = select(LlmBatchRequest.arxiv_ids).where(LlmBatchRequest.status == "pending")
    return sum(len(row) for row in session.exec(stmt).all())


def set_request_status(session: Session, requests: Sequence[LlmBatchRequest], status: str) -> None:
    for r in requests:
        r.status = status
        session.add(r)
    _commit(session, "batch lines")


def dates_of_papers(session: Session, ids: Iterable[str]) -> set[dt.date]:
    """The announcement dates of these papers."""
    ids = sorted(set(ids))
    out: set[dt.date] = set()
    for group in chunks(ids):
        stmt = select(col(Announcement.date)).where(col(Announcement.arxiv_id).in_(group))
        out.update(session.exec(stmt.distinct()).all())
    return out


# --------------------------------------------------------------------------- the web page's shards
# ``arxivfilter site`` first reads these light rows (no text columns) to decide which shards
# changed since the last build, then reads the full text and judgements of those shards only.


class PaperKey(NamedTuple):
    """A paper of a period without its text: what tells whether its text changed."""

    arxiv_id: str
    version: int | None
    text_hash: str
    modified: Any  # papers.modified_at (as stored): changes whenever the row is rewritten
    primary_category: str | None
    date: dt.date  # its first announcement date in the period


class JudgementKey(NamedTuple):
    arxiv_id: str
    id: int
    scorer: str
    text_hash: str
    relevance: int | None
    tags: str  # as stored: a JSON list (see json_list)


def json_list(value: Any) -> list[Any]:
    """A JSON column read as text (SQLite) or already decoded (PostgreSQL's driver)."""
    if value is None:
        return []
    if isinstance(value, str):
        loaded = orjson.loads(value)
        return loaded if isinstance(loaded, list) else []
    return list(value)


def _strings(value: Any) -> list[str]:
    return list(map(str, json_list(value)))


def period_paper_keys(
    session: Session,
    categories: Sequence[str] | None,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[PaperKey]:
    """The papers announced in the period and categories that have their text, each with its
    first date there: keys only, no text columns."""
    sub = _first_in_period(categories, date_from, date_to)
    stmt = sa.select(
        col(Paper.arxiv_id),
        col(Paper.version),
        col(Paper.text_hash),
        sa.type_coerce(col(Paper.modified_at), sa.Text),
        col(Paper.primary_category),
        sub.c.first,
    ).join(sub, sub.c.arxiv_id == col(Paper.arxiv_id))
    # a paper held without its text (a stub of the committed state: judged low by every
    # profile) has nothing to show
    stmt = stmt.where(col(Paper.title) != "")
    # Core rows, no ORM loading: a year is 100,000 of them
    out = [PaperKey(*row) for row in session.connection().execute(stmt).all()]
    out.sort(key=lambda p: p.arxiv_id)
    return out


def ok_judgement_keys(session: Session, profile: str, profile_hash: str) -> list[JudgementKey]:
    """The ``ok`` judgements of ``profile`` under ``profile_hash``: keys and numbers, no tags,
    TL;DR or reason."""
    stmt = sa.select(
        col(Judgement.arxiv_id),
        col(Judgement.id),
        col(Judgement.scorer),
        col(Judgement.text_hash),
        col(Judgement.relevance),
        sa.type_coerce(col(Judgement.tags), sa.Text),
    ).where(
        col(Judgement.profile) == profile,
        col(Judgement.profile_hash) == profile_hash,
        col(Judgement.status) == "ok",
    )
    return [
        JudgementKey(a, i or 0, s, th, r, t if isinstance(t, str) else json.dumps(t))
        for a, i, s, th, r, t in session.connection().execute(stmt).all()
    ]


def paper_texts(session: Session, ids: Iterable[str]) -> dict[str, PeriodPaper]:
    """The current text of these papers (``date`` is left as 1970-01-01: the caller knows it)."""
    ids = sorted(set(ids))
    out: dict[str, PeriodPaper] = {}
    epoch = dt.date(1970, 1, 1)
    for group in chunks(ids, _READ_CHUNK):
        stmt = sa.select(
            col(Paper.arxiv_id),
            col(Paper.version),
            col(Paper.title),
            sa.type_coerce(col(Paper.authors), sa.Text),
            col(Paper.abstract),
            col(Paper.primary_category),
            col(Paper.text_hash),
        ).where(col(Paper.arxiv_id).in_(group))
        for a, v, t, au, ab, pc, th in session.connection().execute(stmt).all():
            out[a] = PeriodPaper(a, v, t, _strings(au), ab, pc, th, epoch)
    return out


def judgement_rows(session: Session, judgement_ids: Iterable[int]) -> dict[int, JudgementRow]:
    """These judgements (by row id), columns only."""
    ids = sorted(set(judgement_ids))
    out: dict[int, JudgementRow] = {}
    for group in chunks(ids, _READ_CHUNK):
        stmt = sa.select(
            col(Judgement.arxiv_id),
            col(Judgement.id),
            col(Judgement.scorer),
            col(Judgement.text_hash),
            col(Judgement.relevance),
            col(Judgement.hype),
            sa.type_coerce(col(Judgement.tags), sa.Text),
            col(Judgement.tldr),
            col(Judgement.reason),
        ).where(col(Judgement.id).in_(group))
        for a, jid, s, th, r, h, tags, tl, re_ in session.connection().execute(stmt).all():
            out[jid or 0] = JudgementRow(a, jid or 0, s, th, r, h, _strings(tags), tl, re_)
    return out


# --------------------------------------------------------------------------- reads by id
# Named queries for the stages that read papers by id (export, report, learned scoring,
# eval): every IN (…) list through :func:`chunks`.


def papers_by_id(session: Session, ids: Iterable[str]) -> dict[str, Paper]:
    """The stored papers among ``ids``."""
    out: dict[str, Paper] = {}
    for chunk in chunks(sorted(set(ids))):
        for paper in session.exec(select(Paper).where(col(Paper.arxiv_id).in_(list(chunk)))):
            out[paper.arxiv_id] = paper
    return out


def announcements_by_paper(
    session: Session, ids: Iterable[str], categories: Sequence[str] | None = None
) -> dict[str, list[Announcement]]:
    """The listing rows of each of ``ids`` (only ``categories`` when given), in row order."""
    out: dict[str, list[Announcement]] = {}
    for chunk in chunks(sorted(set(ids))):
        stmt = select(Announcement).where(col(Announcement.arxiv_id).in_(list(chunk)))
        for a in session.exec(stmt.order_by(col(Announcement.id))):
            if categories is None or a.category in categories:
                out.setdefault(a.arxiv_id, []).append(a)
    return out


def judgements_by_paper(
    session: Session, ids: Iterable[str], profile: str | None = None
) -> dict[str, list[Judgement]]:
    """The judgements of each of ``ids`` (of one ``profile`` when given), in row order."""
    out: dict[str, list[Judgement]] = {}
    for chunk in chunks(sorted(set(ids))):
        stmt = select(Judgement).where(col(Judgement.arxiv_id).in_(list(chunk)))
        if profile is not None:
            stmt = stmt.where(col(Judgement.profile) == profile)
        for j in session.exec(stmt.order_by(col(Judgement.id))):
            out.setdefault(j.arxiv_id, []).append(j)
    return out


def announced_ids(
    session: Session,
    categories: Sequence[str] | None,
    *,
    date: dt.date | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> list[str]:
    """The distinct papers announced on ``date`` (or in the range) in ``categories``, sorted."""
    stmt = select(Announcement.arxiv_id).distinct()
    if date is not None:
        stmt = stmt.where(Announcement.date == date)
    if date_from is not None:
        stmt = stmt.where(Announcement.date >= date_from)
    if date_to is not None:
        stmt = stmt.where(Announcement.date <= date_to)
    if categories is not None:
        stmt = stmt.where(col(Announcement.category).in_(list(categories)))
    return sorted(session.exec(stmt).all())


def first_dates(session: Session, ids: Iterable[str]) -> dict[str, dt.date]:
    """Each id's first announcement date, else its first version's publication date."""
    out: dict[str, dt.date] = {}
    for chunk in chunks(sorted(set(ids))):
        rows = session.exec(
            select(col(Announcement.arxiv_id), col(Announcement.date)).where(
                col(Announcement.arxiv_id).in_(list(chunk))
            )
        )
        for arxiv_id, day in rows:
            if arxiv_id not in out or day < out[arxiv_id]:
                out[arxiv_id] = day
        missing = [k for k in chunk if k not in out]
        if missing:
            for arxiv_id, published in session.exec(
                select(col(Paper.arxiv_id), col(Paper.published)).where(
                    col(Paper.arxiv_id).in_(missing)
                )
            ):
                if published is not None:
                    out[arxiv_id] = published.date()
    return out


def first_dates_in(
    session: Session, categories: Sequence[str], first: dt.date, last: dt.date
) -> dict[str, dt.date]:
    """The papers announced in ``categories`` between ``first`` and ``last`` (inclusive),
    each with its first date in that window."""
    rows = session.exec(
        select(col(Announcement.arxiv_id), col(Announcement.date)).where(
            col(Announcement.category).in_(list(categories)),
            col(Announcement.date) >= first,
            col(Announcement.date) <= last,
        )
    )
    seen: dict[str, dt.date] = {}
    for arxiv_id, day in rows:
        if arxiv_id not in seen or day < seen[arxiv_id]:
            seen[arxiv_id] = day
    return seen


# --------------------------------------------------------------------------- feedback


def feedback_rows(session: Session, profile: str) -> list[Feedback]:
    """The ``feedback`` table's rows of ``profile`` (the mirror of its file), sorted by id."""
    stmt = select(Feedback).where(col(Feedback.profile) == profile)
    return list(session.exec(stmt.order_by(col(Feedback.arxiv_id))).all())


def sync_feedback(session: Session, profile: str, verdicts: dict[str, tuple[str, dt.date]]) -> None:
    """Make the rows of ``profile`` equal ``verdicts`` (id -> (verdict, date)); commits."""
    rows = {r.arxiv_id: r for r in feedback_rows(session, profile)}
    gone = sorted(set(rows) - set(verdicts))
    for chunk in chunks(gone):
        session.exec(
            delete(Feedback).where(
                col(Feedback.profile) == profile, col(Feedback.arxiv_id).in_(list(chunk))
            )
        )
    for arxiv_id, (verdict, date) in sorted(verdicts.items()):
        row = rows.get(arxiv_id)
        if row is None:
            session.add(Feedback(profile=profile, arxiv_id=arxiv_id, verdict=verdict, date=date))
        elif (row.verdict, row.date) != (verdict, date):
            row.verdict, row.date = verdict, date
            session.add(row)
    session.commit()
