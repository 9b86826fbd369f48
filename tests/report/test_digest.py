"""The thresholded digest: counts, order, listing rule, escaping, failures, structure."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from arxivfilter.config import Profile
from arxivfilter.models import ListedPaper
from arxivfilter.report.digest import (
    digest_path,
    excerpt,
    is_listed,
    render_digest,
    select_listed,
)
from arxivfilter.report.escape import tex_plain
from arxivfilter.text import normalise
from tests.listed import listed

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
DAY = dt.date(2026, 2, 24)
PROFILE = Profile(
    name="llm-inference",
    description="Serving large models fast.\n\nNot training.",
    threshold=70,
    tags={"serving": "inference serving"},
)
HOSTILE_TITLES = [
    "Evil ](javascript:alert(1)) link",
    "<script>alert(1)</script> in a title",
    "Pipes | in | tables",
    "Back`ticks` and ``double``",
    "Faster sorting in $O(n^2)$ time",
    "大型语言模型的高效推理",
    "# Not a heading ###",
    "1. Not a list",
    "> not a quote",
    "<!-- comment --> and <img src=x onerror=alert(1)>",
    "see https://evil.example and www.evil.example",
]


def paper(arxiv_id: str = "2602.00001", **kw: object) -> ListedPaper:
    """A judged new paper, overridable."""
    base: dict[str, object] = {
        "arxiv_id": arxiv_id,
        "title": f"Title {arxiv_id}",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "abstract": "We study things. " * 5,
        "date": DAY,
        "announce_type": "new",
        "scorer": "llm",
        "status": "ok",
        "relevance": 80,
        "hype": 40,
        "tags": ["serving"],
        "tldr": "A short summary.",
        "reason": "It is about serving.",
    }
    base.update(kw)
    return listed(**base)


def render(papers: list[ListedPaper], **kw: object) -> str:
    """Render the test profile's digest for DAY."""
    opts: dict[str, object] = {"total_scanned": 10, "scorer": "llm"}
    opts.update(kw)
    return render_digest(PROFILE, DAY, papers, **opts)  # type: ignore[arg-type]


def walk(tokens: list) -> list:
    """Every token, inline children included."""
    out = []
    for t in tokens:
        out.append(t)
        out.extend(t.children or [])
    return out


INERT = {"text", "em_open", "em_close", "strong_open", "strong_close", "code_inline"}


def heading_texts(md: str, level: str) -> list[str]:
    """The plain text of each heading of ``level`` (e.g. "h3"), failing on any markup in it."""
    tokens = MD.parse(md)
    texts = []
    for i, t in enumerate(tokens):
        if t.type == "heading_open" and t.tag == level:
            children = tokens[i + 1].children
            # TeX styles (\emph, \textbf, \texttt) are the only markup a title may carry
            assert {c.type for c in children} <= INERT, [c.type for c in children]
            texts.append("".join(c.content for c in children))
    return texts


DETAILS = r"</details>|<details>\n<summary>(Tag legend|Just missed: [^<>]*)</summary>"


def check_structure(md: str, titles: list[str], failed: int) -> None:
    """The digest's block structure is exactly what the papers call for, whatever the text."""
    tokens = MD.parse(md)
    every = walk(tokens)
    kinds = [t.type for t in every]
    html = [t.content.strip() for t in every if t.type == "html_block"]
    # only the collapsed sections: "Just missed" and the tag legend
    assert all(re.fullmatch(DETAILS, h) for h in html), html
    found = re.search(r"<summary>Just missed: (\d+) paper", md)
    missed = int(found.group(1)) if found else 0
    assert "html_inline" not in kinds
    assert "image" not in kinds
    assert "table_open" not in kinds
    assert "fence" not in kinds
    assert "code_block" not in kinds
    for t in every:
        if t.type == "link_open":
            assert re.fullmatch(r"https://arxiv\.org/(abs|pdf)/[\w./-]+", t.attrs["href"])
    assert len(heading_texts(md, "h1")) == 1
    assert heading_texts(md, "h3") == [tex_plain(t) or "(untitled)" for t in titles]
    assert len(heading_texts(md, "h2")) == (1 if failed else 0)
    assert kinds.count("hr") == len(titles) + (1 if failed else 0) + (1 if missed else 0)
    lists = (1 if failed else 0) + (1 if missed else 0)
    assert sum(1 for t in tokens if t.type == "bullet_list_open") == lists
    assert sum(1 for t in tokens if t.type == "list_item_open") == failed + missed
    # GFM autolinks (not modelled by markdown-it): no bare scheme or www. outside our links.
    bare = re.sub(r"\]\(https://arxiv\.org/[^)]*\)", "]()", md)
    assert not re.search(r"(?<!\\)://", bare)
    assert not re.search(r"(?i)www(?!\\\.)\.", bare)


def test_counts_line_exact() -> None:
    """The counts line has exactly the documented form."""
    md = render([paper("2602.00001"), paper("2602.00002", relevance=10)], total_scanned=7)
    assert (
        "**1** of **7** papers listed (relevance ≥ 70/100), scanned in all categories."
        in md.splitlines()
    )


