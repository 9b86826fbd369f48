"""The committed text state (``[state] dir``, default ``state/``): what a fresh machine needs
to rebuild the database so that it never pays twice and renders the same outputs.

The nightly Action runs on a new machine every night, so the state travels in the
repository. It is text (one JSON object per line, keys sorted, records sorted), a pure
function of the database: the same database writes the same bytes, so a night's commit is
the diff of what that night changed. No file grows without bound: papers are split per
range of 1,000 arXiv ids, announcements per date, runs per year. Layout::

    state/manifest.json                  schema, counts, newest run and listing
    state/groups.jsonl                   judgement key groups: profile, scorer, model,
                                         profile hash, prompt hash (a few lines)
    state/papers/2602/2602.20.jsonl      papers 2602.20000-2602.20999, each with its
                                         judgements (the cache key is derived from the
                                         text hash and the group: text.cache_key)
    state/announcements/2026/2026-02-24.jsonl   the listing rows of one date
    state/runs/2026.jsonl                the run history, compact
    state/llm.jsonl                      accepted structured-output modes, open batches
    state/index.json                     what the files were made from: the next save
                                         renders only those whose inputs changed

A paper whose every judgement is ``ok`` and below the text floor (``[state]
text_min_relevance``, and every profile's threshold minus the just-missed margin) is kept
as a *stub*: id, version, categories, text hash and its judgements' numbers and tags, no
title, abstract, TL;DR or reason. Such a paper is never listed, so no digest, log or feed
shows its text; its judgements are found by their keys, so it is not paid for again. A
later announcement of the same text (a cross-list, a re-fetch) fills the text back without
changing the hash. Papers never judged, with a failed judgement, or missing a judgement of
a profile that judged its day, keep their text (the next run judges them). The LLM call
log (raw replies) is not carried: the run history keeps each run's cost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from arxivfilter.errors import StorageError
from arxivfilter.gcpause import paused_gc
from arxivfilter.models import (
    Announcement,
    Feedback,
    Judgement,
    LlmBatch,
    LlmBatchRequest,
    LlmMode,
    Paper,
    Run,
    utcnow,
)
from arxivfilter.report.write import write_atomic
from arxivfilter.text import cache_key

log = structlog.get_logger(__name__)

SCHEMA = 1
MAX_FILE_BYTES = 10 * 1024 * 1024  # no committed file above this (GitHub warns from 50 MB)
MESSAGE_CHARS = 500
_NEW_ID = re.compile(r"^(\d{4})\.(\d{2})")
_RUN_COUNTS = ("papers", "judged", "cached", "failed", "unscored", "llm_calls", "cost_usd")
_SUBDIRS = ("papers", "announcements", "runs")


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _dumps(rec: Any) -> str:
    """``json.dumps(rec, ensure_ascii=False, sort_keys=True, separators=(",", ":"))``, with
    one encoder for every record (dumps builds one per call when given options)."""
    return _ENCODER.encode(rec)


def _lines(records: Iterable[Any]) -> str:
    encode = _ENCODER.encode
    return "".join([encode(r) + "\n" for r in records])


def _iso(value: dt.datetime | dt.date | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite's stored text (read raw: see _raw)
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat(timespec="seconds")
    return value.isoformat()


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def paper_file(arxiv_id: str) -> str:
    """``papers/2602/2602.20.jsonl`` for 2602.20217 (1,000 ids a file); old-style ids
    (``math/0501001``) go per archive and year-month."""
    m = _NEW_ID.match(arxiv_id)
    if m:
        return f"papers/{m.group(1)}/{m.group(1)}.{m.group(2)}.jsonl"
    archive, _, number = arxiv_id.partition("/")
    safe = re.sub(r"[^A-Za-z0-9.-]", "-", archive) or "other"
    return f"papers/old/{safe}-{number[:4] or 'x'}.jsonl"


def group_id(profile: str, scorer: str, model: str, profile_hash: str, prompt_hash: str) -> str:
    blob = "\x1f".join((profile, scorer, model, profile_hash, prompt_hash))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


@dataclass
class SaveResult:
    folder: Path
    files: int = 0
    rendered: int = 0  # files rendered (all of them, or an incremental save's changed ones)
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    papers: int = 0
    stubs: int = 0
    judgements: int = 0
    largest: tuple[str, int] = ("", 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "files": self.files,
            "rendered": self.rendered,
            "written": len(self.written),
            "removed": len(self.removed),
            "papers": self.papers,
            "stubs": self.stubs,
            "judgements": self.judgements,
            "largest_file": {"path": self.largest[0], "bytes": self.largest[1]},
        }


@dataclass
class LoadResult:
    folder: Path
    papers: int = 0
    filled: int = 0
    announcements: int = 0
    judgements: int = 0
    runs: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "papers": self.papers,
            "texts_filled": self.filled,
            "announcements": self.announcements,
            "judgements": self.judgements,
            "runs": self.runs,
            "batches": self.batches,
        }


# --------------------------------------------------------------------------- save


def _rows(conn: sa.Connection, table: Any, *order: Any) -> list[sa.Row[Any]]:
    return list(conn.execute(sa.select(table).order_by(*order)))


@dataclass(frozen=True)
class Scope:
    """Part of the state to render: the paper files of these arXiv id prefixes (``2601.09``,
    the first :data:`SHARD` characters of an id) and the announcement files of these dates."""

    prefixes: frozenset[str]
    dates: frozenset[dt.date]


#: the paper files' key: the first 7 characters of an id (``2602.20`` of 2602.20217) name one
#: file; an old-style id's (``math/05``, ``hep-th/``) name a few, all rendered together
SHARD = 7


def render_state(
    engine: Engine,
    *,
    text_floor: int,
    scope: Scope | None = None,
    keep: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Every state file (relative path -> text) of the database, deterministically; with
    ``scope``, only its files (each the same bytes as in the whole) and the small ones.
    ``keep``: papers that keep their text whatever their judgements (liked examples, which
    the learned model trains on; papers with a reader's verdict are added from the
    database)."""
    return _render(engine, text_floor=text_floor, scope=scope, keep=keep).files


@dataclass
class _Snapshot:
    """What one save reads from the database, in one connection."""

    papers: list[Any]  # the papers whose files are rendered
    rows: list[Any]  # their announcement rows
    judgements: list[Any]  # their judgements, by paper and id
    day_rows: list[Any]  # the announcement rows of the dates rendered
    day_papers: dict[str, tuple[Any, str]]  # id -> (version, text hash) of those rows' papers
    judged_on: dict[dt.date, set[str]]  # date -> profiles with a judgement of a paper listed then
    runs: list[Any] = field(default_factory=list)
    modes: list[Any] = field(default_factory=list)
    batches: list[Any] = field(default_factory=list)  # open (not yet collected) batches
    requests: list[Any] = field(default_factory=list)  # their requests
    group_rows: list[Any] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)
    newest: dt.date | None = None
    keep: frozenset[str] = frozenset()


