"""The ingest rules, without a database (issue #20): merge, withdrawn, row types, first
listing, type rank."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

from arxivfilter import ingest
from arxivfilter.models import ANNOUNCE_TYPES, Entry, Paper
from arxivfilter.text import text_hash

D1, D2, D3 = dt.date(2025, 12, 15), dt.date(2025, 12, 16), dt.date(2025, 12, 17)
PUBLISHED = dt.datetime(2025, 12, 12, tzinfo=dt.UTC)


def entry(**kw: Any) -> Entry:
    base: dict[str, Any] = {
        "arxiv_id": "2512.00001",
        "version": 1,
        "title": "Paged attention",
        "authors": ["Ada Lovelace"],
        "abstract": "We page the KV cache.",
        "categories": ["cs.DC", "cs.LG"],
        "primary_category": "cs.DC",
    }
    base.update(kw)
    return Entry(**base)


def stored(e: Entry) -> Any:
    """A stored paper's stand-in (as ``store`` builds new rows)."""
    values = ingest.paper_columns(e, text_hash(e.title, e.abstract))
    return SimpleNamespace(**values, modified_at=None)


def test_withdrawn_comments() -> None:
    assert ingest.is_withdrawn("This paper has been withdrawn by the author")
    assert ingest.is_withdrawn("Withdrawn: a mistake in Lemma 2")
    assert not ingest.is_withdrawn("10 pages; withdrawal of a claim in v1")
    assert not ingest.is_withdrawn(None)
    assert not ingest.is_withdrawn("")


def test_type_rank_is_the_order_of_announce_types() -> None:
    assert [ingest.type_rank(t) for t in ANNOUNCE_TYPES] == [0, 1, 2, 3]
    assert ingest.type_rank("bogus") == ingest.type_rank(None) == 4
    assert ingest.strongest(["replace-cross", "cross", "replace"]) == "cross"
    assert ingest.strongest(["replace", "new"]) == "new"
    assert ingest.is_replacement("replace-cross") and not ingest.is_replacement("cross")


def test_row_types_and_listed_categories() -> None:
    new = entry()
    assert ingest.row_type(new, "cs.DC", "cs.DC") == "new"
    assert ingest.row_type(new, "cs.LG", "cs.DC") == "cross"
    replaced = entry(announce_type="replace")
    assert ingest.row_type(replaced, "cs.DC", "cs.DC") == "replace"
    assert ingest.row_type(replaced, "cs.LG", "cs.DC") == "replace-cross"
    assert ingest.listed_categories(new, ["cs.LG", "cs.OS"]) == ["cs.LG"]
    assert ingest.listed_categories(new, None) == ["cs.DC", "cs.LG"]


def test_paper_columns_default_the_primary_category_and_flag_withdrawn() -> None:
    cols = ingest.paper_columns(entry(primary_category=None, comment="withdrawn"), "h")
    assert cols["primary_category"] == "cs.DC"
    assert cols["withdrawn"] is True and cols["text_hash"] == "h"
    assert set(cols) == {c.name for c in Paper.__table__.columns} - {"created_at", "modified_at"}


def test_a_newer_version_replaces_the_text_but_not_the_publication_date() -> None:
    paper = stored(entry(published=PUBLISHED))
    v2 = entry(version=2, title="Paged attention, revised", authors=["A", "B"], comment="v2")
    assert ingest.fold(paper, v2)
    assert (paper.version, paper.title, paper.authors, paper.comment) == (
        2,
        "Paged attention, revised",
        ["A", "B"],
        "v2",
    )
    assert paper.published == PUBLISHED
    assert paper.text_hash == text_hash("Paged attention, revised", paper.abstract)
    assert paper.modified_at is not None


