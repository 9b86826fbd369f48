"""Strict feed parsing (fetch/feed.py): the faults feedparser hides become FeedError."""

from __future__ import annotations

import io
from pathlib import Path

import feedparser
import pytest
from structlog.testing import capture_logs

from arxivfilter.errors import FeedError, UpstreamError
from arxivfilter.fetch import feedparse as feed_module
from arxivfilter.fetch.feedparse import decode_utf8, parse_feed, sniff_kind

URL = "https://rss.arxiv.org/rss/cs.DC+cs.OS+cs.LG"
RSS = Path("B_rss_feeds/aioarxiv_rss_2024-11-28")
API = Path("A_api_atom/arxiv.py_golden_2026")


def _raw_feedparser(body: bytes) -> feedparser.FeedParserDict:
    return feedparser.parse(io.BytesIO(body), sanitize_html=False)


def test_blank_body_is_an_error_naming_the_url(fixtures: Path) -> None:
    """A blank body raises FeedError naming the URL, with ``url`` set."""
    with pytest.raises(FeedError, match="blank body") as caught:
        parse_feed((fixtures / "feeds" / "blank_body.xml").read_bytes(), URL)
    assert URL in str(caught.value)
    assert caught.value.url == URL
    assert isinstance(caught.value, UpstreamError)
    assert caught.value.exit_code == 3


def test_empty_bytes_are_an_error() -> None:
    """Zero bytes are as blank as whitespace."""
    with pytest.raises(FeedError, match="blank"):
        parse_feed(b"", URL)


def test_html_page_served_with_200_is_an_error(fixtures: Path) -> None:
    """An HTML error page is a FeedError, where feedparser alone reports zero entries, no bozo."""
    body = (fixtures / "feeds" / "html_error_page.html").read_bytes()
    raw = _raw_feedparser(body)
    assert raw.entries == []
    assert not raw.bozo
    with pytest.raises(FeedError, match="HTML page") as caught:
        parse_feed(body, URL)
    assert caught.value.url == URL


def test_xhtml_page_after_xml_declaration_is_html() -> None:
    """An XHTML page behind an XML declaration is still an HTML page."""
    body = b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>'
    with pytest.raises(FeedError, match="HTML page"):
        parse_feed(body, URL)


def test_truncated_feed_is_an_error(fixtures: Path) -> None:
    """A truncated feed is a FeedError, where feedparser alone returns its first items."""
    body = (fixtures / "feeds" / "rss_truncated.xml").read_bytes()
    raw = _raw_feedparser(body)
    assert len(raw.entries) >= 2
    assert raw.bozo
    with pytest.raises(FeedError, match="malformed feed") as caught:
        parse_feed(body, URL)
    assert URL in str(caught.value)