def _tables() -> tuple[Any, Any, Any, Any]:
    return (
        Paper.__table__,  # type: ignore[attr-defined]
        Announcement.__table__,  # type: ignore[attr-defined]
        Judgement.__table__,  # type: ignore[attr-defined]
        Run.__table__,  # type: ignore[attr-defined]
    )


def _announcement_columns(A: Any) -> tuple[Any, ...]:
    return (
        A.c.arxiv_id,
        A.c.date,
        A.c.category,
        A.c.type,
        A.c.version,
        A.c.text_hash,
        A.c.source,
        A.c.approximate,
        A.c.derived,
    )


def _raw(column: Any) -> Any:
    """A JSON or date-time column as the driver gives it (SQLite: its text, decoded by
    :func:`_json` / :func:`_iso`; PostgreSQL: already Python values), without SQLAlchemy's
    per-value result processing (the bulk of a whole save's reading time)."""
    return sa.type_coerce(column, sa.String).label(column.name)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _paper_columns(P: Any) -> tuple[Any, ...]:
    return (
        P.c.arxiv_id,
        P.c.version,
        P.c.text_hash,
        _raw(P.c.categories),
        P.c.primary_category,
        P.c.withdrawn,
        P.c.title,
        _raw(P.c.authors),
        P.c.abstract,
        P.c.comment,
        P.c.journal_ref,
        P.c.doi,
        _raw(P.c.published),
        _raw(P.c.updated),
    )


def _judgement_columns(J: Any) -> tuple[Any, ...]:
    return (
        J.c.id,
        J.c.arxiv_id,
        J.c.profile,
        J.c.scorer,
        J.c.model,
        J.c.text_hash,
        J.c.profile_hash,
        J.c.prompt_hash,
        J.c.cache_key,
        J.c.status,
        J.c.relevance,
        J.c.hype,
        _raw(J.c.tags),
        J.c.tldr,
        J.c.reason,
        J.c.error,
        J.c.run_id,
    )


def _read_everything(conn: sa.Connection) -> _Snapshot:
    P, A, J, _R = _tables()
    papers = list(conn.execute(sa.select(*_paper_columns(P)).order_by(P.c.arxiv_id)).all())
    rows = list(conn.execute(sa.select(*_announcement_columns(A))).all())
    return _Snapshot(
        papers=papers,
        rows=rows,
        judgements=list(conn.execute(sa.select(*_judgement_columns(J)).order_by(J.c.id)).all()),
        day_rows=rows,
        day_papers={p[0]: (p[1], p[2]) for p in papers},
        judged_on=defaultdict(set),  # filled from the judgements (every date is rendered)
    )


def _prefixed(column: Any, prefixes: Iterable[str]) -> Any:
    return sa.or_(*(sa.and_(column >= x, column < x + "\x7f") for x in sorted(prefixes)))


def _read_scope(conn: sa.Connection, scope: Scope) -> _Snapshot:
    P, A, J, _R = _tables()
    a_cols = _announcement_columns(A)
    papers: list[Any] = []
    rows: list[Any] = []
    judgements: list[Any] = []
    prefixes = sorted(scope.prefixes)
    for i in range(0, len(prefixes), 200):  # a bounded OR of id ranges per statement
        part = prefixes[i : i + 200]
        like = _prefixed(P.c.arxiv_id, part)
        papers += conn.execute(sa.select(*_paper_columns(P)).where(like))
        rows += conn.execute(sa.select(*a_cols).where(_prefixed(A.c.arxiv_id, part)))
        judgements += conn.execute(
            sa.select(*_judgement_columns(J)).where(_prefixed(J.c.arxiv_id, part))
        )
    papers.sort(key=lambda p: p[0])
    judgements.sort(key=lambda j: j[0])
    dates = sorted(scope.dates)
    day_rows = list(conn.execute(sa.select(*a_cols).where(A.c.date.in_(dates)))) if dates else []
    on_days = sa.select(A.c.arxiv_id).where(A.c.date.in_(dates))
    day_papers = (
        {
            a: (v, h)
            for a, v, h in conn.execute(
                sa.select(P.c.arxiv_id, P.c.version, P.c.text_hash).where(P.c.arxiv_id.in_(on_days))
            )
        }
        if dates
        else {}
    )
    judged_on = _judged_on(conn, {r.date for r in rows})
    return _Snapshot(papers, rows, judgements, day_rows, day_papers, judged_on)


def _judged_on(conn: sa.Connection, dates: Iterable[dt.date]) -> dict[dt.date, set[str]]:
    """date -> the profiles with a judgement of a paper listed on that date."""
    _P, A, J, _R = _tables()
    out: dict[dt.date, set[str]] = defaultdict(set)
    wanted = sorted(set(dates))
    for i in range(0, len(wanted), 500):
        for d, prof in conn.execute(
            sa.select(A.c.date, J.c.profile)
            .join(J, J.c.arxiv_id == A.c.arxiv_id)
            .where(A.c.date.in_(wanted[i : i + 500]))
            .distinct()
        ):
            out[_as_date(d)].add(prof)
    return out


def _as_date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _count(conn: sa.Connection, table: Any) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)


def _read_small(conn: sa.Connection, snap: _Snapshot, keep: frozenset[str]) -> None:
    """The small tables and the totals, whatever the scope."""
    P, A, J, R = _tables()
    M = LlmMode.__table__  # type: ignore[attr-defined]
    B = LlmBatch.__table__  # type: ignore[attr-defined]
    BR = LlmBatchRequest.__table__  # type: ignore[attr-defined]
    snap.runs = _rows(conn, R, R.c.id)
    snap.modes = _rows(conn, M, M.c.id)
    snap.batches = list(conn.execute(sa.select(B).where(B.c.collected_at.is_(None))))
    open_ids = [b.id for b in snap.batches]
    if open_ids:
        snap.requests = list(
            conn.execute(sa.select(BR).where(BR.c.batch.in_(open_ids)).order_by(BR.c.id))
        )
    snap.group_rows = list(
        conn.execute(
            sa.select(
                J.c.profile, J.c.scorer, J.c.model, J.c.profile_hash, J.c.prompt_hash
            ).distinct()
        )
    )
    snap.totals = {
        "papers": _count(conn, P),
        "announcements": _count(conn, A),
        "judgements": _count(conn, J),
    }
    snap.newest = conn.execute(sa.select(sa.func.max(A.c.date))).scalar()
    snap.keep = frozenset(keep | _kept(conn))


def _kept(conn: sa.Connection) -> set[str]:
    F = Feedback.__table__  # type: ignore[attr-defined]
    return set(conn.execute(sa.select(F.c.arxiv_id)).scalars())


def _last_profiles(conn: sa.Connection) -> list[str]:
    """The newest run's profiles, which count as needed for every paper."""
    R = _tables()[3]
    value = conn.execute(sa.select(_raw(R.c.profiles)).order_by(R.c.id.desc()).limit(1)).scalar()
    return sorted(set(_json(value) or []))