def test_distinct_papers_counted_once() -> None:
    """A paper given twice (new and cross) is counted and shown once."""
    md = render([paper("2602.00001", announce_type="cross"), paper("2602.00001")])
    assert "**1** of **" in md
    assert md.count("### Title 2602.00001") == 1


def test_order_relevance_hype_id() -> None:
    """Relevance desc, then hype desc with None last, then arxiv_id asc."""
    papers = [
        paper("2602.00005", relevance=80, hype=None),
        paper("2602.00004", relevance=80, hype=10),
        paper("2602.00003", relevance=90, hype=0),
        paper("2602.00002", relevance=80, hype=10),
        paper("2602.00001", relevance=80, hype=50),
    ]
    listed, _ = select_listed(papers, 70)
    assert [p.arxiv_id for p in listed] == [
        "2602.00003",
        "2602.00001",
        "2602.00002",
        "2602.00004",
        "2602.00005",
    ]
    assert heading_texts(render(papers), "h3") == [f"Title {p.arxiv_id}" for p in listed]


def test_entry_lines() -> None:
    """An entry carries scores, reason, authors, date, links, the TL;DR and a quoted excerpt."""
    p = paper(
        authors=["A One", "B Two", "C Three", "D Four"],
        abstract="word " * 100,
        reason="Matches *serving*.",
        tldr="It serves <LLMs> fast.",
    )
    md = render([p])
    lines = md.splitlines()
    assert "### Title 2602.00001" in lines
    assert "**Relevance: 80/100 | Hype: 40/100** — Matches \\*serving\\*." in lines
    assert "Authors: A One, B Two, C Three et al.\\" in lines
    assert (
        "Announced 2026-02-24 · [abstract](https://arxiv.org/abs/2602.00001)"
        " · [PDF](https://arxiv.org/pdf/2602.00001)"
    ) in lines
    assert "**TL;DR**: It serves \\<LLMs\\> fast." in lines
    quote = next(line for line in lines if line.startswith("> word"))
    assert quote.endswith("word…")
    assert len(quote) <= len("> ") + 201
    check_structure(md, [p.title], 0)


def test_hype_dash_when_missing() -> None:
    """A judgement without hype shows an en dash."""
    assert "**Relevance: 80/100** — It is about serving." in render([paper(hype=None)])


def test_excerpt_cuts_at_word() -> None:
    """Excerpts cut at a word boundary, add an ellipsis, and leave short text alone."""
    text = "alpha beta gamma delta " * 20
    cut = excerpt(text, 50)
    assert cut.endswith("…")
    assert len(cut) <= 51
    assert text.startswith(cut[:-1])
    assert cut[:-1].split()[-1] in {"alpha", "beta", "gamma", "delta"}
    assert excerpt("short text", 50) == "short text"
    cjk = "大型语言模型" * 50
    assert excerpt(cjk, 20) == cjk[:20] + "…"


@pytest.mark.parametrize(
    ("kw", "listed"),
    [
        ({"announce_type": "new"}, True),
        ({"announce_type": "cross"}, True),
        ({"announce_type": "new", "relevance": 70}, True),
        ({"announce_type": "new", "relevance": 69}, False),
        ({"announce_type": "new", "status": "failed", "relevance": None}, False),
        ({"announce_type": "replace"}, False),
        ({"announce_type": "replace", "updated_version": 2}, True),
        ({"announce_type": "replace-cross", "updated_version": 2, "previous_relevance": 40}, True),
        ({"announce_type": "replace", "updated_version": 2, "previous_relevance": 75}, False),
        ({"announce_type": "replace", "updated_version": 2, "relevance": 50}, False),
    ],
)
def test_listing_rule(kw: dict[str, object], listed: bool) -> None:
    """New and cross papers at the threshold; replacements only when changed and newly there."""
    assert is_listed(paper(**kw), 70) is listed


def test_updated_replacement_marked() -> None:
    """A listed replacement says which version it is."""
    md = render([paper(announce_type="replace", updated_version=3, previous_relevance=20)])
    assert "Announced 2026-02-24 · updated v3 · [abstract]" in md


def test_failed_section_at_end() -> None:
    """Failed and unscored papers are listed under their own heading at the end."""
    papers = [
        paper("2602.00001"),
        paper("2602.00002", status="failed", relevance=None, error="HTTP 500 <b>boom</b>\nagain"),
        paper("2602.00003", status=None, relevance=None),
        paper("2602.00004", status=None, relevance=None, announce_type="replace"),
    ]
    md = render(papers)
    tail = md.split("## Not scored (2)", 1)[1]
    assert "### " not in tail
    assert "scoring failed: HTTP 500 \\<b\\>boom\\</b\\> again" in tail
    assert "2602.00003" in tail
    assert "not scored yet" in tail
    assert "2602.00004" not in md  # unchanged replacement: nothing to judge
    assert "2 papers were not scored" in md
    check_structure(md, ["Title 2602.00001"], 2)


