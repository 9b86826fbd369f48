"""rss.arxiv.org parsing (fetch/rss.py) on the real 2024-11-28 feeds and hand-made shapes."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from arxivfilter.errors import FeedError
from arxivfilter.fetch.rss import RssListing, parse_rss, rss_url
from arxivfilter.models import Entry

URL = "https://rss.arxiv.org/rss/cs.DC+cs.OS+cs.LG"
FEEDS = Path("B_rss_feeds/aioarxiv_rss_2024-11-28")
THANKSGIVING = dt.date(2024, 11, 28)


def _read(samples: Path, name: str) -> RssListing:
    return parse_rss((samples / FEEDS / name).read_bytes(), URL)


def _by_id(listing: RssListing) -> dict[str, Entry]:
    return {e.arxiv_id: e for e in listing.entries}


@pytest.fixture(scope="module")
def full_feed(samples: Path) -> RssListing:
    """The real all-archive feed, parsed once for the module."""
    return _read(samples, "rss_mock_feed.xml")


@pytest.mark.samples
def test_full_feed_counts(full_feed: RssListing) -> None:
    """The all-archive feed: 1,504 items, 926 new, 569 replace, 9 cross, dated 2024-11-28."""
    listing = full_feed
    assert listing.item_count == 1504
    assert len(listing.entries) == 1504
    assert Counter(e.announce_type for e in listing.entries) == {
        "new": 926,
        "replace": 569,
        "cross": 9,
    }
    assert listing.date == THANKSGIVING
    assert {e.announce_date for e in listing.entries} == {THANKSGIVING}
    assert {e.source for e in listing.entries} == {"rss"}


@pytest.mark.samples
def test_cs_only_feed_counts(samples: Path) -> None:
    """The cs-only trim: 722 items, 470 new, 251 replace, 1 cross."""
    listing = _read(samples, "rss_mock_feed.cs_only.xml")
    assert listing.item_count == len(listing.entries) == 722
    assert Counter(e.announce_type for e in listing.entries) == {
        "new": 470,
        "replace": 251,
        "cross": 1,
    }
    assert all(any(c.startswith("cs.") for c in e.categories) for e in listing.entries)


@pytest.mark.samples
def test_real_entry_fields(full_feed: RssListing) -> None:
    """Id, version, abstract after "Abstract:", categories and provisional primary from a real item."""
    entry = _by_id(full_feed)["2411.17705"]
    assert entry.version == 1
    assert entry.title == "EEG-DCNet: A Fast and Accurate MI-EEG Dilated CNN Classification Method"
    assert entry.abstract.startswith("The electroencephalography (EEG)-based motor imagery")
    assert "Announce Type" not in entry.abstract
    assert "$1\\times1$" in entry.abstract  # TeX kept verbatim
    assert entry.categories == ["eess.SP", "cs.AI", "cs.LG"]
    assert entry.primary_category == "eess.SP"
    assert entry.authors == ["Wei Peng", "Kang Liu", "Jiaxi Shi", "Jianchen Hu"]


@pytest.mark.samples
def test_real_creators_tex_and_affiliations(full_feed: RssListing) -> None:
    """Real dc:creator strings: TeX accents become letters, affiliations stay out of names."""
    entries = full_feed.entries
    names = {a for e in entries for a in e.authors}
    assert "Benjamin Rémy" in names  # R\'emy (LEMTA)
    assert "Przemysław Olbratowski" in names  # Przemys{\l}aw
    assert "José Roberto Castilho Piqueira" in names
    assert not [n for n in names if "(" in n or ")" in n or "\\" in n or "{" in n]
    assert not [n for n in names if "LEMTA" in n or "IFPEN" in n]


@pytest.mark.samples
def test_empty_feed_is_zero_entries_not_an_error(samples: Path) -> None:
    """An empty feed returns zero entries with its date (the caller decides outage vs holiday)."""
    listing = _read(samples, "empty_rss_mock_feed.xml")
    assert listing.entries == []
    assert listing.item_count == 0
    assert listing.date == THANKSGIVING


@pytest.mark.samples
def test_error_feed_is_a_feed_error(samples: Path) -> None:
    """The real "Feed error for query" channel raises FeedError naming the URL and the reason."""
    with pytest.raises(FeedError, match="Bad archive 'astroph'") as caught:
        _read(samples, "error_rss_mock_feed.xml")
    assert caught.value.url == URL
    assert URL in str(caught.value)


def test_replace_cross_and_every_announce_type(fixtures: Path) -> None:
    """new, cross, replace and replace-cross items, with versions and legacy ids."""
    listing = parse_rss((fixtures / "feeds" / "rss_replace_cross.xml").read_bytes(), URL)
    assert listing.date == dt.date(2026, 2, 24)
    got = {e.arxiv_id: (e.version, e.announce_type) for e in listing.entries}
    assert got == {
        "2602.20001": (1, "new"),
        "2602.19002": (1, "cross"),
        "2509.01234": (3, "replace"),
        "2511.04321": (2, "replace-cross"),
        "cs/0601001": (4, "replace-cross"),
        "2602.20099": (1, "new"),
    }
    withdrawn = _by_id(listing)["2511.04321"]
    assert withdrawn.is_replacement
    assert withdrawn.categories == ["math.CO", "cs.DC"]
    assert withdrawn.primary_category == "math.CO"  # provisional: the first category


def test_text_rules_on_fixture(fixtures: Path) -> None:
    """Titles collapse whitespace and keep TeX; creators split with affiliations apart."""
    entry = parse_rss((fixtures / "feeds" / "rss_replace_cross.xml").read_bytes(), URL).entries[0]
    assert entry.title == "Serving $\\beta$-Mixtures of Experts at Scale"
    assert entry.abstract == (
        "We serve $\\beta$-mixtures with \\emph{paged} attention & report a 2.1$\\times$ speed-up."
    )
    assert entry.authors == ["José García", "Przemysław Nowak", "Benjamin Rémy", "王芳"]


def test_item_without_abstract_is_kept_and_flagged(fixtures: Path) -> None:
    """An item with no abstract is kept with an empty abstract and a warning."""
    with capture_logs() as logs:
        listing = parse_rss((fixtures / "feeds" / "rss_replace_cross.xml").read_bytes(), URL)
    assert _by_id(listing)["2602.20099"].abstract == ""
    flagged = [e for e in logs if e["event"] == "feed item without abstract"]
    assert [(e["arxiv_id"], e["url"], e["log_level"]) for e in flagged] == [
        ("2602.20099", URL, "warning")
    ]


def test_duplicated_items_keep_the_highest_version(fixtures: Path) -> None:
    """Three items of one paper (v1, v3, v2) become one entry, v3, and are logged."""
    with capture_logs() as logs:
        listing = parse_rss((fixtures / "feeds" / "rss_duplicates.xml").read_bytes(), URL)
    assert listing.item_count == 4
    assert [(e.arxiv_id, e.version) for e in listing.entries] == [
        ("2601.11111", 3),
        ("2602.22222", 1),
    ]
    assert _by_id(listing)["2601.11111"].title == "Elastic Training, third version"
    assert sum(e["event"] == "duplicated item in feed" for e in logs) == 2


def test_atom_form_matches_rss_form(fixtures: Path) -> None:
    """The /atom/ form gives the same entries and date as the RSS form."""
    atom = parse_rss(
        (fixtures / "feeds" / "atom_rss.xml").read_bytes(), URL.replace("rss/", "atom/")
    )
    rss = _by_id(parse_rss((fixtures / "feeds" / "rss_replace_cross.xml").read_bytes(), URL))
    assert atom.date == dt.date(2026, 2, 24)
    assert atom.item_count == 2
    for entry in atom.entries:
        other = rss[entry.arxiv_id]
        assert entry.model_dump(exclude={"authors"}) == other.model_dump(exclude={"authors"})
    assert atom.entries[0].authors == ["José García", "Przemysław Nowak"]


def test_atom_form_with_one_author_element_per_person(fixtures: Path) -> None:
    """An Atom entry listing <author> elements one per person keeps each name."""
    body = (
        (fixtures / "feeds" / "atom_rss.xml")
        .read_bytes()
        .replace(
            b"<dc:creator>Barbara Liskov</dc:creator>",
            b"<author><name>Barbara Liskov</name></author><author><name>Jos\\'e Garc\\'ia</name></author>",
        )
    )
    entry = parse_rss(body, URL).entries[1]
    assert entry.authors == ["Barbara Liskov", "José García"]


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Tue, 24 Feb 2026 00:00:00 -0500", dt.date(2026, 2, 24)),
        ("Tue, 24 Feb 2026 05:00:00 +0000", dt.date(2026, 2, 24)),
        ("Tue, 24 Feb 2026 04:59:00 +0000", dt.date(2026, 2, 23)),
        ("Mon, 06 Jul 2026 00:00:00 -0400", dt.date(2026, 7, 6)),
    ],
)
def test_listing_date_is_the_new_york_date_of_pubdate(
    fixtures: Path, pub_date: str, expected: dt.date
) -> None:
    """The listing date is the channel pubDate read in America/New_York."""
    body = (
        (fixtures / "feeds" / "rss_duplicates.xml")
        .read_bytes()
        .replace(b"Wed, 25 Feb 2026 00:00:00 -0500", pub_date.encode())
    )
    listing = parse_rss(body, URL)
    assert listing.date == expected
    assert {e.announce_date for e in listing.entries} == {expected}


@pytest.mark.parametrize("name", ["rss_truncated.xml", "html_error_page.html", "blank_body.xml"])
def test_broken_bodies_raise(fixtures: Path, name: str) -> None:
    """Truncated XML, an HTML page and a blank body are FeedErrors, never zero papers."""
    with pytest.raises(FeedError) as caught:
        parse_rss((fixtures / "feeds" / name).read_bytes(), URL)
    assert caught.value.url == URL


def test_invalid_byte_keeps_the_feed(fixtures: Path) -> None:
    """One invalid byte costs one character, not the feed's encoding."""
    listing = parse_rss((fixtures / "feeds" / "rss_invalid_byte.xml").read_bytes(), URL)
    assert len(listing.entries) == 6
    assert _by_id(listing)["2602.19002"].title == "A Kernel Sch\ufffdduler for Accelerators"
    assert "王芳" in listing.entries[0].authors


@pytest.mark.parametrize(
    ("base", "atom", "expected"),
    [
        ("https://rss.arxiv.org/rss/", False, "https://rss.arxiv.org/rss/cs.DC+cs.OS+cs.LG"),
        ("https://rss.arxiv.org/rss/", True, "https://rss.arxiv.org/atom/cs.DC+cs.OS+cs.LG"),
        ("https://rss.arxiv.org", False, "https://rss.arxiv.org/rss/cs.DC+cs.OS+cs.LG"),
        ("https://rss.arxiv.org/atom", True, "https://rss.arxiv.org/atom/cs.DC+cs.OS+cs.LG"),
    ],
)
def test_rss_url(base: str, atom: bool, expected: str) -> None:
    """Categories are joined with + under /rss/ or /atom/."""
    assert rss_url(base, ["cs.DC", "cs.OS", "cs.LG"], atom=atom) == expected