# ------------------------------------------------------------ the index of a save's inputs
#
# ``index.json`` lets the next save render only the files whose inputs changed. It is a pure
# function of the database (a full save and an incremental one write the same bytes), and a
# state loaded into a fresh database gives that database the same index (the loaded rows'
# ``modified_at`` / ``created_at`` are set to the index's watermarks), so the nightly Action,
# which loads the committed state on a new machine every night, renders the night's changes
# only. What it holds and what each entry catches:
#
# - per paper file key (:data:`SHARD`): the number of papers, listing rows and judgements
#   (a row added or deleted, by any code path);
# - per date: listing rows and distinct papers (a listing added or superseded), and the
#   profiles that judged a paper listed then (a paper's stub decision depends on them);
# - the newest ``papers.modified_at`` and ``judgements.created_at`` (every rewrite of a paper
#   or a judgement sets them: ``ingest.fold``, ``store.save_judgement(s)``): a row changed in
#   place since is newer;
# - the text floor, the newest run's profiles and the kept ids (liked, or with a verdict):
#   a different floor or profile set renders every paper file again.
#
# Deleting ``index.json`` (or ``save_state(full=True)``) makes the next save a whole one.

INDEX_FILE = "index.json"
INDEX_SCHEMA = 1


def _stamp(value: Any) -> str | None:
    """A stored date-time as the index keeps it (UTC, naive, microseconds)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return str(value.isoformat(sep=" ", timespec="microseconds"))


def _signatures(conn: sa.Connection) -> dict[str, Any]:
    """The index's aggregates: a few GROUP BY queries on indexed columns, no row decoded."""
    P, A, J, _R = _tables()
    shards: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for n, (table, column) in enumerate(((P, P.c.arxiv_id), (A, A.c.arxiv_id), (J, J.c.arxiv_id))):
        key = sa.func.substr(column, 1, SHARD)
        for k, count in conn.execute(
            sa.select(key, sa.func.count()).select_from(table).group_by(key)
        ):
            shards[str(k)][n] = int(count)
    dates = {
        _as_date(d).isoformat(): [int(rows), int(papers)]
        for d, rows, papers in conn.execute(
            sa.select(A.c.date, sa.func.count(), sa.func.count(sa.distinct(A.c.arxiv_id))).group_by(
                A.c.date
            )
        )
    }
    return {
        "shards": {k: shards[k] for k in sorted(shards)},
        "dates": dates,
        "papers_modified": _stamp(
            conn.execute(sa.select(sa.func.max(_raw(P.c.modified_at)))).scalar()
        ),
        "judgements_created": _stamp(
            conn.execute(sa.select(sa.func.max(_raw(J.c.created_at)))).scalar()
        ),
    }


def _index_text(
    sig: dict[str, Any],
    judged_on: dict[str, list[str]],
    floor: int,
    last: list[str],
    keep: frozenset[str],
) -> str:
    dates = {d: [*counts, judged_on.get(d, [])] for d, counts in sorted(sig["dates"].items())}
    index = {
        "schema": INDEX_SCHEMA,
        "text_floor": floor,
        "last_profiles": last,
        "keep": sorted(keep),
        "papers_modified": sig["papers_modified"],
        "judgements_created": sig["judgements_created"],
        "shards": sig["shards"],
        "dates": dates,
    }
    return json.dumps(index, sort_keys=True, separators=(",", ":")).replace('],"', '],\n"') + "\n"