def test_truncated_real_feed_is_an_error(samples: Path) -> None:
    """The real cs feed (722 items) cut in half is an error, not 361 papers."""
    body = (samples / RSS / "rss_mock_feed.cs_only.xml").read_bytes()
    with pytest.raises(FeedError, match="SAXParseException"):
        parse_feed(body[: len(body) // 2], URL)


def test_xml_that_is_no_feed_is_an_error() -> None:
    """Well-formed XML with no feed version is an error."""
    with pytest.raises(FeedError, match="not an RSS or Atom feed"):
        parse_feed(b'<?xml version="1.0"?><note><to>x</to></note>', URL)


def test_json_body_is_not_xml() -> None:
    """A JSON body where a feed was expected is an error."""
    with pytest.raises(FeedError, match="not XML"):
        parse_feed(b'{"error": "rate limited"}', URL)


def test_one_invalid_byte_is_replaced_and_logged(fixtures: Path) -> None:
    """One bad byte becomes U+FFFD with a warning; the rest of the feed stays UTF-8."""
    body = (fixtures / "feeds" / "rss_invalid_byte.xml").read_bytes()
    raw = _raw_feedparser(body)
    # what feedparser alone does: re-decode the whole feed as windows-1252
    assert isinstance(raw.bozo_exception, feedparser.CharacterEncodingOverride)
    with capture_logs() as logs:
        parsed = parse_feed(body, URL)
    assert not parsed.bozo
    titles = [e.title for e in parsed.entries]
    assert "A Kernel Sch\ufffdduler for Accelerators" in titles
    assert "王芳" in parsed.entries[0].author  # real UTF-8 intact, not mojibake
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert warnings == [
        {"event": "invalid UTF-8 replaced", "url": URL, "bytes": 1, "log_level": "warning"}
    ]


def test_decode_counts_every_invalid_byte() -> None:
    """Each invalid byte is counted; a run of them becomes one replacement character."""
    with capture_logs() as logs:
        text = decode_utf8(b"<a>\xff\xfeb \xe9</a>", URL)
    assert text == "<a>\ufffdb \ufffd</a>"
    assert logs[0]["bytes"] == 3


def test_valid_utf8_logs_nothing_and_drops_bom() -> None:
    """Valid UTF-8 decodes silently and a byte-order mark is dropped."""
    with capture_logs() as logs:
        assert decode_utf8("\ufeff<a>José</a>".encode(), URL) == "<a>José</a>"
    assert logs == []


def test_declared_windows_1252_is_still_read_as_utf8() -> None:
    """The body is UTF-8 whatever its XML declaration says."""
    body = (
        "<?xml version='1.0' encoding='windows-1252'?>"
        "<rss version='2.0'><channel><title>t</title><item><title>José</title></item>"
        "</channel></rss>"
    ).encode()
    parsed = parse_feed(body, URL)
    assert parsed.entries[0].title == "José"


def test_encoding_override_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CharacterEncodingOverride from feedparser is an error, never a silent re-decode."""
    fake = feedparser.FeedParserDict(
        bozo=1,
        bozo_exception=feedparser.CharacterEncodingOverride(
            "document declared as utf-8, but parsed as windows-1252"
        ),
        version="rss20",
        entries=[],
        feed=feedparser.FeedParserDict(),
    )
    monkeypatch.setattr(feed_module.feedparser, "parse", lambda *a, **k: fake)
    with pytest.raises(FeedError, match="CharacterEncodingOverride"):
        parse_feed(b"<rss version='2.0'><channel/></rss>", URL)


def test_html_in_text_is_kept_not_sanitised() -> None:
    """Parsing does not sanitise: markup-like text survives verbatim (escaping is at output)."""
    body = (
        b"<rss version='2.0'><channel><title>t</title><item><title>x &lt; y</title>"
        b"<description>a &lt;i&gt;b&lt;/i&gt; &lt;script&gt;c&lt;/script&gt; "
        b"&lt;a href='/rel'&gt;d&lt;/a&gt;</description></item></channel></rss>"
    )
    entry = parse_feed(body, URL).entries[0]
    assert entry.title == "x < y"
    assert entry.summary == "a <i>b</i> <script>c</script> <a href='/rel'>d</a>"


def test_real_feeds_parse_clean(samples: Path) -> None:
    """The real RSS feed and API pages parse with no bozo flag."""
    rss = parse_feed((samples / RSS / "rss_mock_feed.cs_only.xml").read_bytes(), URL)
    assert rss.version == "rss20"
    assert len(rss.entries) == 722
    api = parse_feed(
        (samples / API / "xml_body/q_testing_s0_m100_cfe7536492ca.xml").read_bytes(), URL
    )
    assert api.version == "atom10"
    assert len(api.entries) == 100


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("rss_replace_cross.xml", "rss"),
        ("rss_truncated.xml", "rss"),
        ("atom_rss.xml", "atom-rss"),
        ("archive_rss.json", "archive"),
        ("archive_html_200.json", "archive"),
        ("export.jsonl", "export"),
        ("html_error_page.html", "html"),
        ("blank_body.xml", None),
    ],
)
def test_sniff_kind_of_fixtures(fixtures: Path, name: str, kind: str | None) -> None:
    """Each fixture is recognised by its content."""
    assert sniff_kind((fixtures / "feeds" / name).read_bytes()) == kind


@pytest.mark.parametrize(
    ("relpath", "kind"),
    [
        ("B_rss_feeds/aioarxiv_rss_2024-11-28/rss_mock_feed.xml", "rss"),
        ("B_rss_feeds/aioarxiv_rss_2024-11-28/error_rss_mock_feed.xml", "rss"),
        ("A_api_atom/arxiv.py_golden_2026/xml_body/q_testing_s0_m10_bc5a6c384fe9.xml", "api"),
        ("A_api_atom/arxiv.py_golden_2026/xml_body/id_abc_s0_m100_b79c8dcf6bc3.xml", "api"),
        (
            "A_api_atom/arxiv.py_golden_2026/recorded_json/id_abc_s0_m100_b79c8dcf6bc3.json",
            "archive",
        ),
        ("A_api_atom/arxiv.py_legacy_2016/search_au_del_maestro.xml", "api"),
        ("C_oai_pmh/arxiv-oai-harvester_arXivRaw_2016/GetRecord.xml", "oai"),
        (
            "E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced/raw_days/2025-12-16.jsonl",
            "jsonl",
        ),
        ("E_paper_metadata/LHaiC__daily-arXiv-ai-enhanced/systems_subset/2025-07.jsonl", "jsonl"),
        ("E_paper_metadata/LHaiC__daily-arXiv-ai-enhanced/systems_subset/index.tsv", None),
        ("README.md", None),
    ],
)
def test_sniff_kind_of_samples(samples: Path, relpath: str, kind: str | None) -> None:
    """Real recorded files are recognised by content, not by extension."""
    assert sniff_kind((samples / relpath).read_bytes()) == kind
