"""Escaping untrusted text for Markdown, URLs and XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from arxivfilter.report.escape import (
    code_span,
    collapse,
    escape_md,
    escape_quote,
    safe_url,
    xml_text,
)

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])

HOSTILE = [
    "](javascript:alert(1))",
    "[click](javascript:alert(1))",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<!-- arxivfilter:end 2026-02-24 -->",
    "a | b | c",
    "`code` and ``more``",
    "$O(n^2)$",
    "$\\{x\\}_{i}^*$",
    "$a<b>c$",
    "$5 and $10",
    "大型语言模型的高效推理",
    "https://evil.example/x",
    "www.evil.example",
    "<https://evil.example>",
    "# heading",
    "1. item",
    "- item",
    "> quote",
    "***",
    "&amp; &lt;",
    "![img](x.png)",
    "~~gone~~",
    "trailing backslash \\",
    "line\nbreak\r\nand\u2028sep",
    "[ref]: https://evil.example",
    "==",
]

hostile_text = st.lists(st.one_of(st.text(), st.sampled_from(HOSTILE)), max_size=6).map("".join)


def _inline(text: str) -> list:
    """The inline children of a one-paragraph document."""
    tokens = MD.parse(text)
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"]
    return tokens[1].children


def _plain(children: list) -> str:
    """Text of inline tokens, failing on anything but text."""
    assert {c.type for c in children} <= {"text"}, [c.type for c in children]
    return "".join(c.content for c in children)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_render_as_their_own_text(text: str) -> None:
    """Each hostile string becomes a single paragraph of plain text that reads back as typed."""
    out = escape_md(text)
    assert "\n" not in out
    assert _plain(_inline("x " + out)) == "x " + collapse(text)


def test_link_injection_is_inert() -> None:
    """A markdown link with a javascript: target renders as text, not as a link."""
    html = MD.render(escape_md("[click](javascript:alert(1))"))
    assert "<a" not in html
    assert "href" not in html


def test_raw_html_is_escaped() -> None:
    """Raw HTML tags come out as entities in rendered HTML."""
    html = MD.render(escape_md("<script>alert(1)</script>"))
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_math_span_kept_readable() -> None:
    """A simple $...$ span keeps its dollars and parentheses verbatim."""
    assert escape_md("Sorting in $O(n^2)$ time") == "Sorting in $O(n^2)$ time"


def test_math_span_escapes_structure_inside() -> None:
    """Inside math, characters that could form HTML, links or emphasis are escaped."""
    out = escape_md("$a<b>c_[i]$")
    assert out == "$a\\<b\\>c\\_\\[i\\]$"
    assert _plain(_inline(out)) == "$a<b>c_[i]$"


def test_math_backslash_before_punctuation_doubled() -> None:
    """TeX escapes like \\{ survive Markdown's own backslash escapes."""
    out = escape_md("$\\{x\\}$ and $\\alpha$")
    assert out == "$\\\\{x\\\\}$ and $\\alpha$"
    assert _plain(_inline(out)) == "$\\{x\\}$ and $\\alpha$"


def test_currency_is_not_math() -> None:
    """Dollar amounts (space before the closing $ or a digit after it) are escaped."""
    assert escape_md("$5 and $10") == "\\$5 and \\$10"
    assert escape_md("costs $5-$10") == "costs \\$5-\\$10"


def test_cjk_untouched() -> None:
    """CJK text passes through unchanged."""
    assert escape_md("大型语言模型：高效推理") == "大型语言模型：高效推理"


def test_autolinks_broken() -> None:
    """GFM extended autolink triggers (://, www.) are escaped."""
    out = escape_md("see https://evil.example and www.evil.example")
    assert "://" not in out.replace("\\://", "")
    assert "www\\." in out


def test_line_starts_escaped() -> None:
    """Text that would start a list, heading, quote or setext line is escaped at its start."""
    assert escape_md("- a") == "\\- a"
    assert escape_md("+ a") == "\\+ a"
    assert escape_md("= a") == "\\= a"
    assert escape_md("12. a") == "12\\. a"
    assert escape_md("# a").startswith("\\#")
    assert escape_md("> a").startswith("\\>")


def test_newlines_and_controls_collapsed() -> None:
    """Line breaks of any kind collapse to spaces; control characters vanish."""
    assert escape_md("a\nb\r\nc\u2028d\u0085e\x00f\x1bg") == "a b c d efg"
    assert escape_md(None) == ""


def test_bidi_controls_removed() -> None:
    """Bidi overrides, isolates and marks (and the BOM) vanish from Markdown and XML text, so
    an unbalanced U+202E in a title cannot reverse the score or link after it."""
    hostile = "RTL \u202eevil\u2066x\u2069 \u200fy\ufeff (95/100)"
    assert escape_md(hostile) == "RTL evilx y (95/100)"
    assert xml_text(hostile) == "RTL evilx y (95/100)"


def test_escape_quote_paragraphs() -> None:
    """Paragraphs become quote lines joined by an empty quote line."""
    assert escape_quote("one\ntwo\n\n> three") == "> one two\n>\n> \\> three"
    assert escape_quote("") == ""


def test_code_span_fences_backticks() -> None:
    """A code span's fence is longer than any backtick run inside."""
    assert code_span("serving") == "`serving`"
    assert code_span("a`b") == "``a`b``"
    assert code_span("`x") == "`` `x ``"
    children = _inline(code_span("a``b`"))
    assert [c.type for c in children] == ["code_inline"]
    assert children[0].content == "a``b`"


def test_safe_url() -> None:
    """Links are built only from valid arXiv ids."""
    assert safe_url("2401.00001") == "https://arxiv.org/abs/2401.00001"
    assert safe_url("2401.00001v2", "pdf") == "https://arxiv.org/pdf/2401.00001v2"
    assert safe_url("hep-th/9901001") == "https://arxiv.org/abs/hep-th/9901001"
    for bad in ("javascript:alert(1)", "2401.00001) [x](y", "../etc/passwd", ""):
        with pytest.raises(ValueError, match="not an arXiv id"):
            safe_url(bad)
    with pytest.raises(ValueError, match="unknown arXiv link kind"):
        safe_url("2401.00001", "html")


def test_xml_helpers() -> None:
    """XML text drops the characters XML forbids."""
    assert xml_text("a\x00b\x0bc\ufffed") == "abcd"


@settings(max_examples=300, deadline=None)
@given(hostile_text)
def test_property_escape_md_round_trips(text: str) -> None:
    """For any text: one line, and a CommonMark parser reads back exactly the collapsed text."""
    out = escape_md(text)
    assert "\n" not in out
    assert "\r" not in out
    if not out:
        return
    assert _plain(_inline("x " + out)) == "x " + collapse(text)
    assert _plain(_inline(out)) == collapse(text)  # also when it starts a line
    assert not re.search(r"(?<!\\)://", out)


@settings(max_examples=200, deadline=None)
@given(hostile_text)
def test_property_xml_text_parses(text: str) -> None:
    """For any text, xml_text survives an XML round trip unchanged."""
    el = ET.Element("t")
    el.text = xml_text(text)
    back = ET.fromstring(ET.tostring(el, "unicode")).text or ""
    assert back == xml_text(text)


@given(st.text(alphabet=st.sampled_from("ab \\`*_[]#|<>~&$!(){}é\u202e"), max_size=40))
@settings(max_examples=400)
def test_escape_chars_fast_path_equals_the_character_loop(text: str) -> None:
    """The translate pass gives what the character loop (the only path before it) gives."""
    from arxivfilter.report.escape import (
        _MATH_SPECIAL,
        _MD_SPECIAL,
        _escape_chars,
        _escape_chars_loop,
    )

    for special, math in ((_MD_SPECIAL, False), (_MATH_SPECIAL, True), (_MATH_SPECIAL, False)):
        assert _escape_chars(text, special, math=math) == _escape_chars_loop(
            text, special, math=math
        )