def read_index(folder: Path) -> dict[str, Any] | None:
    """The saved index, None when absent, unreadable or of another version (a whole save)."""
    try:
        data = json.loads((folder / INDEX_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != INDEX_SCHEMA:
        return None
    return data


def _watermark(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


@dataclass
class _Plan:
    """What one incremental save renders, and the index entries it carries over."""

    scope: Scope
    judged_on: dict[str, list[str]]  # every date's profiles (carried over or recomputed)
    old_style: bool  # the old-style ids' files are rendered (all of them)


def _plan(
    conn: sa.Connection,
    old: dict[str, Any],
    sig: dict[str, Any],
    floor: int,
    last: list[str],
    keep: frozenset[str],
) -> _Plan | None:
    """The files whose inputs changed since the save that wrote ``old``; None when every
    paper file must be rendered again (another floor or profile set)."""
    if old.get("text_floor") != floor or old.get("last_profiles") != last:
        return None
    old_shards, new_shards = old.get("shards") or {}, sig["shards"]
    old_dates = {d: v[:2] for d, v in (old.get("dates") or {}).items()}
    row_dates = _differing(old_dates, sig["dates"])  # the dates whose listing rows changed
    shards = _differing(old_shards, new_shards)
    shards |= _shards_of(keep.symmetric_difference(old.get("keep") or []))
    changed, judged_papers = _changed_since(conn, old)
    shards |= _shards_of(changed) | _shards_of(judged_papers)
    recounted = [
        k
        for k in shards
        if (old_shards.get(k) or [0, 0, 0])[2] != (new_shards.get(k) or [0, 0, 0])[2]
    ]
    # the dates whose listing records show a changed paper's version or text hash
    dates = row_dates | _iso_dates(_dates_of(conn, changed))
    recheck = _recheck(conn, dates, judged_papers, recounted) & set(sig["dates"])
    judged_on, shifted = _judged_on_again(conn, old, sig, recheck)
    # every paper listed on a date whose rows changed is rendered again (its dates did), and
    # on a date whose judging profiles changed (its stub decision may have)
    live = sorted(d for d in row_dates | shifted if d in sig["dates"])
    if live:
        shards |= _shards_of(_papers_on(conn, [dt.date.fromisoformat(d) for d in live]))
    old_style = any("/" in k for k in shards)
    if old_style:  # the old-style files do not follow the keys: render them all
        shards |= {k for k in new_shards if "/" in k}
    scope = Scope(frozenset(shards), frozenset(dt.date.fromisoformat(d) for d in dates))
    return _Plan(scope, judged_on, old_style)


def _differing(old: Mapping[str, Any], new: Mapping[str, Any]) -> set[str]:
    """The keys whose entries differ between two index maps (or are in only one)."""
    return {k for k in set(old) | set(new) if old.get(k) != new.get(k)}


def _shards_of(ids: Iterable[str]) -> set[str]:
    return {pid[:SHARD] for pid in ids}


def _iso_dates(values: Iterable[Any]) -> set[str]:
    return {_as_date(d).isoformat() for d in values}


def _changed_since(conn: sa.Connection, old: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The papers modified, and the papers whose judgements changed, since the save that
    wrote ``old`` (all of them when it recorded no watermark)."""
    P, _A, J, _R = _tables()
    wp, wj = _watermark(old.get("papers_modified")), _watermark(old.get("judgements_created"))
    modified = sa.select(P.c.arxiv_id)
    if wp is not None:
        modified = modified.where(P.c.modified_at > wp)
    changed = set(conn.execute(modified).scalars())
    rejudged = sa.select(J.c.arxiv_id).distinct()
    if wj is not None:
        rejudged = rejudged.where(J.c.created_at > wj)
    return changed, set(conn.execute(rejudged).scalars())


def _recheck(
    conn: sa.Connection, dates: set[str], judged_papers: set[str], recounted: list[str]
) -> set[str]:
    """The dates whose judging profiles may have changed: ``dates``, the dates of the papers
    judged again and of the shards whose judgement count changed."""
    A = _tables()[1]
    recheck = dates | _iso_dates(_dates_of(conn, judged_papers))
    if recounted:
        recheck |= _iso_dates(
            conn.execute(
                sa.select(A.c.date).where(_prefixed(A.c.arxiv_id, recounted)).distinct()
            ).scalars()
        )
    return recheck


def _judged_on_again(
    conn: sa.Connection, old: dict[str, Any], sig: dict[str, Any], recheck: set[str]
) -> tuple[dict[str, list[str]], set[str]]:
    """Every date's judging profiles (carried over from ``old``, ``recheck``'s recomputed
    exactly) and the dates among ``recheck`` whose profiles changed."""
    fresh = _judged_on(conn, [dt.date.fromisoformat(d) for d in recheck])
    judged_on = {d: v[2] for d, v in (old.get("dates") or {}).items() if d in sig["dates"]}
    shifted: set[str] = set()
    for d in recheck:
        value = sorted(fresh.get(dt.date.fromisoformat(d), set()))
        if judged_on.get(d) != value:
            shifted.add(d)
        judged_on[d] = value
    return judged_on, shifted


def _dates_of(conn: sa.Connection, ids: Iterable[str]) -> set[Any]:
    A = _tables()[1]
    wanted = sorted(set(ids))
    out: set[Any] = set()
    for i in range(0, len(wanted), 500):
        out.update(
            conn.execute(
                sa.select(A.c.date).where(A.c.arxiv_id.in_(wanted[i : i + 500])).distinct()
            ).scalars()
        )
    return out


def _papers_on(conn: sa.Connection, dates: Sequence[dt.date]) -> set[str]:
    A = _tables()[1]
    out: set[str] = set()
    for i in range(0, len(dates), 500):
        out.update(
            conn.execute(
                sa.select(A.c.arxiv_id).where(A.c.date.in_(dates[i : i + 500])).distinct()
            ).scalars()
        )
    return out


@dataclass
class _Rendered:
    files: dict[str, str]
    counts: dict[str, int]
    plan: _Plan | None = None  # None: every file was rendered (or an explicit scope)
    whole: bool = True
    index: str | None = None  # the index of this render's inputs (not with a scope)


def _render(
    engine: Engine,
    *,
    text_floor: int,
    scope: Scope | None = None,
    keep: frozenset[str] = frozenset(),
    old: dict[str, Any] | None = None,
) -> _Rendered:
    """Render the state: every file (``scope`` and ``old`` None), an explicit ``scope``, or
    the files whose inputs changed since the save that wrote the index ``old``."""
    plan = None
    try:
        with engine.connect() as conn:
            snap = _Snapshot([], [], [], [], {}, defaultdict(set))
            _read_small(conn, snap, keep)
            last = _last_profiles(conn)
            sig = _signatures(conn) if scope is None else None
            if old is not None and sig is not None:
                plan = _plan(conn, old, sig, text_floor, last, snap.keep)
            rendered = scope if plan is None else plan.scope
            part = _read_everything(conn) if rendered is None else _read_scope(conn, rendered)
            snap.papers, snap.rows, snap.judgements = part.papers, part.rows, part.judgements
            snap.day_rows, snap.day_papers, snap.judged_on = (
                part.day_rows,
                part.day_papers,
                part.judged_on,
            )
    except SQLAlchemyError as exc:
        raise StorageError(f"database error while reading the state: {exc}") from None
    files: dict[str, list[Any]] = defaultdict(list)
    counts = _render_papers(snap, files, text_floor, whole=rendered is None)
    _announcement_records(snap, files)
    for run in snap.runs:
        year = run.started_at.year if run.started_at else 0
        files[f"runs/{year:04d}.jsonl"].append(_run_record(run))
    out = {path: _lines(recs) for path, recs in files.items()}
    groups = _groups(snap.group_rows)
    out["groups.jsonl"] = _lines(groups[g] for g in sorted(groups))
    out["llm.jsonl"] = _lines(_llm_records(snap))
    manifest = {
        "schema": SCHEMA,
        "newest_run": max((r.id for r in snap.runs), default=0),
        "newest_listing": _iso(snap.newest),
        "counts": {**snap.totals, "runs": len(snap.runs)},
        "text_floor": text_floor,
    }
    out["manifest.json"] = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    if sig is not None:
        judged = (
            plan.judged_on
            if plan is not None
            else {d.isoformat(): sorted(p) for d, p in snap.judged_on.items()}
        )
        index = _index_text(sig, judged, text_floor, last, snap.keep)
    return _Rendered(out, counts, plan, whole=rendered is None, index=index if sig else None)


def _render_papers(
    snap: _Snapshot, files: dict[str, list[Any]], text_floor: int, *, whole: bool
) -> dict[str, int]:
    by_paper_dates: dict[str, set[dt.date]] = defaultdict(set)
    for r in snap.rows:  # rows of _announcement_columns, judgements of _judgement_columns
        by_paper_dates[r[0]].add(r[1])
    by_paper_j: dict[str, list[Any]] = defaultdict(list)
    for j in snap.judgements:
        by_paper_j[j[1]].append(j)
        if whole:  # every date is rendered: the profiles that judged each date
            for d in by_paper_dates.get(j[1], ()):
                snap.judged_on[d].add(j[2])
    # the profiles of the newest run count as needed for every paper (a night that ran out
    # of quota between two profiles keeps the texts the second one has still to judge)
    last_profiles = set(snap.runs[-1].profiles or []) if snap.runs else set()
    counts = {"papers": 0, "stubs": 0, "judgements": 0}
    group_ids: dict[tuple[str, str, str, str, str], str] = {}
    memo: dict[str, Any] = {}
    no_dates: set[dt.date] = set()
    for p in snap.papers:
        aid, thash = p[0], p[2]
        mine = by_paper_j.get(aid, [])
        days = by_paper_dates.get(aid, no_dates)
        stub = aid not in snap.keep and _is_stub(
            mine, days, snap.judged_on, text_floor, last_profiles
        )
        rec = _paper_record(p, stub, memo)
        js = [_judgement_record(j, thash, stub, group_ids, memo) for j in mine]
        if js:
            rec["j"] = js
        files[paper_file(aid)].append(rec)
        counts["papers"] += 1
        counts["stubs"] += stub
        counts["judgements"] += len(js)
    return counts


def _announcement_records(snap: _Snapshot, files: dict[str, list[Any]]) -> None:
    """The listing rows of each rendered date, one record per paper and date (its
    categories and row types), the version and hash only where they differ from the paper's."""
    grouped: dict[tuple[str, dt.date, Any, str, str, bool, bool], dict[str, str]] = {}
    for arxiv_id, date, category, rtype, version, thash, source, approx, derived in snap.day_rows:
        key = (arxiv_id, date, version, thash, source, approx, derived)
        grouped.setdefault(key, {})[category] = rtype
    paths: dict[dt.date, str] = {}
    for (arxiv_id, date, version, thash, source, approx, derived), cats in sorted(
        grouped.items(), key=lambda kv: (kv[0][1], kv[0][0], str(kv[0][2:]))
    ):
        vh = snap.day_papers.get(arxiv_id)
        rec: dict[str, Any] = {"id": arxiv_id, "rows": cats, "src": source}
        if vh is None or version != vh[0]:
            rec["v"] = version
        if vh is None or thash != vh[1]:
            rec["h"] = thash
        if approx:
            rec["approx"] = True
        if derived:
            rec["derived"] = True
        path = paths.get(date)
        if path is None:
            path = paths[date] = f"announcements/{date:%Y}/{date.isoformat()}.jsonl"
        files[path].append(rec)


def _groups(group_rows: Iterable[Any]) -> dict[str, dict[str, str]]:
    groups: dict[str, dict[str, str]] = {}
    for profile, scorer, model, profile_hash, prompt_hash in group_rows:
        g = group_id(profile, scorer, model, profile_hash, prompt_hash)
        groups[g] = {
            "g": g,
            "profile": profile,
            "scorer": scorer,
            "model": model,
            "profile_hash": profile_hash,
            "prompt_hash": prompt_hash,
        }
    return groups


def _paper_record(p: Any, stub: bool, memo: dict[str, Any] | None = None) -> dict[str, Any]:
    """A paper's record; ``p`` a row of :func:`_paper_columns` (read by position: a whole
    save builds 100,000s of these)."""
    (aid, version, thash, cats, primary, withdrawn, title, authors, abstract, *rest) = p
    comment, journal_ref, doi, published, updated = rest
    rec: dict[str, Any] = {
        "id": aid,
        "v": version,
        "h": thash,
        "c": list(_json_memo(cats, memo) or []),
        "p": primary,
    }
    if withdrawn:
        rec["withdrawn"] = True
    if stub:
        rec["stub"] = True
        return rec
    rec.update(
        {
            "title": title,
            "authors": list(_json(authors) or []),
            "abstract": abstract,
            "comment": comment,
            "journal_ref": journal_ref,
            "doi": doi,
            "published": _iso(published),
            "updated": _iso(updated),
        }
    )
    return {k: v for k, v in rec.items() if v is not None}


def _json_memo(value: Any, memo: dict[str, Any] | None) -> Any:
    """:func:`_json` of a value many rows share (categories, tags), decoded once."""
    if memo is None or not isinstance(value, str):
        return _json(value)
    found = memo.get(value)
    if found is None:
        found = memo[value] = json.loads(value)
    return found


def _judgement_record(
    j: Any,
    paper_hash: str,
    stub: bool,
    group_ids: dict[tuple[str, str, str, str, str], str],
    memo: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A judgement's record; ``j`` a row of :func:`_judgement_columns`, read by position."""
    (jid, _aid, profile, scorer, model, thash, phash, prhash, key, status, *rest) = j
    relevance, hype, tags, tldr, reason, error, run_id = rest
    gkey = (profile, scorer, model, phash, prhash)
    g = group_ids.get(gkey)
    if g is None:
        g = group_ids[gkey] = group_id(*gkey)
    jr: dict[str, Any] = {"i": jid, "g": g, "r": relevance}
    if status != "ok":
        jr["s"] = status
    if hype is not None:
        jr["hy"] = hype
    tags = _json_memo(tags, memo)
    if tags:
        jr["t"] = list(tags)
    if thash != paper_hash:
        jr["h"] = thash
    if key != cache_key(thash, phash, model, prhash):
        jr["k"] = key
    if run_id is not None:
        jr["run"] = run_id
    if not stub:
        if tldr is not None:
            jr["tl"] = tldr
        if reason is not None:
            jr["re"] = reason
        if error is not None:
            jr["e"] = error
    return jr


def _run_record(run: Any) -> dict[str, Any]:
    rec = {
        "id": run.id,
        "cmd": run.command,
        "status": run.status,
        "from": _iso(run.date_from),
        "to": _iso(run.date_to),
        "profiles": list(run.profiles or []),
        "exit": run.exit_code,
        "cost": run.cost_usd,
        "msg": (run.message or "")[:MESSAGE_CHARS] or None,
        "start": _iso(run.started_at),
        "end": _iso(run.finished_at),
        "counts": _compact_counts(run.counts),
    }
    return {k: v for k, v in rec.items() if v is not None}


def _llm_records(snap: _Snapshot) -> list[dict[str, Any]]:
    """Accepted structured-output modes, then the open batches and their requests."""
    llm: list[dict[str, Any]] = [
        {"kind": "mode", "base_url": m.base_url, "model": m.model, "mode": m.mode}
        for m in snap.modes
    ]
    batch_fields = (
        "id",
        "batch_id",
        "input_file_id",
        "output_file_id",
        "error_file_id",
        "status",
        "base_url",
        "model",
        "requests",
        "run_id",
    )
    for b in sorted(snap.batches, key=lambda b: b.id):
        rec: dict[str, Any] = {"kind": "batch"}
        rec.update({name: getattr(b, name) for name in batch_fields})
        rec["created_at"] = _iso(b.created_at)
        llm.append(rec)
    request_fields = (
        "id",
        "batch",
        "custom_id",
        "profile",
        "question",
        "prompt_hash",
        "profile_hash",
    )
    for r in snap.requests:
        rec = {"kind": "request"}
        rec.update({name: getattr(r, name) for name in request_fields})
        for name in ("arxiv_ids", "cache_keys", "text_hashes"):
            rec[name] = list(getattr(r, name))
        rec["status"] = r.status
        llm.append(rec)
    return llm


def _compact_counts(counts: Any) -> dict[str, Any] | None:
    if not isinstance(counts, dict):
        return None
    found = counts.get("score")
    score: dict[str, Any] = found if isinstance(found, dict) else {}
    out = {k: score[k] for k in _RUN_COUNTS if k in score and score[k] not in (None, 0)}
    fetched = counts.get("fetch")
    if isinstance(fetched, dict) and fetched.get("dates"):
        out["dates"] = list(fetched["dates"])
    return out or None


def _expand_counts(compact: Any) -> dict[str, Any]:
    """A restored run's counts, in the shape :func:`_compact_counts` reads back the same."""
    if not isinstance(compact, dict):
        return {}
    out: dict[str, Any] = {"score": {k: v for k, v in compact.items() if k != "dates"}}
    if compact.get("dates"):
        out["fetch"] = {"dates": list(compact["dates"])}
    return out


def _is_stub(
    judgements: Sequence[Any],
    days: set[dt.date],
    judged_on: dict[dt.date, set[str]],
    text_floor: int,
    last_profiles: set[str],
) -> bool:
    """True when the paper's text is needed by no digest, log, feed or later judgement."""
    if not days or not judgements:  # a liked example, or not judged yet
        return False
    profiles = set()
    for j in judgements:
        status, relevance = j[9], j[10]  # a row of _judgement_columns
        if status != "ok" or relevance is None or relevance >= text_floor:
            return False
        profiles.add(j[2])
    needed = set().union(last_profiles, *(judged_on.get(d, set()) for d in days))
    return needed <= profiles


def text_floor(settings: Any, profiles: Sequence[Any]) -> int:
    """The relevance from which a paper keeps its text: ``[state] text_min_relevance``, and
    never above a profile's threshold minus the just-missed margin (what a digest shows)."""
    floor = int(settings.state.text_min_relevance)
    margin = int(settings.report.just_missed_margin)
    for prof in profiles:
        threshold = settings.report.threshold
        threshold = prof.threshold if threshold is None else threshold
        floor = min(floor, int(threshold) - margin)
    return max(floor, 0)


def save_state(
    engine: Engine,
    folder: Path,
    *,
    text_floor: int,
    scope: Scope | None = None,
    keep: frozenset[str] = frozenset(),
    full: bool = False,
) -> SaveResult:
    """Write the state of the database to ``folder``: the files whose inputs changed since
    the save that wrote its ``index.json`` (every file without one, or with ``full``), those
    that changed only, stale ones removed (not with an explicit ``scope``, which also drops
    the index: the next save is a whole one). StorageError (exit 5) when a file cannot be
    written or would pass 10 MB."""
    old = None if full or scope is not None else read_index(folder)
    if old is not None and not _files_present(folder, old):
        old = None  # a file the index describes is gone (edited by hand?): a whole save
    rendered = _render(engine, text_floor=text_floor, scope=scope, keep=keep, old=old)
    files = rendered.files
    result = SaveResult(folder=folder, files=len(files), rendered=len(files))
    for path, text in files.items():
        size = len(text.encode("utf-8"))
        if size > result.largest[1]:
            result.largest = (path, size)
        if size > MAX_FILE_BYTES:
            raise StorageError(
                f"state file {folder / path} would be {size / 1e6:.1f} MB, over the "
                f"{MAX_FILE_BYTES / 1e6:.0f} MB limit"
            )
    for path in sorted(files):
        if write_atomic(folder / path, files[path]):
            result.written.append(path)
    if scope is not None:
        _remove(folder, [INDEX_FILE], result)
    elif rendered.whole:
        for sub in _SUBDIRS:
            _remove(folder, [p for p in _existing(folder, sub) if p not in files], result)
    elif rendered.plan is not None:
        _remove(folder, _stale(folder, rendered.plan, files), result)
    due = rendered.index is not None and _index_due(rendered, old, result)
    if due and write_atomic(folder / INDEX_FILE, str(rendered.index)):
        result.written.append(INDEX_FILE)
    if rendered.plan is not None:  # files not rendered: the largest and the count on disk
        result.files = sum(len(_existing(folder, sub)) for sub in _SUBDIRS) + sum(
            (folder / p).is_file()
            for p in ("groups.jsonl", "llm.jsonl", "manifest.json", INDEX_FILE)
        )
        largest = size_report(folder)
        result.largest = max(result.largest, largest[:2], key=lambda x: x[1])
    c = json.loads(files["manifest.json"])["counts"]
    result.papers, result.judgements = c["papers"], c["judgements"]
    result.stubs = rendered.counts["stubs"]
    log.info("state saved", **result.as_dict())
    return result


def _index_due(rendered: _Rendered, old: dict[str, Any] | None, result: SaveResult) -> bool:
    """Whether the index is written: after a whole save, and after an incremental one that
    changed a paper or listing file or the settings it records. Otherwise the saved one
    stays: it still describes the files on disk (the database's changes since it rendered
    the same bytes), so a night that changed nothing but the run history commits nothing
    more (the workflow's "nothing changed")."""
    if rendered.plan is None or old is None or rendered.index is None:
        return True
    if any(p.startswith(("papers/", "announcements/")) for p in result.written + result.removed):
        return True
    new = json.loads(rendered.index)
    return any(new.get(k) != old.get(k) for k in ("text_floor", "last_profiles", "keep"))


def _files_present(folder: Path, index: dict[str, Any]) -> bool:
    """Whether every papers and listing file the saved index implies is on disk."""
    for key, counts in (index.get("shards") or {}).items():
        if (
            "/" not in key
            and counts
            and counts[0]
            and not (folder / paper_file(key + "0" * 5)).is_file()
        ):
            return False
    for day in index.get("dates") or {}:
        if not (folder / "announcements" / day[:4] / f"{day}.jsonl").is_file():
            return False
    return True


def _existing(folder: Path, sub: str) -> list[str]:
    base = folder / sub
    if not base.is_dir():
        return []
    return [f.relative_to(folder).as_posix() for f in sorted(base.rglob("*.jsonl"))]


def _stale(folder: Path, plan: _Plan, files: dict[str, str]) -> list[str]:
    """The files of an incremental save's scope that it no longer renders (their papers or
    rows are gone), and runs files of no run."""
    candidates = {paper_file(k + "0" * 5) for k in plan.scope.prefixes if "/" not in k}
    candidates |= {f"announcements/{d:%Y}/{d.isoformat()}.jsonl" for d in plan.scope.dates}
    candidates |= set(_existing(folder, "runs"))
    if plan.old_style:
        candidates |= {p for p in _existing(folder, "papers") if p.startswith("papers/old/")}
    return sorted(p for p in candidates if p not in files and (folder / p).is_file())


def _remove(folder: Path, paths: Iterable[str], result: SaveResult) -> None:
    for rel in paths:
        file = folder / rel
        if not file.is_file():
            continue
        try:
            file.unlink()
        except OSError as exc:
            raise StorageError(f"cannot remove the stale state file {file}: {exc}") from None
        result.removed.append(rel)


# --------------------------------------------------------------------------- load


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StorageError(f"{path}: cannot read the state manifest: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise StorageError(
            f"{path}: state schema {data.get('schema') if isinstance(data, dict) else '?'} "
            f"is not {SCHEMA} (written by another version of arxivfilter)"
        )
    return data


def is_behind(engine: Engine, folder: Path) -> bool:
    """True when ``folder`` holds a state the database lacks: its newest run is not in the
    database (a fresh machine, or a database older than the committed state)."""
    manifest = read_manifest(folder)
    if manifest is None:
        return False
    R = Run.__table__  # type: ignore[attr-defined]
    P = Paper.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(R.c.id))).scalar() or 0
        papers = conn.execute(sa.select(sa.func.count()).select_from(P)).scalar() or 0
    counts = manifest.get("counts") or {}
    if papers == 0 and counts.get("papers", 0) > 0:
        return True
    return int(manifest.get("newest_run") or 0) > int(newest)


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StorageError(f"{path}: cannot read the state file: {exc}") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise StorageError(f"{path}:{n}: not a JSON line (a damaged state file?)") from None
        if not isinstance(rec, dict):
            raise StorageError(f"{path}:{n}: not a JSON object")
        yield rec


def _files(folder: Path, sub: str) -> list[Path]:
    base = folder / sub
    return sorted(base.rglob("*.jsonl")) if base.is_dir() else []


def load_state(engine: Engine, folder: Path) -> LoadResult:
    """Merge the state in ``folder`` into the database: what it lacks is added, a stub paper
    gets its text back, nothing stored is changed otherwise. Idempotent."""
    if read_manifest(folder) is None:
        raise StorageError(f"{folder}: no state here (no manifest.json)")
    result = LoadResult(folder=folder)
    try:
        with paused_gc():  # a bulk read: every record lives until its slice is inserted
            _load(engine, folder, result)
    except (KeyError, TypeError, ValueError) as exc:
        raise StorageError(
            f"{folder}: a state record is malformed ({type(exc).__name__}: {exc})"
        ) from None
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)
        raise StorageError(f"database error while loading the state: {orig or exc}") from None
    log.info("state loaded", **result.as_dict())
    return result


def _load(engine: Engine, folder: Path, result: LoadResult) -> None:
    P, _A, J, _R = _tables()
    groups = (
        {g["g"]: g for g in _read_jsonl(folder / "groups.jsonl")}
        if (folder / "groups.jsonl").is_file()
        else {}
    )
    now = utcnow()
    index = read_index(folder) or {}
    with engine.begin() as conn:
        papers = _PaperLoad(conn, groups, now)
        # the loaded rows carry the saved index's watermarks, so the index the next save
        # computes is the saved one and that save renders only what changed since
        papers.paper_time = _watermark(index.get("papers_modified")) or now
        papers.judgement_time = _watermark(index.get("judgements_created")) or now
        for file in _files(folder, "papers"):
            for rec in _read_jsonl(file):
                papers.add(rec)
        _insert(conn, P, papers.new_papers)
        result.papers, result.filled = len(papers.new_papers), papers.filled
        result.announcements = _load_announcements(conn, folder, papers)
        with_id = [j for j in papers.new_judgements if "id" in j]
        without = [j for j in papers.new_judgements if "id" not in j]
        _insert(conn, J, sorted(with_id, key=lambda j: j["id"]))
        _insert(conn, J, without)
        result.judgements = len(papers.new_judgements)
        result.runs = _load_runs(conn, folder, now)
        result.batches = _load_llm(conn, folder / "llm.jsonl")
        if conn.dialect.name == "postgresql":
            for table in ("judgements", "runs", "llm_batches", "llm_batch_requests"):
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                    )
                )


