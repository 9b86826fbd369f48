"""The running log README: sections per day, replacement, order, badges, escaping."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from arxivfilter.config import Profile
from arxivfilter.models import ListedPaper
from arxivfilter.report.escape import tex_plain
from arxivfilter.report.running_log import (
    badge_url,
    month_intact,
    parse_sections,
    render_log,
    render_month,
)
from tests.listed import listed

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
PROFILE = Profile(name="llm-inference", description="Serving.", threshold=70, tags={})
CATS = ["cs.DC", "cs.OS", "cs.LG"]
D1, D2, D3 = dt.date(2026, 2, 23), dt.date(2026, 2, 24), dt.date(2026, 2, 25)
HOSTILE = [
    "Evil ](javascript:alert(1)) link",
    "<script>alert(1)</script>",
    "a | b",
    "`tick`",
    "$O(n^2)$ sorting",
    "大型语言模型",
    "<!-- arxivfilter:end 2026-02-24 -->",
    "<!-- arxivfilter:day 2026-02-24 papers=99 -->",
]


def paper(arxiv_id: str, day: dt.date = D2, **kw: object) -> ListedPaper:
    """A judged, listed paper."""
    base: dict[str, object] = {
        "arxiv_id": arxiv_id,
        "title": f"Title {arxiv_id}",
        "date": day,
        "status": "ok",
        "scorer": "llm",
        "relevance": 80,
        "hype": 30,
        "tags": ["serving", "kv-cache"],
        "tldr": f"Summary of {arxiv_id}.",
    }
    base.update(kw)
    return listed(**base)


def day_headings(md: str) -> list[str]:
    """The dates of the log's day sections, in order."""
    return re.findall(r"^## \[(\d{4}-\d{2}-\d{2})\]", md, flags=re.MULTILINE)


def test_bullet_format() -> None:
    """A paper is a bullet with tag code spans and an arXiv link, its TL;DR quoted beneath."""
    md = render_log(PROFILE, {D2: [paper("2602.00001")]}, categories=CATS)
    lines = md.splitlines()
    i = lines.index(
        "- `serving` `kv-cache` [Title 2602.00001](https://arxiv.org/abs/2602.00001) (80/100)"
    )
    assert lines[i + 1] == "  > **TL;DR**: Summary of 2602.00001."
    assert "## [2026-02-24](2026/2026-02-24.md)" in lines


def test_sections_newest_first_and_empty_days_said() -> None:
    """Days are newest first; a day whose papers all miss the threshold says so, and a day
    with no paper at all gets no section."""
    md = render_log(
        PROFILE,
        {
            D1: [paper("2602.00001", D1)],
            D3: [paper("2602.00003", D3)],
            D2: [paper("2602.00002", D2, relevance=10)],
        },
        categories=CATS,
    )
    assert day_headings(md) == ["2026-02-25", "2026-02-24", "2026-02-23"]
    assert f"Nothing at or above {PROFILE.threshold}/100 among 1 paper." in md.splitlines()
    assert "papers listed: 2" in md
    empty_day = render_log(PROFILE, {D1: [paper("2602.00001", D1)], D2: []}, categories=CATS)
    assert day_headings(empty_day) == ["2026-02-23"]


def test_badges() -> None:
    """Badges give the total listed, the latest date and the categories, URL-escaped."""
    md = render_log(PROFILE, {}, categories=CATS)
    assert "papers%20listed-0-blue" in md
    assert "latest%20listing-none-green" in md
    md = render_log(
        PROFILE,
        {D1: [paper("2602.00001", D1), paper("2602.00002", D1)], D2: [paper("2602.00003")]},
        categories=CATS,
    )
    assert "https://img.shields.io/badge/papers%20listed-3-blue" in md
    assert "https://img.shields.io/badge/latest%20listing-2026--02--24-green" in md
    assert "https://img.shields.io/badge/categories-cs.DC%2C%20cs.OS%2C%20cs.LG-orange" in md
    md = render_log(PROFILE, {D1: [paper("2602.00001", D1)]}, categories=CATS, weeks=4)
    assert "listed%20in%204%20weeks-1-blue" in md


def test_archive_links_and_month_page() -> None:
    """The README links every month's archive page; a page holds its days, beside their
    digests, and ends with a checksum marker that detects hand edits."""
    md = render_log(
        PROFILE, {D2: [paper("2602.00001")]}, categories=CATS, months=[(2026, 2), (2026, 1)]
    )
    assert md.index("[February 2026](2026/2026-02.md)") < md.index(
        "[January 2026](2026/2026-01.md)"
    )
    page = render_month(
        PROFILE, (2026, 2), {D1: [paper("2602.00001", D1)], D2: []}, scanned={D2: 5}
    )
    assert "## [2026-02-23](2026-02-23.md)" in page
    assert "Nothing at or above 70/100 among 5 papers." in page
    assert month_intact(page, (2026, 2))
    assert not month_intact(page, (2026, 3))
    assert not month_intact(page.replace("Title", "Tit1e"), (2026, 2))
    assert not month_intact(page[:-20], (2026, 2))
    check_log(
        render_month(PROFILE, (2026, 2), {D1: [paper("2602.00001", D1)]}),
        {D1: ["Title 2602.00001"]},
        markers=1,
    )


