"""Export-API Atom parsing (fetch/api.py) on the real 2026 goldens and legacy 2016 pages."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from arxivfilter.errors import FeedError
from arxivfilter.fetch.api import ApiPage, id_list_url, parse_api, query_url

GOLDEN = Path("A_api_atom/arxiv.py_golden_2026/recorded_json")
LEGACY = Path("A_api_atom/arxiv.py_legacy_2016")
BASE = "https://export.arxiv.org/api/query"

pytestmark = pytest.mark.samples


def _golden(samples: Path, prefix: str) -> ApiPage:
    (path,) = sorted((samples / GOLDEN).glob(f"{prefix}_*.json"))
    record = json.loads(path.read_text(encoding="utf-8"))
    return parse_api(record["body"].encode("utf-8"), record["url"])


@pytest.fixture(scope="module")
def testing_pages(samples: Path) -> list[ApiPage]:
    """The 11 q_testing pages, parsed once for the module."""
    pages = []
    for path in sorted((samples / GOLDEN).glob("q_testing_*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["status_code"] == 200
        pages.append(parse_api(record["body"].encode("utf-8"), record["url"]))
    return pages


def test_testing_pages_count_and_fields(testing_pages: list[ApiPage]) -> None:
    """The 11 q_testing pages hold 215 entries (100 distinct), each complete."""
    pages = testing_pages
    entries = [e for p in pages for e in p.entries]
    assert len(pages) == 11
    assert len(entries) == 215
    assert len({e.arxiv_id for e in entries}) == 100
    for e in entries:
        assert e.source == "api"
        assert e.announce_date is None
        assert e.version
        assert e.title
        assert e.abstract
        assert e.authors
        assert e.categories
        assert e.primary_category == e.categories[0]
        assert e.published is not None
        assert e.published.tzinfo is not None
        assert e.updated is not None
        assert e.updated >= e.published
    assert sum(1 for e in entries if e.comment) == 212
    assert sum(1 for e in entries if e.doi) == 60
    assert sum(1 for e in entries if e.journal_ref) == 33
    assert sum(1 for e in entries if (e.version or 0) > 1) == 70


def test_total_and_start(samples: Path) -> None:
    """opensearch totalResults and startIndex are read from the page."""
    page = _golden(samples, "q_testing_s10_m10")
    assert (page.total, page.start, len(page.entries)) == (214881, 10, 10)


def test_mojibake_repaired_in_names(samples: Path, testing_pages: list[ApiPage]) -> None:
    """Double-encoded UTF-8 in author names (WÃ¼bben, LÃ¤mmerzahl) is repaired."""
    entry = _golden(samples, "id_1707.08567").entries[0]
    assert "Dirk Wübben" in entry.authors
    names = {a for p in testing_pages for e in p.entries for a in e.authors}
    assert "C. Lämmerzahl" in names
    assert not [n for n in names if "Ã" in n]


def test_primary_category_and_comment(samples: Path) -> None:
    """arxiv:primary_category, arxiv:comment, published and updated come through."""
    entry = _golden(samples, "id_1707.08567").entries[0]
    assert (entry.arxiv_id, entry.version) == ("1707.08567", 1)
    assert entry.primary_category == "cs.IT"
    assert entry.categories == ["cs.IT"]
    assert (
        entry.comment == "44 pages, editors for the proceedings: Yanling Chen and A. J. Han Vinck"
    )
    assert entry.published == dt.datetime(2017, 7, 27, 8, 18, 33, tzinfo=dt.UTC)
    assert len(entry.authors) == 34


def test_affiliations_stay_out_of_names(samples: Path) -> None:
    """Authors with arxiv:affiliation are stored by name only."""
    entry = _golden(samples, "id_astro-ph_0601001").entries[0]
    assert entry.arxiv_id == "astro-ph/0601001"
    assert entry.authors == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]
    assert entry.journal_ref == "ActaAstron.56:1-50,2006"


def test_tex_kept_in_titles(testing_pages: list[ApiPage]) -> None:
    """A title's $…$ stays verbatim."""
    titles = {e.title for p in testing_pages for e in p.entries}
    assert "$ω$Test: WebView-Oriented Testing for Android Applications" in titles