def test_an_older_version_only_fills_gaps() -> None:
    paper = stored(entry(version=3, title="Newest", comment=None))
    old = entry(version=1, title="Oldest", comment="12 pages", doi="10.1/x")
    assert ingest.fold(paper, old)
    assert (paper.version, paper.title) == (3, "Newest")
    assert (paper.comment, paper.doi) == ("12 pages", "10.1/x")
    same = entry(version=3, title="Newest")
    before = dict(vars(paper))
    assert not ingest.fold(paper, same)
    assert vars(paper) == before


def test_a_publication_date_filled_in_alone_is_no_update() -> None:
    paper = stored(entry())
    assert not ingest.fold(paper, entry(published=PUBLISHED))
    assert paper.published == PUBLISHED and paper.modified_at is None


def test_withdrawn_counts_for_the_same_or_a_newer_version_only() -> None:
    paper = stored(entry(version=2))
    assert ingest.fold(paper, entry(version=1, comment="withdrawn")) is True  # fills comment
    assert not paper.withdrawn
    paper = stored(entry(version=2))
    assert ingest.fold(paper, entry(version=2, comment="This paper has been withdrawn"))
    assert paper.withdrawn
    paper = stored(entry(version=1))
    ingest.fold(paper, entry(version=2, comment="withdrawn"))
    assert paper.withdrawn


def test_a_text_stub_gets_its_text_back_and_keeps_its_hash() -> None:
    """A paper restored from the committed state without its text (state.py)."""
    full = entry()
    thash = text_hash(full.title, full.abstract)
    paper = SimpleNamespace(
        **{**ingest.paper_columns(full, thash), "title": "", "abstract": "", "authors": []},
        modified_at=None,
    )
    assert ingest.fold(paper, full)
    assert (paper.title, paper.abstract, paper.authors) == (
        full.title,
        full.abstract,
        full.authors,
    )
    assert paper.text_hash == thash


def test_the_export_api_completes_a_listing() -> None:
    listed = entry(
        version=None,
        authors=["A. Lovelace"],
        categories=["cs.LG", "cs.OS"],
        primary_category=None,
        abstract="",
        comment="from the feed",
    )
    meta = entry(
        version=2,
        authors=["Ada Lovelace", "Alan Turing"],
        categories=["cs.DC", "cs.LG"],
        primary_category="cs.DC",
        comment="from the API",
        journal_ref="OSDI 2026",
        published=PUBLISHED,
    )
    done = ingest.fill_from(listed, meta)
    assert done.authors == ["Ada Lovelace", "Alan Turing"]
    assert done.categories == ["cs.DC", "cs.LG", "cs.OS"]  # the API's first, then the rest
    assert done.primary_category == "cs.DC"
    assert done.comment == "from the feed"  # the listing's own text stays
    assert (done.journal_ref, done.published, done.version) == ("OSDI 2026", PUBLISHED, 2)
    assert done.abstract == meta.abstract


def test_merge_never_takes_an_empty_value() -> None:
    base = entry(comment="kept", doi="10.1/x")
    assert ingest.merge(base, entry(version=2, comment=None, doi="", authors=[]), leads=True) == {
        "version": 2
    }


def test_a_dump_listing_counts_only_in_categories_not_listed_earlier() -> None:
    listed = {(D1, "cs.DC"), (D3, "cs.LG")}
    assert ingest.first_listing(D2, ["cs.DC", "cs.LG", "cs.OS"], listed) == ["cs.LG", "cs.OS"]
    keep = ["cs.LG", "cs.OS"]
    assert ingest.supersedes(D2, keep, D3, "cs.LG", "jsonl")
    assert not ingest.supersedes(D2, keep, D3, "cs.LG", "rss")  # not a dump row
    assert not ingest.supersedes(D2, keep, D1, "cs.LG", "jsonl")  # earlier
    assert not ingest.supersedes(D2, keep, D3, "cs.DC", "jsonl")  # not a first listing here
    assert ingest.is_dump_listing(entry(source="jsonl"))
    assert not ingest.is_dump_listing(entry(source="jsonl", announce_type="new"))
