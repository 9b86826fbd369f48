"""Storage: migrations, one paper many listings, idempotence, replacements (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from arxivfilter import store
from arxivfilter.models import Announcement, Entry, Paper

D1 = dt.date(2025, 12, 16)
D2 = dt.date(2025, 12, 17)
CATS = ["cs.DC", "cs.OS", "cs.LG"]


def entry(arxiv_id: str = "2512.00001", **kw: object) -> Entry:
    base: dict[str, object] = {
        "arxiv_id": arxiv_id,
        "version": 1,
        "title": "A title",
        "authors": ["Ada Lovelace"],
        "abstract": "An abstract.",
        "categories": ["cs.LG", "cs.DC", "cs.AI"],
        "primary_category": "cs.LG",
        "announce_date": D1,
        "source": "rss",
    }
    base.update(kw)
    return Entry.model_validate(base)


@pytest.fixture
def session(db_url: str):
    engine = store.make_engine(db_url)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


def test_migrations_create_every_table(db_url: str) -> None:
    """The database is created and migrated to the baseline revision on first use."""
    engine = store.make_engine(db_url)
    names = set(sa.inspect(engine).get_table_names())
    assert {
        "papers",
        "announcements",
        "judgements",
        "llm_calls",
        "runs",
        "llm_modes",
        "notifications",
        "alembic_version",
    } <= names
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(store._MIGRATIONS))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    assert len(heads) == 1, f"the migration chain must stay linear, heads: {heads}"
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == heads[0]
    store.migrate(engine)  # a second migration is a no-op
    engine.dispose()


def test_sqlite_uses_wal_and_busy_timeout(tmp_path) -> None:
    """SQLite runs in WAL mode with a busy timeout."""
    engine = store.make_engine(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout=7)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 7000
    assert store.integrity_ok(engine)


def test_cross_listed_paper_is_one_paper_with_one_row_per_category(session: Session) -> None:
    """A paper in cs.LG (primary) and cs.DC is one paper, rows new + cross; cs.AI is not configured."""
    counts = store.store_entries(session, [entry()], categories=CATS)
    assert counts.papers == 1 and counts.new_rows == 2
    rows = session.exec(select(Announcement).order_by(Announcement.category)).all()
    assert [(r.category, r.type) for r in rows] == [("cs.DC", "cross"), ("cs.LG", "new")]
    assert len(session.exec(select(Paper)).all()) == 1
    assert dict(counts.by_type) == {"new": 1}


def test_storing_twice_adds_nothing(session: Session) -> None:
    """Fetching the same date twice stores nothing new."""
    store.store_entries(session, [entry(), entry("2512.00002")], categories=CATS)
    again = store.store_entries(session, [entry(), entry("2512.00002")], categories=CATS)
    assert again.new_rows == 0 and again.new_papers == 0 and again.updated_papers == 0
    assert len(session.exec(select(Announcement)).all()) == 4


def test_category_filter_and_all(session: Session) -> None:
    """Papers carrying no configured category are skipped; categories=None keeps every one."""
    off = entry("2512.00003", categories=["math.CO"], primary_category="math.CO")
    assert store.store_entries(session, [off], categories=CATS).papers == 0
    assert store.store_entries(session, [off], categories=None).papers == 1


def test_replacement_updates_the_paper_and_adds_replace_rows(session: Session) -> None:
    """A new version updates the paper (never a second paper) and adds replace/replace-cross rows."""
    store.store_entries(session, [entry()], categories=CATS)
    v2 = entry(version=2, abstract="A better abstract.", announce_date=D2, announce_type="replace")
    counts = store.store_entries(session, [v2], categories=CATS)
    assert counts.updated_papers == 1
    paper = session.get(Paper, "2512.00001")
    assert paper is not None and paper.version == 2 and paper.abstract == "A better abstract."
    types = {(r.date, r.category): r.type for r in session.exec(select(Announcement))}
    assert types[(D2, "cs.LG")] == "replace" and types[(D2, "cs.DC")] == "replace-cross"
    assert store.previous_text_hash(session, "2512.00001", D2) != paper.text_hash


def test_older_version_never_overwrites_newer_text(session: Session) -> None:
    """Replaying an old version after a new one keeps the newest text."""
    store.store_entries(session, [entry(version=3, title="Newest")], categories=CATS)
    store.store_entries(
        session, [entry(version=1, title="Oldest", announce_date=D2)], categories=CATS
    )
    paper = session.get(Paper, "2512.00001")
    assert paper is not None and paper.title == "Newest" and paper.version == 3


def test_paper_listed_twice_keeps_the_newest_version(session: Session) -> None:
    """Duplicated items with different versions in one batch: one paper, newest text."""
    counts = store.store_entries(
        session, [entry(version=1, title="v1"), entry(version=2, title="v2")], categories=CATS
    )
    assert counts.papers == 1
    paper = session.get(Paper, "2512.00001")
    assert paper is not None and paper.title == "v2"


def test_withdrawn_comment_marks_the_paper(session: Session) -> None:
    """A replacement whose comment says the paper was withdrawn marks it withdrawn."""
    store.store_entries(session, [entry()], categories=CATS)
    w = entry(
        version=2,
        comment="This paper has been withdrawn by the author",
        announce_date=D2,
        announce_type="replace",
    )
    store.store_entries(session, [w], categories=CATS)
    paper = session.get(Paper, "2512.00001")
    assert paper is not None and paper.withdrawn


def test_runs_left_running_are_marked_aborted(session: Session) -> None:
    """At start-up, runs left running by a killed process become aborted."""
    run = store.start_run(session, "run", date_from=D1, date_to=D1)
    assert store.abort_stale_runs(session) == 1
    session.expire_all()
    assert store.list_runs(session)[0].status == "aborted"
    assert run.id is not None


def test_papers_on_counts_distinct_papers(session: Session) -> None:
    """papers_on gives each paper once with all its rows of that date."""
    store.store_entries(
        session,
        [entry(), entry("2512.00002", categories=["cs.OS"], primary_category="cs.OS")],
        categories=CATS,
    )
    day = store.papers_on(session, D1, CATS)
    assert [p.arxiv_id for p, _ in day] == ["2512.00001", "2512.00002"]
    assert len(day[0][1]) == 2
    assert store.papers_on(session, D1, ["cs.OS"])[0][0].arxiv_id == "2512.00002"
    assert store.newest_announcement(session) == D1


def test_dates_with_papers_are_those_papers_on_finds(session: Session) -> None:
    """dates_with_papers answers, in one query, whether papers_on finds something."""
    store.store_entries(
        session,
        [entry(), entry("2512.00002", categories=["cs.OS"], primary_category="cs.OS")],
        categories=CATS,
    )
    for cats in (None, CATS, ["cs.OS"], ["cs.AR"]):
        got = store.dates_with_papers(session, [D1, D2], cats)
        assert got == {d for d in (D1, D2) if store.papers_on(session, d, cats)}
    assert store.dates_with_papers(session, [D1, D2], ["cs.AR"]) == set()
    assert store.dates_with_papers(session, [D1, D2]) == {D1}


def test_upgrade_from_the_baseline_keeps_rows(db_url: str) -> None:
    """A database at the baseline revision migrates to head with its rows intact."""
    from alembic import command
    from alembic.config import Config

    engine = store.make_engine(db_url, migrate_now=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(store._MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO llm_calls (model, mode, prompt_hash, papers, status, created_at) "
                "VALUES ('m', 'json_schema', 'h', 1, 'ok', CURRENT_TIMESTAMP)"
            )
        )
    store.migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT model, arxiv_ids FROM llm_calls")).one()
    assert row[0] == "m"
    assert row[1] in ("[]", [])
    engine.dispose()


@pytest.mark.parametrize("order", ["in date order", "later day first", "one call"])
def test_dump_repeats_keep_the_first_listing_per_category(session: Session, order: str) -> None:
    """Daily dumps repeat lines: per category only a paper's earliest dump listing is an
    announcement, whatever order the days are stored in; a category a later day adds is a
    new cross-list; typed listings (RSS) are never touched."""
    day1 = entry(source="jsonl", categories=["cs.DC"], primary_category="cs.DC")
    day2 = entry(
        source="jsonl",
        announce_date=D2,
        categories=["cs.DC", "cs.LG"],
        primary_category="cs.DC",
    )
    batches = {
        "in date order": [[day1], [day2]],
        "later day first": [[day2], [day1]],
        "one call": [[day2, day1]],
    }[order]
    for batch in batches:
        store.store_entries(session, batch, categories=CATS)
    rows = session.exec(
        select(Announcement.date, Announcement.category, Announcement.type).where(
            Announcement.arxiv_id == "2512.00001"
        )
    ).all()
    assert sorted(rows) == [(D1, "cs.DC", "new"), (D2, "cs.LG", "cross")]
    replaced = entry(version=2, announce_date=D2, announce_type="replace")
    # typed listings are stored as usual (cs.DC; D2 already has a cs.LG row)
    assert store.store_entries(session, [replaced], categories=CATS).new_rows == 1
