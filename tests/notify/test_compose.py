"""Rendering and selection, pure: keywords, minimum relevance, one paper once, links,
unsubscribe header, escaping and the paper cap."""

from __future__ import annotations

import datetime as dt

from arxivfilter.config import load_profiles
from arxivfilter.models import ListedPaper
from arxivfilter.notify.compose import MailContext, build_message, permalink, render_html
from arxivfilter.notify.select import Recipient, Selection, choose, matches_keywords
from tests.listed import listed

D = dt.date(2026, 2, 24)


def paper(pid: str, rel: int, title: str = "KV-cache paging", **kw: object) -> ListedPaper:
    return listed(
        arxiv_id=pid, title=title, date=D, status="ok", relevance=rel, tags=["serving"],
        abstract="An abstract.", authors=[f"Author {i}" for i in range(9)], **kw,
    )  # fmt: skip


def test_keywords_match_whole_words_ignoring_case_and_punctuation() -> None:
    p = paper("2602.00001", 90, title="Paged KV-Cache for vLLM")
    assert matches_keywords(p, ["kv cache"])
    assert matches_keywords(p, ["VLLM"])
    assert not matches_keywords(p, ["cache for v"])  # "v" is not a whole word here
    assert matches_keywords(p, ["serving"])  # tags count
    assert not matches_keywords(p, ["quantum"])
    assert matches_keywords(p, [])


def test_min_relevance_replaces_the_threshold_and_a_paper_comes_once() -> None:
    inf, sys_ = load_profiles(["llm-inference", "llm-systems"])
    day = [paper("2602.00001", 95), paper("2602.00002", 60), paper("2602.00003", 80)]
    rec = Recipient("a@x.org", "email", ("llm-inference", "llm-systems"), min_relevance=55)
    sections = choose([(inf, day), (sys_, day)], rec)
    assert [p.arxiv_id for p in sections[0].papers] == ["2602.00001", "2602.00003", "2602.00002"]
    assert sections[1].papers == []
    strict = choose([(inf, day)], Recipient("a@x.org", "email", (), min_relevance=90))
    assert [p.arxiv_id for p in strict[0].papers] == ["2602.00001"]
    default = choose([(inf, day)], Recipient("a@x.org", "email", ()))
    assert [p.arxiv_id for p in default[0].papers] == ["2602.00001", "2602.00003"]


def selection(n: int) -> Selection:
    from arxivfilter.notify.select import Section

    (inf,) = load_profiles(["llm-inference"])
    return Selection(D, [Section(inf, [paper(f"2602.{i:05d}", 99 - i) for i in range(n)])])


def test_site_permalinks_unsubscribe_and_cap() -> None:
    ctx = MailContext(
        sender="Digest <d@example.org>",
        recipient="a+b@x.org",
        site_url="https://me.github.io/arxiv/",
        unsubscribe="https://me.example/unsub?who={address}",
        max_papers=3,
    )
    msg = build_message(
        selection(5), ctx, message_id="<m@example.org>", now=dt.datetime(2026, 2, 24, tzinfo=dt.UTC)
    )
    assert msg["List-Unsubscribe"] == "<https://me.example/unsub?who=a%2Bb@x.org>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Subject"] == "arXiv 2026-02-24: 5 papers (llm-inference)"
    text = msg.get_body(("plain",)).get_content()
    assert "on the site: https://me.github.io/arxiv/llm-inference/#2602.00000" in text
    assert "... and 2 more: https://me.github.io/arxiv/" in text
    assert "2602.00003" not in text
    assert "and 3 more" in text  # nine authors shown as six and three more
    assert permalink("https://s.example", "llm-inference", "cs/0112017") == (
        "https://s.example/llm-inference/#cs/0112017"
    )


def test_attribute_and_bidi_escaping() -> None:
    (inf,) = load_profiles(["llm-inference"])
    from arxivfilter.notify.select import Section

    hostile = paper("2602.00001", 99, title='x" onmouseover="alert(1)\u202e', tldr="<b>bold</b>")
    sel = Selection(D, [Section(inf, [hostile])])
    html = render_html(sel, MailContext(sender="d@example.org", recipient="a@x.org"))
    tags = parse(html)
    assert not [a for _t, attrs, _x in tags for a, _v in attrs if a.startswith("on")]
    assert {t for t, _a, _x in tags} <= SAFE_TAGS
    titles = [x for t, attrs, x in tags if t == "a" and ("class", "title") in attrs]
    assert titles == ['x" onmouseover="alert(1)']  # shown as typed, the bidi override gone
    assert "\u202e" not in html and "<b>" not in html


SAFE_TAGS = {"html", "head", "meta", "title", "body", "div", "h1", "h2", "p", "a", "span"}


def parse(html: str) -> list[tuple[str, list[tuple[str, str | None]], str]]:
    """(tag, attributes, text right after the start tag) of every element."""
    from html.parser import HTMLParser

    found: list[tuple[str, list[tuple[str, str | None]], str]] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, [(k, v) for k, v in attrs if k != "style"], ""))

        def handle_data(self, data):
            if found and not found[-1][2]:
                t, a, _ = found[-1]
                found[-1] = (t, a, data)

    P().feed(html)
    return found


def test_text_mode_tex_is_rendered_in_both_parts_as_in_the_feed() -> None:
    (inf,) = load_profiles(["llm-inference"])
    from arxivfilter.notify.select import Section

    p = paper(
        "2602.00001",
        99,
        title=r"\emph{Fast} ``paged'' attention -- at $O(n)$ \cite{x}",
        tldr=r"We cut latency by 30\% with \textbf{paging} <b>.",
    )
    msg = build_message(
        Selection(D, [Section(inf, [p])]),
        MailContext(sender="d@example.org", recipient="a@x.org"),
        message_id="<m@example.org>",
        now=dt.datetime(2026, 2, 24, tzinfo=dt.UTC),
    )
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "1. Fast “paged” attention – at $O(n)$" in text
    assert "TL;DR: We cut latency by 30% with paging <b>." in text
    assert "\\emph" not in html and "\\textbf" not in html and "``" not in html
    assert "Fast “paged” attention – at $O(n)$" in html
    assert "30% with paging &lt;b&gt;." in html
