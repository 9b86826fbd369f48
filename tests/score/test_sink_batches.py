"""The local scorer's judgements are stored in set-sized statements (issue #23)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import event
from sqlmodel import Session, select

from arxivfilter import store
from arxivfilter.config import load_profiles
from arxivfilter.models import Entry, Judgement, Paper
from arxivfilter.score.local import LocalScorer
from arxivfilter.score.stage import Budget, score_papers

D = dt.date(2025, 12, 16)


def _entries(n: int, title: str, abstract: str) -> list[Entry]:
    """``n`` papers of day ``D`` (``{i}`` in the title: the paper's number)."""
    return [
        Entry(
            arxiv_id=f"2512.{i:05d}",
            version=1,
            title=title.format(i=i),
            authors=["A B"],
            abstract=abstract,
            categories=["cs.DC"],
            announce_date=D,
            source="rss",
        )
        for i in range(n)
    ]


def test_local_judgements_go_in_batches(tmp_path: Any) -> None:
    engine = store.make_engine(f"sqlite:///{tmp_path / 't.db'}")
    profile = load_profiles()[0]
    entries = _entries(
        30,
        "Serving large language models with a paged kv cache, part {i}",
        "We schedule GPU memory for LLM inference. " * 5,
    )
    statements: list[str] = []

    def hook(_c: Any, _cur: Any, sql: str, _p: Any, _ctx: Any, _many: bool) -> None:
        if "judgements" in sql:
            statements.append(sql.lstrip().split()[0].upper())

    with Session(engine, expire_on_commit=False) as session:
        store.store_entries(session, entries, categories=None)
        papers = list(session.exec(select(Paper)))
        event.listen(engine, "before_cursor_execute", hook)
        counts = asyncio.run(score_papers(session, LocalScorer(), profile, papers, budget=Budget()))
        assert counts.judged == 30
        assert statements.count("INSERT") == 1, statements
        statements.clear()
        again = asyncio.run(
            score_papers(session, LocalScorer(), profile, papers, budget=Budget(), rescore=True)
        )
        assert again.judged == 30
        assert statements.count("UPDATE") == 1 and "INSERT" not in statements, statements
        event.remove(engine, "before_cursor_execute", hook)
        rows = list(session.exec(select(Judgement)))
        assert len(rows) == 30 and {r.status for r in rows} == {"ok"}
        assert all(r.created_at is not None and r.scorer == "local" for r in rows)
    engine.dispose()


class _PaidScorer:
    """An LLM scorer stand-in: one call and one ok judgement per paper."""

    kind = "llm"
    model = "paid-model"

    def prompt_hash(self, profile: Any) -> str:
        return "p" * 64

    async def judge(self, profile: Any, papers: Any, sink: Any) -> None:
        from arxivfilter.models import JudgementResult, LlmCall

        for p in papers:
            sink.llm_call(
                LlmCall(
                    arxiv_ids=[p.arxiv_id], model=self.model, mode="text",
                    prompt_hash=self.prompt_hash(profile), status="ok", http_status=200,
                )
            )  # fmt: skip
            sink.judgement(p, JudgementResult(status="ok", relevance=90, hype=10, tags=[]))


def test_a_paid_judgement_after_the_prefilter_stored_its_twin(tmp_path: Any) -> None:
    """Two papers of one day with the same text share a cache key. When the local prefilter
    keeps one for the LLM and stores its local judgement for the other under that key, the
    paid judgement replaces that row (it once tried to insert it again: IntegrityError)."""
    engine = store.make_engine(f"sqlite:///{tmp_path / 't.db'}")
    profile = load_profiles()[0]
    entries = _entries(
        2, "Serving large language models with a paged kv cache", "We schedule GPU memory."
    )
    with Session(engine, expire_on_commit=False) as session:
        store.store_entries(session, entries, categories=None)
        papers = list(session.exec(select(Paper)))
        assert len({p.text_hash for p in papers}) == 1
        counts = asyncio.run(
            score_papers(
                session, _PaidScorer(), profile, papers, budget=Budget(),
                prefilter=(LocalScorer(), 0.5),
            )
        )  # fmt: skip
        assert (counts.prefiltered, counts.judged) == (1, 1)
        [row] = session.exec(select(Judgement))
        assert (row.scorer, row.relevance) == ("llm", 90)  # the paid judgement, stored last
    engine.dispose()