def test_local_scorer_header() -> None:
    """A digest scored locally says so in its header."""
    md = render([paper(scorer="local", hype=None)], scorer="local")
    header = md.split("---", 1)[0]
    assert "local scorer" in header
    assert "local scorer" not in render([paper()])


def test_zero_listed_is_valid() -> None:
    """A day with nothing listed still renders a header and the counts line."""
    md = render([paper(relevance=5)], total_scanned=1)
    assert "**0** of **1** paper listed (relevance ≥ 70/100), scanned in all categories." in md
    check_structure(md, [], 0)
    md = render([], total_scanned=0)
    assert "**0** of **0** papers listed (relevance ≥ 70/100), scanned in all categories." in md


def test_hostile_titles_inert() -> None:
    """Hostile titles render as plain heading text, never as links, HTML or other blocks."""
    papers = [
        paper(f"2602.{i:05d}", title=t, abstract=t, reason=t, authors=[t])
        for i, t in enumerate(HOSTILE_TITLES)
    ]
    md = render(papers)
    listed, _ = select_listed(papers, 70)
    check_structure(md, [p.title for p in listed], 0)
    assert "$O(n^2)$" in md
    assert "大型语言模型的高效推理" in md
    assert "<script>" not in md.replace("\\<script\\>", "")


def test_byte_identical_whatever_the_input_order() -> None:
    """Rendering the same papers in any order gives the same bytes."""
    papers = [paper(f"2602.{i:05d}", relevance=60 + i, hype=i % 3 or None) for i in range(12)]
    first = render(papers)
    shuffled = papers[:]
    random.Random(7).shuffle(shuffled)
    assert render(shuffled) == first
    assert render(list(reversed(papers))).encode() == first.encode()


def test_digest_path() -> None:
    """Digests live under <profile>/<YYYY>/<date>.md."""
    assert digest_path(Path("digests"), "p", DAY) == Path("digests/p/2026/2026-02-24.md")


def test_real_day(samples: Path) -> None:
    """A real day's papers render with one heading per listed paper and no title twice."""
    path = (
        samples / "E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced/raw_days/2025-12-15.jsonl"
    )
    seen: dict[str, ListedPaper] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        rec = json.loads(line)
        seen.setdefault(
            rec["id"],
            paper(
                rec["id"],
                title=normalise(rec["title"]),
                abstract=normalise(rec["summary"]),
                authors=rec["authors"],
                date=dt.date(2025, 12, 15),
                relevance=(i * 37) % 101,
                hype=(i * 11) % 101 if i % 5 else None,
            ),
        )
    papers = list(seen.values())
    md = render_digest(
        PROFILE, dt.date(2025, 12, 15), papers, total_scanned=len(papers), scorer="llm"
    )
    listed, _ = select_listed(papers, PROFILE.threshold)
    assert listed
    check_structure(md, [p.title for p in listed], 0)
    headings = heading_texts(md, "h3")
    assert len(headings) == len(set(headings)) == len(listed)
    assert f"**{len(listed)}** of **{len(papers)}** paper" in md


TEXT = st.lists(
    st.one_of(st.text(), st.sampled_from(HOSTILE_TITLES), st.sampled_from(["\n", "$", "`", "|"])),
    max_size=5,
).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(TEXT, TEXT, st.integers(0, 100), st.sampled_from(["ok", "failed", None])),
        max_size=6,
    ),
    TEXT,
)
def test_property_structure_holds(rows: list[tuple[str, str, int, str | None]], desc: str) -> None:
    """For any titles, abstracts and reasons, headings, rules, lists and links match the papers."""
    papers = [
        paper(
            f"2602.{i:05d}",
            title=title,
            abstract=abstract,
            reason=abstract,
            error=title,
            relevance=rel if status == "ok" else None,
            status=status,
            authors=[title, abstract],
        )
        for i, (title, abstract, rel, status) in enumerate(rows)
    ]
    profile = Profile(name="p", description=desc, threshold=50, tags={})
    md = render_digest(profile, DAY, papers, total_scanned=len(papers), scorer="llm")
    listed, failed = select_listed(papers, 50)
    check_structure(md, [p.title for p in listed], len(failed))
    assert md == render_digest(profile, DAY, papers, total_scanned=len(papers), scorer="llm")


def test_like_hint_and_feedback_link() -> None:
    """A digest that lists papers ends with the exact like command; ``[report]
    feedback_url`` adds a link per listed paper with its id and profile filled in."""
    md = render([paper("2602.00001"), paper("2602.00002", relevance=90)])
    assert md.rstrip().endswith("lists them).")
    assert f"`arxivfilter like 2602.00002 --profile {PROFILE.name}`" in md
    assert "[like](" not in md
    url = "https://github.com/o/r/issues/new?template=like.yml&title=like+{id}+{profile}"
    md = render([paper("2602.00001")], feedback_url=url)
    assert (
        f"[like](https://github.com/o/r/issues/new?template=like.yml&title=like+2602.00001+{PROFILE.name})"
        in md
    )
    assert "arxivfilter like" not in render([paper(relevance=5)], total_scanned=1)