_FILLED = ("title", "authors", "abstract", "comment", "journal_ref", "doi", "published", "updated")


class _PaperLoad:
    """The paper records of a state merged into one database: new papers and judgements to
    insert, a stub's text filled back in place."""

    def __init__(self, conn: sa.Connection, groups: dict[str, Any], now: dt.datetime) -> None:
        P, _A, J, _R = _tables()
        self.conn, self.groups, self.now = conn, groups, now
        self.have_papers = {
            a: (t, ab)
            for a, t, ab in conn.execute(sa.select(P.c.arxiv_id, P.c.title, P.c.abstract))
        }
        self.have_keys = set(conn.execute(sa.select(J.c.cache_key)).scalars())
        self.have_jids = set(conn.execute(sa.select(J.c.id)).scalars())
        self.new_papers: list[dict[str, Any]] = []
        self.new_judgements: list[dict[str, Any]] = []
        self.hashes: dict[str, str] = {}
        self.versions: dict[str, Any] = {}
        self.filled = 0
        self.paper_time = now
        self.judgement_time = now

    def add(self, rec: dict[str, Any]) -> None:
        pid = str(rec["id"])
        self.hashes[pid] = str(rec["h"])
        self.versions[pid] = rec.get("v")
        stub = bool(rec.get("stub"))
        row = _paper_row(rec, stub, self.paper_time)
        old = self.have_papers.get(pid)
        if old is None:
            self.new_papers.append(row)
            self.have_papers[pid] = (row["title"], row["abstract"])
        elif not stub and not old[0] and not old[1]:
            P = _tables()[0]
            self.conn.execute(
                sa.update(P)
                .where(P.c.arxiv_id == pid)
                .values({**{k: row[k] for k in _FILLED}, "modified_at": self.now})
            )
            self.filled += 1
        for jr in rec.get("j", []):
            self._judgement(pid, str(rec["h"]), jr)

    def _judgement(self, pid: str, paper_hash: str, jr: dict[str, Any]) -> None:
        g = self.groups[jr["g"]]
        thash = str(jr.get("h", paper_hash))
        key = jr.get("k") or cache_key(thash, g["profile_hash"], g["model"], g["prompt_hash"])
        if key in self.have_keys:
            return
        self.have_keys.add(key)
        jrow = {
            "cache_key": key,
            "arxiv_id": pid,
            "profile": g["profile"],
            "scorer": g["scorer"],
            "model": g["model"],
            "text_hash": thash,
            "profile_hash": g["profile_hash"],
            "prompt_hash": g["prompt_hash"],
            "status": jr.get("s", "ok"),
            "relevance": jr.get("r"),
            "hype": jr.get("hy"),
            "tags": list(jr.get("t", [])),
            "tldr": jr.get("tl"),
            "reason": jr.get("re"),
            "error": jr.get("e"),
            "run_id": jr.get("run"),
            "created_at": self.judgement_time,
        }
        jid = jr.get("i")
        if jid is not None and jid not in self.have_jids:
            jrow["id"] = jid
            self.have_jids.add(jid)
        self.new_judgements.append(jrow)