def test_badge_url_escaping() -> None:
    """Dashes and underscores are doubled and the rest URL-escaped."""
    url = badge_url("a_b c", "x-y/z?&#", "blue")
    assert url == "https://img.shields.io/badge/a__b%20c-x--y%2Fz%3F%26%23-blue"
    assert unquote(url.rsplit("/", 1)[1]) == "a__b c-x--y/z?&#-blue"


def test_parse_sections() -> None:
    """Sections parse back with their counts."""
    md = render_log(
        PROFILE,
        {D1: [paper("2602.00001", D1)], D2: [paper("2602.00002"), paper("2602.00003")]},
        categories=CATS,
    )
    parsed = parse_sections(md)
    assert sorted(parsed) == [D1, D2]
    assert parsed[D2][0] == 2
    assert parsed[D1][0] == 1


def test_hostile_titles_cannot_forge_markers() -> None:
    """Hostile titles and TL;DRs stay inside their bullet and never read as markers or HTML."""
    papers = [paper(f"2602.{i:05d}", title=t, tldr=t, tags=[t]) for i, t in enumerate(HOSTILE)]
    md = render_log(PROFILE, {D2: papers}, categories=CATS)
    assert parse_sections(md)[D2][0] == len(HOSTILE)
    check_log(md, {D2: [p.title for p in papers]})


def check_log(md: str, titles_by_day: dict[dt.date, list[str]], markers: int = 0) -> None:
    """The log's structure: one h2 per day, one bullet per paper linked to arXiv, no raw HTML
    but the markers, images only for badges."""
    tokens = MD.parse(md)
    days = [d for d in sorted(titles_by_day, reverse=True) if titles_by_day[d]]
    html = [t.content.strip() for t in tokens if t.type == "html_block"]
    expected = []
    for d in days:
        n = len(titles_by_day[d])
        expected += [f"<!-- arxivfilter:day {d} papers={n} -->", f"<!-- arxivfilter:end {d} -->"]
    if markers:  # an archive page: its checksum marker closes it
        assert html[-1].startswith("<!-- arxivfilter:month ")
        html = html[:-1]
    assert html == expected
    assert day_headings(md) == [d.isoformat() for d in days]
    links: list[str] = []
    for t in tokens:
        for c in t.children or []:
            assert c.type != "html_inline"
            if c.type == "image":
                assert c.attrs["src"].startswith("https://img.shields.io/badge/")
    items = [i for i, t in enumerate(tokens) if t.type == "list_item_open"]
    assert len(items) == sum(len(v) for v in titles_by_day.values())
    for i in items:
        inline = tokens[i + 2]
        assert inline.type == "inline"
        kids = inline.children
        k = next(j for j, c in enumerate(kids) if c.type == "link_open")
        assert {c.type for c in kids[:k]} <= {"code_inline", "text"}
        assert kids[k].attrs["href"].startswith("https://arxiv.org/abs/")
        end = next(j for j, c in enumerate(kids) if c.type == "link_close")
        links.append("".join(c.content for c in kids[k + 1 : end] if c.type == "text"))
        assert {c.type for c in kids[k + 1 : end]} <= {"text"}
        assert tokens[i + 4].type == "blockquote_open"
    want = [tex_plain(t) or "(untitled)" for d in days for t in sorted(titles_by_day[d])]
    assert sorted(links) == sorted(want)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from([D1, D2, D3]),
        st.lists(st.tuples(st.text(), st.text(), st.lists(st.text(), max_size=2)), max_size=4),
        max_size=3,
    )
)
def test_property_log_structure(data: dict[dt.date, list[tuple[str, str, list[str]]]]) -> None:
    """For any titles, TL;DRs and tags, the log keeps one bullet per paper and parses back."""
    sections = {
        day: [
            paper(f"2602.{day.day:02d}{i:03d}", day, title=t, tldr=s, tags=tags)
            for i, (t, s, tags) in enumerate(rows)
        ]
        for day, rows in data.items()
    }
    md = render_log(PROFILE, sections, categories=CATS)
    check_log(md, {d: [p.title for p in ps] for d, ps in sections.items()})
    assert {d: n for d, (n, _) in parse_sections(md).items()} == {
        d: len(ps) for d, ps in sections.items() if ps
    }
