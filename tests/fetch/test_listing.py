"""Listing pages (HTML): pastweek with and without paging, the new page, errors, recognition."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from arxivfilter.errors import FeedError
from arxivfilter.fetch.listing import (
    ListingPage,
    day_counts,
    iter_listing_pages,
    listing_url,
    looks_like_listing,
    merge_days,
    next_skip,
    parse_listing,
    to_entries,
)

FRI, THU, WED, TUE, MON = (date(2026, 1, d) for d in (16, 15, 14, 13, 12))
BASE = "https://export.arxiv.org"


def _page(fixtures: Path, name: str, url: str | None = None) -> ListingPage:
    return parse_listing((fixtures / "listing" / name).read_bytes(), url=url)


def test_listing_url_caps_show_and_orders_query() -> None:
    """The pastweek URL carries show (at most 2,000) and skip."""
    assert listing_url(BASE, "cs.DC", 0) == f"{BASE}/list/cs.DC/pastweek?show=2000&skip=0"
    assert listing_url(BASE + "/", "cs.LG", 2000, 5000).endswith(
        "/list/cs.LG/pastweek?show=2000&skip=2000"
    )
    assert listing_url(BASE, "cs.OS", period="new").endswith("/list/cs.OS/new?show=2000&skip=0")


def test_captured_recent_page_counts_and_next_skip(fixtures: Path) -> None:
    """The captured first page: 55 in total, 50 shown over four days, next page at skip 50."""
    page = _page(fixtures, "cs.DC_recent_skip0_show50.html")
    assert page.category == "cs.DC"
    assert page.list_type == "pastweek"
    assert (page.total, page.skip, page.shown, page.show) == (55, 0, 50, 50)
    assert {d: len(items) for d, items in page.days.items()} == {FRI: 10, THU: 13, WED: 9, TUE: 18}
    assert next_skip(page) == 50
    assert day_counts(page) == {FRI: 10, THU: 13, WED: 9, TUE: 18, MON: 5}
    assert Counter(item.kind for item in page.items) == {"cross": 27, "new": 23}


def test_pastweek_single_page_has_no_next_and_an_empty_day(fixtures: Path) -> None:
    """show=2000 holds the whole listing; a day with no entries is present and empty."""
    url = listing_url(BASE, "cs.DC", 0)
    page = _page(fixtures, "cs.DC_pastweek_show2000.html", url=url)
    assert page.url == url
    assert (page.total, page.skip, page.shown, page.show) == (50, 0, 50, 2000)
    assert next_skip(page) is None
    assert list(page.days) == [FRI, THU, WED, TUE, MON]
    assert page.days[MON] == []
    assert day_counts(page)[MON] == 0
    assert [item.index for item in page.items] == list(range(1, 51))


def test_items_carry_what_the_page_shows(fixtures: Path) -> None:
    """Ids, kinds, titles, authors (affiliations dropped), subjects, comments, journal-refs."""
    page = _page(fixtures, "cs.DC_pastweek_show2000.html")
    first = page.days[FRI][0]
    assert first.arxiv_id == "2601.10582"
    assert (first.kind, first.version, first.index) == ("new", 1, 1)
    assert first.title == "Mitigating GIL Bottlenecks in Edge AI Systems"
    assert first.authors == ["Mridankan Mandal", "Smit Sanjay Shende"]
    assert first.categories == ["cs.DC", "cs.OS", "cs.PF"]
    assert first.primary_category == "cs.DC"
    assert first.abstract is None  # pastweek pages show no abstracts
    by_id = {item.arxiv_id: item for item in page.items}
    chase = by_id["2601.10557"]
    assert chase.authors == ["Edoardo Di Napoli", "Clément Richefort", "Xinzhe Wu"]
    assert chase.comment == "To be submitted to SISC"
    assert by_id["2601.09334"].journal_ref == "IEEE Access, vol. 13, pp. 195611-195656, 2025"
    assert by_id["2601.09334"].comment is None


def test_cross_lists_are_marked_with_their_primary(fixtures: Path) -> None:
    """'(cross-list from X)' makes a cross item whose primary is X, listed after the day's new ones."""
    page = _page(fixtures, "cs.DC_pastweek_show2000.html")
    friday = page.days[FRI]
    assert [item.kind for item in friday] == ["new"] * 4 + ["cross"] * 6
    cross = friday[4]
    assert cross.arxiv_id == "2601.10676"
    assert cross.primary_category == "cs.IT"
    assert cross.categories == ["cs.IT", "cs.DC", "cs.NI", "eess.SP", "quant-ph"]
    assert cross.version is None
    assert all(i.primary_category != "cs.DC" for i in page.items if i.kind == "cross")
    assert all(i.primary_category == "cs.DC" for i in page.items if i.kind == "new")