def test_error_feed_is_a_feed_error(samples: Path) -> None:
    """The real HTTP-400 error feed (id_abc) raises FeedError with the URL and the API's words."""
    record = json.loads(next((samples / GOLDEN).glob("id_abc_*.json")).read_text(encoding="utf-8"))
    assert record["status_code"] == 400
    with pytest.raises(FeedError, match="incorrect id format for abc") as caught:
        parse_api(record["body"].encode("utf-8"), record["url"])
    assert caught.value.url == record["url"]
    assert record["url"] in str(caught.value)


def test_unknown_id_is_an_empty_page(samples: Path) -> None:
    """An id the API does not know gives zero entries and total 0, not an error."""
    page = _golden(samples, "id_0000.0000")
    assert (page.total, page.start, page.entries) == (0, 0, [])


def test_version_from_entry_id(samples: Path) -> None:
    """The version comes from the entry id."""
    entry = _golden(samples, "id_2104.12255v1").entries[0]
    assert (entry.arxiv_id, entry.version) == ("2104.12255", 1)


def test_legacy_pages(samples: Path) -> None:
    """The five 2016 legacy pages parse: 10+10+2+1+1 entries."""
    counts = {}
    for path in sorted((samples / LEGACY).glob("*.xml")):
        page = parse_api(path.read_bytes(), f"legacy:{path.name}")
        counts[path.stem] = len(page.entries)
        assert page.total is not None
        assert page.start == 0
    assert sorted(counts.values()) == [1, 1, 2, 10, 10]


def test_legacy_entry_fields(samples: Path) -> None:
    """A legacy entry: old-style id, wrapped title and abstract collapsed, doi and journal ref."""
    page = parse_api(
        (samples / LEGACY / "search_au_del_maestro_AND_ti_checkerboard.xml").read_bytes(), "legacy"
    )
    (entry,) = page.entries
    assert (entry.arxiv_id, entry.version) == ("cond-mat/0603029", 1)
    assert entry.title == (
        "From stripe to checkerboard order on the square lattice in the presence of quenched disorder"
    )
    assert entry.abstract.startswith("We discuss the effects of quenched disorder")
    assert "\n" not in entry.abstract
    assert entry.doi == "10.1103/PhysRevB.74.024520"
    assert entry.journal_ref == "Phys. Rev. B 74, 024520 (2006)"
    assert entry.comment == "10 pages, 11 figures; added reference"
    assert entry.primary_category == "cond-mat.str-el"
    assert entry.authors == ["Adrian Del Maestro", "Bernd Rosenow", "Subir Sachdev"]


def test_html_body_is_a_feed_error(fixtures: Path) -> None:
    """An HTML page where an API page was expected is an error naming the URL."""
    url = id_list_url(BASE, ["2602.20001"], 100)
    with pytest.raises(FeedError, match="HTML page") as caught:
        parse_api((fixtures / "feeds" / "html_error_page.html").read_bytes(), url)
    assert caught.value.url == url


def test_id_list_url() -> None:
    """Ids are comma-joined in one id_list request."""
    url = id_list_url(BASE, ["2602.20001", "cs/0601001v4"], 100)
    assert url == (
        "https://export.arxiv.org/api/query?id_list=2602.20001,cs%2F0601001v4&start=0&max_results=100"
    )


def test_query_url() -> None:
    """A search query asks for submittedDate ascending, with start and max_results."""
    url = query_url(BASE, "cat:cs.DC AND submittedDate:[202602230000 TO 202602232000]", 200, 100)
    assert url.startswith("https://export.arxiv.org/api/query?search_query=cat:cs.DC%20AND%20")
    assert "&start=200&max_results=100&sortBy=submittedDate&sortOrder=ascending" in url
