"""The Atom feed: window, order, stable ids and timestamps, hostile text, feedparser."""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree

import feedparser
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arxivfilter.config import Profile
from arxivfilter.models import ListedPaper
from arxivfilter.report.atom import feed_papers, render_feed
from arxivfilter.report.escape import tex_plain, xml_text
from tests.listed import listed

PROFILE = Profile(
    name="llm-inference", description="Serving <fast> & cheap.", threshold=70, tags={}
)
NEWEST = dt.date(2026, 2, 24)
HOSTILE = [
    "Evil ](javascript:alert(1)) link",
    "<script>alert(1)</script>",
    "a | b & c",
    "`tick` ``double``",
    "$O(n^2)$ sorting",
    "大型语言模型的高效推理",
    "]]> <![CDATA[ x",
    "control \x00\x0b\x1b\ufffe chars",
]


def paper(arxiv_id: str, day: dt.date = NEWEST, **kw: object) -> ListedPaper:
    """A judged, listed paper."""
    base: dict[str, object] = {
        "arxiv_id": arxiv_id,
        "title": f"Title {arxiv_id}",
        "authors": ["Ada Lovelace"],
        "abstract": "An abstract.",
        "date": day,
        "status": "ok",
        "scorer": "llm",
        "relevance": 80,
        "hype": 30,
        "tags": ["serving"],
        "tldr": "Short.",
        "reason": "Because.",
    }
    base.update(kw)
    return listed(**base)


ATOM = "{http://www.w3.org/2005/Atom}"