def _paper_row(rec: dict[str, Any], stub: bool, now: dt.datetime) -> dict[str, Any]:
    return {
        "arxiv_id": str(rec["id"]),
        "version": rec.get("v"),
        "title": "" if stub else rec.get("title", ""),
        "authors": [] if stub else list(rec.get("authors", [])),
        "abstract": "" if stub else rec.get("abstract", ""),
        "categories": list(rec.get("c", [])),
        "primary_category": rec.get("p"),
        "comment": rec.get("comment"),
        "journal_ref": rec.get("journal_ref"),
        "doi": rec.get("doi"),
        "published": _datetime(rec.get("published")),
        "updated": _datetime(rec.get("updated")),
        "withdrawn": bool(rec.get("withdrawn")),
        "text_hash": str(rec["h"]),
        "created_at": now,
        "modified_at": now,
    }


def _load_announcements(conn: sa.Connection, folder: Path, papers: _PaperLoad) -> int:
    A = _tables()[1]
    have_rows = {
        (a, d, c) for a, d, c in conn.execute(sa.select(A.c.arxiv_id, A.c.date, A.c.category))
    }
    new_rows: list[dict[str, Any]] = []
    for file in _files(folder, "announcements"):
        date = dt.date.fromisoformat(file.stem)
        for rec in _read_jsonl(file):
            pid = str(rec["id"])
            for cat, rtype in sorted(rec["rows"].items()):
                if (pid, date, cat) in have_rows:
                    continue
                have_rows.add((pid, date, cat))
                new_rows.append(
                    {
                        "arxiv_id": pid,
                        "date": date,
                        "category": cat,
                        "type": rtype,
                        "version": rec["v"] if "v" in rec else papers.versions.get(pid),
                        "text_hash": rec.get("h") or papers.hashes[pid],
                        "source": rec.get("src", "rss"),
                        "approximate": bool(rec.get("approx")),
                        "derived": bool(rec.get("derived")),
                    }
                )
    _insert(conn, A, new_rows)
    return len(new_rows)


