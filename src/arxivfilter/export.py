"""The export record (DESIGN.md, ``export --format jsonl``): one dict per distinct paper."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from sqlmodel import Session

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
    ids = store.announced_ids(session, categories, date=date, date_from=date_from, date_to=date_to)
    for chunk in store.chunks(ids):
        papers = store.papers_by_id(session, chunk)
        rows = store.announcements_by_paper(session, chunk, categories)
        judged = store.judgements_by_paper(session, chunk)
        for pid in chunk:
            yield record(papers[pid], rows.get(pid, []), judged.get(pid, []), profiles)


def paper_record(
    session: Session, arxiv_id: str, *, detailed: bool = False
) -> dict[str, Any] | None:
    """One paper's record for ``show`` (every announcement, approximate flags when detailed)."""
    paper = store.papers_by_id(session, [arxiv_id]).get(arxiv_id)
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
