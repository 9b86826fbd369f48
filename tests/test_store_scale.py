"""Per-date queries do work in the date's papers, never in the history (issue #23).

The answers are checked on both databases; on SQLite the query plans are checked too: no
statement these functions run may scan a whole table (``bench/scale.py`` prints the timings).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.models import Entry, Judgement

D1 = dt.date(2025, 12, 15)
D2 = dt.date(2025, 12, 16)
D3 = dt.date(2026, 1, 5)
CATS = ["cs.DC", "cs.OS"]


def entry(arxiv_id: str, date: dt.date, cats: list[str]) -> Entry:
    return Entry.model_validate(
        {
            "arxiv_id": arxiv_id,
            "version": 1,
            "title": f"Title {arxiv_id}",
            "authors": ["A B"],
            "abstract": "Text.",
            "categories": cats,
            "primary_category": cats[0],
            "announce_date": date,
            "source": "rss",
        }
    )


def judge(
    session: Session, arxiv_id: str, profile: str, relevance: int, status: str = "ok"
) -> None:
    store.save_judgement(
        session,
        Judgement(
            cache_key=f"{arxiv_id}-{profile}",
            arxiv_id=arxiv_id,
            profile=profile,
            scorer="llm",
            model="m",
            text_hash="t",
            profile_hash="p",
            prompt_hash="q",
            status=status,
            relevance=relevance,
            tags=[],
        ),
    )


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    engine = store.make_engine(db_url)
    with Session(engine, expire_on_commit=False) as s:
        store.store_entries(
            s,
            [
                entry("2512.00001", D1, ["cs.DC"]),
                entry("2512.00002", D1, ["cs.OS", "cs.DC"]),
                entry("2512.00003", D2, ["cs.LG"]),  # outside the categories
                entry("2512.00004", D2, ["cs.DC"]),
                entry("2601.00005", D3, ["cs.OS"]),
            ],
            categories=None,
        )
        judge(s, "2512.00001", "p", 90)
        judge(s, "2512.00002", "p", 10)
        judge(s, "2512.00003", "p", 95)
        judge(s, "2512.00004", "other", 99)
        judge(s, "2601.00005", "p", 80, status="failed")
        yield s
    engine.dispose()


def test_judged_dates(session: Session) -> None:
    """Dates with a judgement of the profile among the papers announced in the categories."""
    assert store.judged_dates(session, "p", CATS) == {D1, D3}
    assert store.judged_dates(session, "p", None) == {D1, D2, D3}
    assert store.judged_dates(session, "other", CATS) == {D2}
    assert store.judged_dates(session, "nobody", CATS) == set()


def test_paper_counts_of_a_range(session: Session) -> None:
    assert store.paper_counts(session, CATS) == {D1: 2, D2: 1, D3: 1}
    assert store.paper_counts(session, CATS, date_from=D2, date_to=D2) == {D2: 1}
    assert store.paper_counts(session, None, date_from=D2) == {D2: 2, D3: 1}


def test_newest_and_candidates(session: Session) -> None:
    assert store.newest_announcement(session, CATS) == D3
    assert store.newest_announcement(session, ["cs.LG"]) == D2
    assert store.newest_announcement(session, ["math.AG"]) is None
    got = store.listing_candidates(session, "p", 50, date_from=D1, date_to=D3, categories=CATS)
    assert got == {D1: {"2512.00001"}}
    got = store.listing_candidates(session, "p", 50, date_from=D1, date_to=D3, categories=None)
    assert got == {D1: {"2512.00001"}, D2: {"2512.00003"}}


def _plans(session: Session, fn: Callable[[], Any]) -> list[str]:
    """EXPLAIN QUERY PLAN lines of every SELECT ``fn`` runs."""
    seen: list[tuple[str, Any]] = []

    def hook(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, params))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", hook)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    lines = []
    for sql, params in seen:
        lines += [str(r[-1]) for r in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    return lines


@pytest.mark.parametrize(
    "name",
    ["listing_candidates", "judged_dates", "paper_counts", "newest_announcement"],
)
def test_no_query_scans_a_table(session: Session, name: str) -> None:
    """The report's per-date queries use indexes (``SCAN judgements`` grew with the history)."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("query plans are checked on SQLite")
    calls: dict[str, Callable[[], Any]] = {
        "listing_candidates": lambda: store.listing_candidates(
            session, "p", 50, date_from=D1, date_to=D2, categories=CATS
        ),
        "judged_dates": lambda: store.judged_dates(session, "p", CATS),
        "paper_counts": lambda: store.paper_counts(session, CATS, date_from=D1, date_to=D2),
        "newest_announcement": lambda: store.newest_announcement(session, CATS),
    }
    plans = _plans(session, calls[name])
    assert plans
    tables = ("announcements", "judgements", "papers")
    scans = [p for p in plans if p.startswith(tuple(f"SCAN {t}" for t in tables))]
    assert not scans, plans


def test_index_migration_round_trip(db_url: str) -> None:
    """0006 adds the covering indexes; its downgrade restores the ones they replaced."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    engine = store.make_engine(db_url)

    def names() -> set[str]:
        insp = sa.inspect(engine)
        return {i["name"] for t in ("judgements", "announcements") for i in insp.get_indexes(t)}

    assert {"ix_judgements_paper_profile_status", "ix_announcements_date_category_paper"} <= names()
    cfg = Config()
    cfg.set_main_option("script_location", str(store._MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005_feedback")
    assert {"ix_judgements_paper_profile", "ix_announcements_date_category"} <= names()
    store.migrate(engine)
    assert "ix_judgements_paper_profile" not in names()
    engine.dispose()


def _statements(session: Session, fn: Callable[[], Any]) -> list[str]:
    seen: list[str] = []

    def hook(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, _many: bool) -> None:
        seen.append(statement.lstrip().split()[0].upper())

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", hook)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", hook)
    return seen


def test_store_entries_writes_in_set_sized_statements(db_url: str) -> None:
    """A fetched day is a few statements, not a round trip per paper."""
    many = [entry(f"2512.{i:05d}", D1, ["cs.DC", "cs.OS"]) for i in range(60)]
    engine = store.make_engine(db_url)
    with Session(engine) as s:
        kinds = _statements(s, lambda: store.store_entries(s, many, categories=CATS))
        assert kinds.count("INSERT") <= 2, kinds
        assert kinds.count("SELECT") <= 2, kinds
    engine.dispose()


def test_store_entries_in_slices(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices (one commit each) never split one paper's entries; storing again adds nothing."""
    monkeypatch.setattr(store, "STORE_CHUNK", 7)
    many = [entry(f"2512.{i:05d}", D1, ["cs.DC", "cs.OS"]) for i in range(30)]
    for i in (6, 7, 13):  # the same papers again on a later date, at the slices' edges
        many.append(entry(f"2512.{i:05d}", D2, ["cs.DC"]))
    engine = store.make_engine(db_url)
    with Session(engine) as s:
        counts = store.store_entries(s, many, categories=CATS)
        assert (counts.new_papers, counts.new_rows, counts.papers) == (30, 63, 33)
        again = store.store_entries(s, many, categories=CATS)
        assert (again.new_papers, again.new_rows, again.papers) == (0, 0, 33)
        assert store.paper_counts(s, CATS) == {D1: 30, D2: 3}
    engine.dispose()