def _load_runs(conn: sa.Connection, folder: Path, now: dt.datetime) -> int:
    R = _tables()[3]
    have_runs = set(conn.execute(sa.select(R.c.id)).scalars())
    new_runs: list[dict[str, Any]] = []
    for file in _files(folder, "runs"):
        for rec in _read_jsonl(file):
            if rec["id"] in have_runs:
                continue
            have_runs.add(rec["id"])
            new_runs.append(_run_row(rec, now))
    _insert(conn, R, new_runs)
    return len(new_runs)


def _run_row(rec: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    return {
        "id": rec["id"],
        "command": rec["cmd"],
        "status": rec["status"],
        "date_from": dt.date.fromisoformat(rec["from"]) if rec.get("from") else None,
        "date_to": dt.date.fromisoformat(rec["to"]) if rec.get("to") else None,
        "profiles": list(rec.get("profiles", [])),
        "counts": _expand_counts(rec.get("counts")),
        "cost_usd": rec.get("cost"),
        "exit_code": rec.get("exit"),
        "message": rec.get("msg"),
        "started_at": _datetime(rec.get("start")) or now,
        "finished_at": _datetime(rec.get("end")),
    }


def _insert(conn: sa.Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    if rows and conn.dialect.name == "sqlite":
        _insert_sqlite(conn, table, rows)
        return
    for i in range(0, len(rows), 5000):
        conn.execute(sa.insert(table), rows[i : i + 5000])


def _sqlite_datetime(value: Any) -> Any:
    """A date-time as SQLAlchemy's SQLite DateTime stores it (UTC, no offset)."""
    if value is None:
        return None
    if value.utcoffset() is not None:
        value = value.astimezone(dt.UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:"
        f"{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
    )


def _sqlite_converter(column: Any) -> Any:
    """The value SQLAlchemy's bind processing would give the SQLite driver for ``column``
    (a restore's rows skip that per-value processing: most of a load's time)."""
    kind = column.type
    if isinstance(kind, sa.TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, sa.JSON):
        return json.dumps  # SQLAlchemy's default serializer, None as JSON null
    if isinstance(kind, sa.DateTime):
        return _sqlite_datetime
    if isinstance(kind, sa.Date):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(kind, sa.Boolean):
        return lambda v: None if v is None else int(bool(v))
    return None


def _insert_sqlite(conn: sa.Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk insert through the driver: rows of the same keys, values converted as
    :func:`_sqlite_converter` says."""
    names = list(rows[0])
    convert = [_sqlite_converter(table.c[name]) for name in names]
    quoted = ", ".join(f'"{n}"' for n in names)
    sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join("?" * len(names))})'
    for i in range(0, len(rows), 5000):
        chunk = rows[i : i + 5000]
        columns = [
            [r[n] for r in chunk] if f is None else _converted(f, [r[n] for r in chunk])
            for n, f in zip(names, convert, strict=True)
        ]
        conn.exec_driver_sql(sql, list(zip(*columns, strict=True)))


def _converted(convert: Any, values: list[Any]) -> list[Any]:
    """``convert`` of each value, once per distinct object (a restore's rows share their
    ``created_at``)."""
    out: list[Any] = []
    last: Any = object()
    done: Any = None
    for v in values:
        if v is not last:
            last, done = v, convert(v)
        out.append(done)
    return out


def _load_llm(conn: sa.Connection, path: Path) -> int:
    if not path.is_file():
        return 0
    M = LlmMode.__table__  # type: ignore[attr-defined]
    B = LlmBatch.__table__  # type: ignore[attr-defined]
    BR = LlmBatchRequest.__table__  # type: ignore[attr-defined]
    modes = {tuple(r) for r in conn.execute(sa.select(M.c.base_url, M.c.model, M.c.mode))}
    known = {b for b in conn.execute(sa.select(B.c.batch_id)).scalars() if b}
    taken = set(conn.execute(sa.select(B.c.id)).scalars())
    remap: dict[int, int | None] = {}
    added = 0
    for rec in _read_jsonl(path):
        kind = rec.get("kind")
        if kind == "mode":
            key = (rec["base_url"], rec["model"], rec["mode"])
            if key not in modes:
                modes.add(key)
                conn.execute(sa.insert(M).values(base_url=key[0], model=key[1], mode=key[2]))
        elif kind == "batch":
            if rec.get("batch_id") and rec["batch_id"] in known:
                remap[rec["id"]] = None
                continue
            values = {k: rec.get(k) for k in ("batch_id", "input_file_id", "output_file_id")}
            values.update(
                error_file_id=rec.get("error_file_id"),
                status=rec["status"],
                base_url=rec["base_url"],
                model=rec["model"],
                requests=rec.get("requests", 0),
                run_id=rec.get("run_id"),
                created_at=_datetime(rec.get("created_at")) or utcnow(),
            )
            if rec["id"] not in taken:
                values["id"] = rec["id"]
            new_id = conn.execute(sa.insert(B).values(**values).returning(B.c.id)).scalar_one()
            taken.add(new_id)
            remap[rec["id"]] = new_id
            added += 1
        elif kind == "request":
            batch = remap.get(rec["batch"])
            if batch is None:
                continue
            conn.execute(
                sa.insert(BR).values(
                    batch=batch,
                    custom_id=rec["custom_id"],
                    profile=rec["profile"],
                    question=rec.get("question", "full"),
                    prompt_hash=rec["prompt_hash"],
                    profile_hash=rec["profile_hash"],
                    arxiv_ids=list(rec["arxiv_ids"]),
                    cache_keys=list(rec["cache_keys"]),
                    text_hashes=list(rec["text_hashes"]),
                    status=rec.get("status", "pending"),
                )
            )
    return added


def state_dir(settings: Any) -> Path | None:
    """The configured state folder, None when ``[state] dir`` is empty."""
    value = (settings.state.dir or "").strip()
    return Path(value) if value else None


def size_report(folder: Path) -> tuple[str, int, int]:
    """(largest file, its bytes, total bytes) of a state folder."""
    largest, size, total = "", 0, 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            n = path.stat().st_size
            total += n
            if n > size:
                largest, size = path.relative_to(folder).as_posix(), n
    return largest, size, total