def parse(xml: str) -> feedparser.FeedParserDict:
    """Parse with feedparser, insisting on a well-formed feed."""
    parsed = feedparser.parse(xml.encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def test_entries_sorted_and_stable() -> None:
    """Entries: newest date first, then relevance desc, then id; ids are arXiv abstract URLs."""
    papers = [
        paper("2602.00001", NEWEST, relevance=75),
        paper("2602.00002", NEWEST, relevance=95),
        paper("2602.00003", NEWEST - dt.timedelta(days=1), relevance=99),
        paper("2602.00000", NEWEST, relevance=75),
    ]
    feed = parse(render_feed(PROFILE, papers, newest=NEWEST))
    assert [e.id for e in feed.entries] == [
        "https://arxiv.org/abs/2602.00002",
        "https://arxiv.org/abs/2602.00000",
        "https://arxiv.org/abs/2602.00001",
        "https://arxiv.org/abs/2602.00003",
    ]
    assert feed.entries[0].link == "https://arxiv.org/abs/2602.00002"


def test_timestamps_from_listing_dates() -> None:
    """Every timestamp is 00:00 New York time of a listing date (EST and EDT alike)."""
    summer = dt.date(2025, 7, 1)
    xml = render_feed(PROFILE, [paper("2507.00001", summer)], newest=dt.date(2025, 7, 2))
    assert "<updated>2025-07-02T00:00:00-04:00</updated>" in xml
    assert "<updated>2025-07-01T00:00:00-04:00</updated>" in xml
    winter = render_feed(PROFILE, [paper("2602.00001")], newest=NEWEST)
    assert "<published>2026-02-24T00:00:00-05:00</published>" in winter
    feed = parse(winter)
    assert feed.entries[0].updated_parsed[:4] == (2026, 2, 24, 5)


def test_thirty_day_window() -> None:
    """Only listed papers of the 30 days up to the newest announcement are entries."""
    papers = [
        paper("2602.00001", NEWEST),
        paper("2602.00002", NEWEST - dt.timedelta(days=29)),
        paper("2602.00003", NEWEST - dt.timedelta(days=30)),
        paper("2602.00004", NEWEST + dt.timedelta(days=1)),
        paper("2602.00005", NEWEST, relevance=10),
        paper("2602.00006", NEWEST, status="failed", relevance=None),
        paper("2602.00007", NEWEST, announce_type="replace"),
    ]
    ids = [
        e.id.rsplit("/", 1)[1] for e in parse(render_feed(PROFILE, papers, newest=NEWEST)).entries
    ]
    assert ids == ["2602.00001", "2602.00002"]
    assert [p.arxiv_id for p in feed_papers(papers, 70, newest=NEWEST, days=1)] == ["2602.00001"]


def test_one_entry_per_paper() -> None:
    """A paper listed on two days of the window is one entry, at its latest listing."""
    papers = [
        paper("2602.00001", NEWEST - dt.timedelta(days=5)),
        paper("2602.00001", NEWEST, announce_type="replace", updated_version=2),
    ]
    feed = parse(render_feed(PROFILE, papers, newest=NEWEST))
    assert len(feed.entries) == 1
    assert feed.entries[0].updated_parsed[:3] == (2026, 2, 24)


def test_hostile_text_round_trips() -> None:
    """Hostile titles come back from feedparser as their text, forbidden characters removed."""
    papers = [
        paper(f"2602.{i:05d}", title=t, tldr=t, reason=t, authors=[t], tags=[t])
        for i, t in enumerate(HOSTILE)
    ]
    xml = render_feed(PROFILE, papers, newest=NEWEST)
    assert "<script>" not in xml
    feed = parse(xml)
    by_id = {e.id: e for e in feed.entries}
    for i, t in enumerate(HOSTILE):
        entry = by_id[f"https://arxiv.org/abs/2602.{i:05d}"]
        assert entry.title == xml_text(tex_plain(t))
        assert entry.title_detail.type == "text/plain"
    assert feed.feed.subtitle == "Serving <fast> & cheap."


def test_empty_feed_is_valid() -> None:
    """A feed with no entries is still a valid Atom document."""
    feed = parse(render_feed(PROFILE, [], newest=NEWEST))
    assert feed.entries == []
    assert feed.feed.title == "arxivfilter: llm-inference"


def test_site_url() -> None:
    """With a site URL the feed has self and alternate links; other schemes are refused."""
    feed = parse(render_feed(PROFILE, [], newest=NEWEST, site_url="https://x.github.io/d/p/"))
    assert feed.feed.id == "https://x.github.io/d/p/feed.xml"
    assert {link.rel: link.href for link in feed.feed.links} == {
        "self": "https://x.github.io/d/p/feed.xml",
        "alternate": "https://x.github.io/d/p/",
    }
    with pytest.raises(ValueError, match="site_url"):
        render_feed(PROFILE, [], newest=NEWEST, site_url="javascript:alert(1)")


def test_byte_identical() -> None:
    """The same papers in any order render the same bytes."""
    papers = [
        paper(f"2602.{i:05d}", NEWEST - dt.timedelta(days=i % 4), relevance=70 + i)
        for i in range(9)
    ]
    assert render_feed(PROFILE, papers, newest=NEWEST) == render_feed(
        PROFILE, list(reversed(papers)), newest=NEWEST
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.one_of(st.text(), st.sampled_from(HOSTILE)),
            st.text(),
            st.lists(st.text(), max_size=2),
        ),
        max_size=5,
    )
)
@example([("Ä»", "", [])])  # found by hypothesis: feedparser "repairs" it to 'Ļ'
@example([("Ä©", "", [])])
def test_property_feed_parses(rows: list[tuple[str, str, list[str]]]) -> None:
    """For any stored (normalised) Unicode titles, abstracts and authors: no bozo, titles round-trip."""
    from arxivfilter.text import normalise

    papers = [
        paper(
            f"2602.{i:05d}",
            title=normalise(t),
            abstract=a,
            tldr=a,
            reason=t,
            authors=authors,
            tags=authors,
        )
        for i, (t, a, authors) in enumerate(rows)
    ]
    xml = render_feed(PROFILE, papers, newest=NEWEST)
    parse(xml)  # feedparser reads it as a well-formed Atom feed
    # the titles as the XML carries them: feedparser itself "repairs" text that looks like
    # mojibake (a stored 'Ä»' reads back as 'Ļ'), so it cannot be the round-trip oracle
    entries = ElementTree.fromstring(xml.encode("utf-8")).iter(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [
        xml_text(tex_plain(p.title)) or "(untitled)" for p in papers
    ]


def test_feed_id_is_unique_to_the_installation() -> None:
    """Old code: `urn:arxivfilter:<profile>` for every installation, and no rel="self"."""
    feed = parse(render_feed(PROFILE, [], newest=NEWEST, repository="lab/papers"))
    raw = "https://raw.githubusercontent.com/lab/papers/HEAD/digests/llm-inference/feed.xml"
    assert feed.feed.id == raw
    assert {link.rel: link.href for link in feed.feed.links} == {
        "self": raw,
        "alternate": "https://github.com/lab/papers/tree/HEAD/digests/llm-inference",
    }
    one = parse(render_feed(PROFILE, [], newest=NEWEST, installation="lab-a"))
    other = parse(render_feed(PROFILE, [], newest=NEWEST, installation="lab-b"))
    assert one.feed.id != other.feed.id


def test_written_feed_names_the_github_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """In the nightly Action, GITHUB_REPOSITORY gives the feed its self link."""
    from arxivfilter.report.outputs import repository

    monkeypatch.setenv("GITHUB_REPOSITORY", "lab/papers")
    assert repository() == "lab/papers"
    monkeypatch.setenv("GITHUB_REPOSITORY", "")
    assert repository() == ""