def test_two_pages_with_skip_merge_into_the_listing(fixtures: Path) -> None:
    """Pages of 25: the split Wednesday merges back; skip and totals drive paging."""
    first = _page(fixtures, "cs.DC_pastweek_show25_skip0.html")
    second = _page(fixtures, "cs.DC_pastweek_show25_skip25.html")
    assert (first.total, first.skip, first.shown, first.show) == (50, 0, 25, 25)
    assert next_skip(first) == 25
    assert (second.total, second.skip, second.shown) == (50, 25, 25)
    assert next_skip(second) is None
    assert len(first.days[WED]) == 2
    assert len(second.days[WED]) == 7
    assert MON not in first.days
    assert second.days[MON] == []
    merged = merge_days([first, second])
    whole = _page(fixtures, "cs.DC_pastweek_show2000.html")
    assert list(merged) == [FRI, THU, WED, TUE, MON]
    assert {d: [i.arxiv_id for i in v] for d, v in merged.items()} == {
        d: [i.arxiv_id for i in v] for d, v in whole.days.items()
    }
    assert day_counts(first) == day_counts(whole)


def test_iter_listing_pages_follows_skip_until_total(fixtures: Path) -> None:
    """The pager requests skip 0 then 25 and stops at the total."""
    bodies = {
        listing_url(BASE, "cs.DC", 0, 25): (fixtures / "listing/cs.DC_pastweek_show25_skip0.html"),
        listing_url(BASE, "cs.DC", 25, 25): (
            fixtures / "listing/cs.DC_pastweek_show25_skip25.html"
        ),
    }
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return bodies[url].read_bytes()

    pages = list(iter_listing_pages(fetch, BASE, "cs.DC", show=25))
    assert asked == list(bodies)
    assert sum(p.shown for p in pages) == 50


def test_iter_listing_pages_rejects_a_server_ignoring_skip(fixtures: Path) -> None:
    """A second request answered with the first page again is an error, not a loop."""
    body = (fixtures / "listing/cs.DC_pastweek_show25_skip0.html").read_bytes()
    pages = iter_listing_pages(lambda url: body, BASE, "cs.DC", show=25)
    next(pages)
    with pytest.raises(FeedError, match="not 26"):
        next(pages)


def test_new_page_sections(fixtures: Path) -> None:
    """The new page: one date, new / cross / replaced items with abstracts."""
    page = _page(fixtures, "cs.DC_new.html", url=f"{BASE}/list/cs.DC/new")
    assert page.list_type == "new"
    assert (page.total, page.skip, page.shown) == (19, 0, 19)
    assert next_skip(page) is None
    assert list(page.days) == [FRI]
    assert Counter(item.kind for item in page.items) == {"new": 4, "cross": 6, "replace": 9}
    replaced = page.days[FRI][10]
    assert (replaced.arxiv_id, replaced.kind, replaced.version) == ("2506.02024", "replace", None)
    assert replaced.abstract is not None
    assert replaced.abstract.startswith("Meeting service-level")
    tex = next(i for i in page.items if i.arxiv_id == "2601.10676")
    assert tex.abstract is not None
    assert r"d \geq 2k-2" in tex.abstract


def test_to_entries_dates_and_types(fixtures: Path) -> None:
    """Entries keep the listing date and kind, source 'listing', and no invented abstract."""
    entries = to_entries(_page(fixtures, "cs.DC_pastweek_show2000.html"))
    assert len(entries) == 50
    assert {e.source for e in entries} == {"listing"}
    assert Counter(e.announce_date for e in entries)[TUE] == 18
    assert Counter(e.announce_type for e in entries) == {"cross": 27, "new": 23}
    assert all(e.abstract == "" for e in entries)


def test_error_page_raises_feed_error_naming_the_url(fixtures: Path) -> None:
    """arXiv's 'Bad Request' HTML is not a listing: FeedError with the URL."""
    url = f"{BASE}/list/cs.XX/pastweek?show=2000&skip=0"
    with pytest.raises(FeedError) as info:
        _page(fixtures, "error_400.html", url=url)
    assert url in str(info.value)
    assert info.value.url == url
    assert "Bad Request" in str(info.value)


def test_dlpage_without_listing_content_raises() -> None:
    """A #dlpage block with no entries, headings or total is not a listing."""
    body = "<html><body><div id='dlpage'><h1>Something else</h1></div></body></html>"
    with pytest.raises(FeedError, match="no listing entries"):
        parse_listing(body, url="https://export.arxiv.org/list/cs.DC/pastweek")


