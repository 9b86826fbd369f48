"""The export record (DESIGN.md, ``export --format jsonl``): one dict per distinct paper."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlmodel import Session, col, select

from arxivfilter import store
from arxivfilter.models import Announcement, Judgement, Paper

SCHEMA = 1


def _score(j: Judgement) -> dict[str, Any]:
    ok = j.status == "ok"
    return {
        "status": j.status,
        "scorer": j.scorer,
        "model": j.model,
        "relevance": j.relevance if ok else None,
        "hype": j.hype if ok else None,
        "tags": list(j.tags) if ok else [],
        "tldr": j.tldr if ok else None,
        "reason": j.reason if ok else None,
        "error": None if ok else j.error,
    }


def record(
    paper: Paper,
    rows: Sequence[Announcement],
    judgements: Sequence[Judgement],
    profiles: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The export record of one paper; scores are each profile's newest judgement of its current text."""
    scores: dict[str, dict[str, Any]] = {}
    for j in sorted(judgements, key=lambda j: j.id or 0):
        if j.text_hash != paper.text_hash or (profiles and j.profile not in profiles):
            continue
        scores[j.profile] = _score(j)
    return {
        "schema": SCHEMA,
        "arxiv_id": paper.arxiv_id,
        "version": paper.version,
        "title": paper.title,
        "authors": list(paper.authors),
        "abstract": paper.abstract,
        "categories": list(paper.categories),
        "primary_category": paper.primary_category,
        "comment": paper.comment,
        "announcements": [
            {"date": r.date.isoformat(), "category": r.category, "type": r.type}
            for r in sorted(rows, key=lambda r: (r.date, r.category))
        ],
        "scores": dict(sorted(scores.items())),
    }


def export_records(
    session: Session,
    categories: Sequence[str] | None,
    *,
    date: dt.date | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    profiles: Sequence[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Records of every distinct paper announced on ``date`` (or in the range), sorted by id."""
    stmt = select(Announcement.arxiv_id).distinct()
    if date is not None:
        stmt = stmt.where(Announcement.date == date)
    if date_from is not None:
        stmt = stmt.where(Announcement.date >= date_from)
    if date_to is not None:
        stmt = stmt.where(Announcement.date <= date_to)
    if categories is not None:
        stmt = stmt.where(col(Announcement.category).in_(list(categories)))
    ids = sorted(session.exec(stmt).all())
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        papers = {
            p.arxiv_id: p for p in session.exec(select(Paper).where(col(Paper.arxiv_id).in_(chunk)))
        }
        rows: dict[str, list[Announcement]] = {}
        for a in session.exec(select(Announcement).where(col(Announcement.arxiv_id).in_(chunk))):
            if categories is None or a.category in categories:
                rows.setdefault(a.arxiv_id, []).append(a)
        judged: dict[str, list[Judgement]] = {}
        for j in session.exec(select(Judgement).where(col(Judgement.arxiv_id).in_(chunk))):
            judged.setdefault(j.arxiv_id, []).append(j)
        for pid in chunk:
            yield record(papers[pid], rows.get(pid, []), judged.get(pid, []), profiles)


def paper_record(
    session: Session, arxiv_id: str, *, detailed: bool = False
) -> dict[str, Any] | None:
    """One paper's record for ``show`` (every announcement, approximate flags when detailed)."""
    paper = session.get(Paper, arxiv_id)
    if paper is None:
        return None
    rows = store.announcements_of(session, arxiv_id)
    rec = record(paper, rows, store.judgements_of(session, arxiv_id))
    if detailed:
        rec["announcements"] = [
            {
                "date": r.date.isoformat(),
                "category": r.category,
                "type": r.type,
                "version": r.version,
                "source": r.source,
                "approximate": r.approximate,
                "derived": r.derived,
            }
            for r in rows
        ]
        rec["withdrawn"] = paper.withdrawn
    return rec