def test_empty_listing_has_total_zero() -> None:
    """A page with only 'No updates' days has total 0 and no next page."""
    body = (
        "<html><body><div id='dlpage'><dl id='articles'><h3>Mon, 12 Jan 2026 "
        "(showing 0 of 0 entries )</h3><p>No updates for this time period.</p></dl></div></body></html>"
    )
    page = parse_listing(body)
    assert (page.total, page.shown, page.days) == (0, 0, {MON: []})
    assert next_skip(page) is None


def test_looks_like_listing(fixtures: Path, samples: Path) -> None:
    """Listing HTML is recognised; error pages, feeds and OAI XML are not."""
    for name in (
        "cs.DC_recent_skip0_show50.html",
        "cs.DC_new.html",
        "cs.DC_pastweek_show2000.html",
    ):
        assert looks_like_listing((fixtures / "listing" / name).read_text())
    assert not looks_like_listing((fixtures / "listing/error_400.html").read_text())
    oai = samples / "C_oai_pmh/arxiv-oai-harvester_arXivRaw_2016/GetRecord.xml"
    assert not looks_like_listing(oai.read_text())
    rss = samples / "B_rss_feeds/aioarxiv_rss_2024-11-28/empty_rss_mock_feed.xml"
    assert not looks_like_listing(rss.read_text())


def test_older_template_wording_is_tolerated() -> None:
    """'[ total of N entries', '[ showing N entries per page' and dated section headings parse."""
    body = (
        "<html><body><div id='dlpage'><h1>Operating Systems</h1>"
        "<div class='paging'>[ total of 2 entries : <span>1-2</span> ]</div>"
        "<div class='morefewer'>[ showing 25 entries per page: fewer | more ]</div>"
        "<dl id='articles'><h3>New submissions for Friday, 16 January 2026 (showing 1 of 1 entries )</h3>"
        "<dt><a name='item1'>[1]</a><a href ='/abs/2601.07600' title='Abstract'>arXiv:2601.07600</a></dt>"
        "<dd><div class='list-title mathjax'><span class='descriptor'>Title:</span> A</div>"
        "<div class='list-subjects'><span class='descriptor'>Subjects:</span>"
        "<span class='primary-subject'>Operating Systems (cs.OS)</span></div></dd></dl>"
        "<dl id='articles'><h3>Cross-lists for Friday, 16 January 2026</h3>"
        "<dt><a name='item2'>[2]</a><a href ='/abs/2601.09809' title='Abstract'>arXiv:2601.09809</a>"
        " (cross-list from cs.LG)</dt><dd><div class='list-title'>B</div></dd></dl></div></body></html>"
    )
    page = parse_listing(body, url="https://export.arxiv.org/list/cs.OS/new")
    assert (page.category, page.list_type, page.total, page.show) == ("cs.OS", "new", 2, 25)
    assert [(i.arxiv_id, i.kind, i.title) for i in page.days[FRI]] == [
        ("2601.07600", "new", "A"),
        ("2601.09809", "cross", "B"),
    ]
    assert page.days[FRI][0].primary_category == "cs.OS"


def test_unreadable_entry_is_counted_not_dropped() -> None:
    """An entry without a readable id stays in 'shown' (paging) and is reported."""
    body = (
        "<html><body><div id='dlpage'><div class='paging'>Total of 3 entries</div>"
        "<dl id='articles'><h3>Mon, 12 Jan 2026 (showing 2 of 2 entries )</h3>"
        "<dt><a name='item1'>[1]</a><a title='Abstract'>arXiv:garbled</a></dt><dd></dd>"
        "<dt><a name='item2'>[2]</a><a href='/abs/2601.06288' title='Abstract'>arXiv:2601.06288</a></dt>"
        "<dd></dd></dl></div></body></html>"
    )
    page = parse_listing(body)
    assert page.shown == 2
    assert [i.arxiv_id for i in page.items] == ["2601.06288"]
    assert page.unreadable == ["[1]arXiv:garbled"]
    assert next_skip(page) == 2


def test_next_skip_without_total_follows_full_pages() -> None:
    """With no printed total, a full page asks for the next one and a short page ends."""
    full = ListingPage(
        url=None, category="cs.LG", list_type="pastweek", total=None, skip=0, shown=2000, show=2000
    )
    short = ListingPage(
        url=None, category="cs.LG", list_type="pastweek", total=None, skip=2000, shown=7, show=2000
    )
    assert next_skip(full) == 2000
    assert next_skip(short) is None
