"""OAI-PMH (arXivRaw, tolerated arXiv): the real 2016 captures and small fixtures for paging and errors."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from arxivfilter.errors import FeedError
from arxivfilter.fetch.oai import (
    iter_pages,
    list_records_url,
    parse_oai,
    to_entries,
)

BASE = "https://oaipmh.arxiv.org/oai"
RAW = "C_oai_pmh/arxiv-oai-harvester_arXivRaw_2016"


def _utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def _next_weekday(d: date) -> date:
    d += timedelta(days=1)
    while d.weekday() >= 5:
        d += timedelta(days=1)
    return d


def _listing_for(ts: datetime) -> date:
    """Stand-in for dates.listing_for_submission in winter (14:00 EST = 19:00 UTC, no holidays)."""
    day = ts.astimezone(UTC).date()
    if day.weekday() >= 5 or ts.astimezone(UTC).hour >= 19:
        day = _next_weekday(day)
    return _next_weekday(day)


# --------------------------------------------------------------------------- URLs


def test_list_records_url_first_request() -> None:
    """The first request names prefix, from and set (colons kept readable)."""
    url = list_records_url(BASE, set_spec="cs:cs:DC", from_date=date(2026, 1, 15))
    assert url == f"{BASE}?verb=ListRecords&metadataPrefix=arXivRaw&from=2026-01-15&set=cs:cs:DC"


def test_list_records_url_with_token_has_only_verb_and_token() -> None:
    """With a resumptionToken the protocol allows nothing else."""
    url = list_records_url(
        BASE, set_spec="cs:cs:DC", from_date=date(2026, 1, 15), resumption_token="7091883|1001"
    )
    assert parse_qs(urlsplit(url).query) == {
        "verb": ["ListRecords"],
        "resumptionToken": ["7091883|1001"],
    }


# --------------------------------------------------------------------------- real samples


def test_real_list_records_counts_and_token(samples: Path) -> None:
    """The 2016 arXivRaw page: 387 records, 970 versions, 1 to 15 each, token 1403493|1001."""
    page = parse_oai((samples / RAW / "ListRecords.xml").read_bytes())
    assert len(page.records) == 387
    assert page.resumption_token == "1403493|1001"
    assert (page.complete_list_size, page.cursor) == (1440, 0)
    assert page.response_date == _utc("2016-10-21 04:36:53")
    assert page.error is None
    versions = Counter(len(r.versions) for r in page.records)
    assert sum(n * count for n, count in versions.items()) == 970
    assert versions == {1: 57, 2: 190, 3: 86, 4: 32, 5: 13, 6: 3, 7: 2, 8: 1, 13: 1, 14: 1, 15: 1}
    assert len({r.arxiv_id for r in page.records}) == 387
    assert not any(r.deleted for r in page.records)
    assert {r.metadata_format for r in page.records} == {"arXivRaw"}
    assert all(r.title and r.abstract and r.authors and r.categories for r in page.records)
    assert len({s for r in page.records for s in r.set_specs}) == 17


def test_real_version_dates(samples: Path) -> None:
    """Version dates are UTC datetimes; v10+ sort after v9 although listed v1, v10, v11, v2 ..."""
    page = parse_oai((samples / RAW / "ListRecords.xml").read_bytes())
    by_id = {r.arxiv_id: r for r in page.records}
    diaby = by_id["0803.4354"]
    assert diaby.versions == [
        (1, _utc("2008-03-30 23:26:50")),
        (2, _utc("2010-09-11 21:08:18")),
        (3, _utc("2013-09-06 03:16:08")),
        (4, _utc("2014-03-02 15:12:27")),
        (5, _utc("2014-03-18 19:34:06")),
        (6, _utc("2016-10-20 16:58:38")),
    ]
    assert diaby.latest_version == 6
    assert diaby.categories == ["cs.DM"]
    assert diaby.set_specs == ["cs"]
    assert diaby.comments is not None
    assert diaby.comments.startswith("Theorem 25 and Corollary 26")
    long = by_id["1501.00288"]
    assert [n for n, _ in long.versions] == list(range(1, 16))
    assert long.versions[9] == (10, _utc("2015-04-01 03:18:45"))
    assert long.set_specs == ["cs", "math"]


def test_real_authors_split_and_tex_resolved(samples: Path) -> None:
    """One comma-joined authors string becomes names: 'and', affiliations and TeX handled."""
    by_id = {
        r.arxiv_id: r for r in parse_oai((samples / RAW / "ListRecords.xml").read_bytes()).records
    }
    assert by_id["1204.3980"].authors == ["Béla Bollobás", "Paul Smith", "Andrew Uzzell"]
    assert by_id["1408.0799"].authors == [
        "Maciej Bilicki",
        "John A. Peacock",
        "Thomas H. Jarrett",
        "Michelle E. Cluver",
        "Louise Steward",
    ]
    assert "Słupiński" in by_id["1210.2946"].authors
    assert by_id["1602.04578"].authors == ["Dániel Kincses"]


def test_real_get_record(samples: Path) -> None:
    """GetRecord: one record, entities decoded, categories split with the primary first."""
    page = parse_oai((samples / RAW / "GetRecord.xml").read_bytes())
    assert page.resumption_token is None
    (record,) = page.records
    assert record.arxiv_id == "0804.2273"
    assert record.identifier == "oai:arXiv.org:0804.2273"
    assert record.datestamp == date(2008, 4, 16)
    assert record.title == "Object Re-Use & Exchange: A Resource-Centric Approach"
    assert len(record.authors) == 6
    assert record.authors[-1] == "Pete Johnston"
    assert (record.categories, record.primary_category) == (["cs.DL", "cs.NI"], "cs.DL")
    assert record.versions == [(1, _utc("2008-04-14 21:02:00"))]
    assert record.submitter == "Carl Lagoze"
    assert record.abstract is not None
    assert record.abstract.startswith("The OAI Object Reuse")


def test_real_arxiv_prefix_files_tolerated(samples: Path) -> None:
    """The hepcrawl 'arXiv'-prefix files parse: structured authors, created dates, no versions."""
    counts = {}
    for path in sorted((samples / "C_oai_pmh/hepcrawl").glob("*.xml")):
        page = parse_oai(path.read_bytes())
        counts[path.name] = len(page.records)
        for record in page.records:
            assert record.metadata_format == "arXiv"
            assert record.versions == []
            assert record.created is not None
            assert record.title
            assert record.authors
            assert record.categories
            assert to_entries(record, _listing_for) == []
    assert sum(counts.values()) == 30
    assert counts["unit__sample_arxiv_record.xml"] == 12
    single = parse_oai((samples / "C_oai_pmh/hepcrawl/functional__arxiv-single.xml").read_bytes())
    (record,) = single.records
    assert record.authors == ["A. Sergyeyev"]
    assert record.categories[0] == "math.AP"
    assert "nlin.SI" in record.categories
    assert record.doi == "10.1007/s11005-017-1013-4"
    assert record.journal_ref == "Lett. Math. Phys. 108 (2018), no. 2, 359-376"
    assert (record.created, record.updated) == (date(2014, 1, 9), date(2017, 10, 23))
    assert record.set_specs == ["math", "physics:hep-th", "physics:math-ph", "physics:nlin"]


def test_real_to_entries_one_per_version(samples: Path) -> None:
    """Each arXivRaw version becomes a derived OAI entry: v1 new, later versions replace."""
    page = parse_oai((samples / RAW / "ListRecords.xml").read_bytes())
    diaby = next(r for r in page.records if r.arxiv_id == "0803.4354")
    entries = to_entries(diaby, _listing_for)
    assert [(e.version, e.announce_type) for e in entries] == [
        (1, "new"),
        (2, "replace"),
        (3, "replace"),
        (4, "replace"),
        (5, "replace"),
        (6, "replace"),
    ]
    assert entries[0].announce_date == date(
        2008, 4, 1
    )  # Sunday night -> Monday deadline -> Tuesday
    assert entries[-1].announce_date == date(2016, 10, 21)
    assert all(e.derived and e.source == "oai" and not e.approximate for e in entries)
    assert all(e.published == _utc("2008-03-30 23:26:50") for e in entries)
    assert entries[2].updated == _utc("2013-09-06 03:16:08")
    total = sum(len(to_entries(r, _listing_for)) for r in page.records)
    assert total <= 970


# --------------------------------------------------------------------------- fixtures


def test_resumption_chain_ends_at_empty_token(fixtures: Path) -> None:
    """Three pages: tokens followed until the empty <resumptionToken/>; only verb+token after page 1."""
    pages_by_token = {
        None: "chain_1.xml",
        "7091883|1001": "chain_2.xml",
        "7091883|2001": "chain_3.xml",
    }
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        token = parse_qs(urlsplit(url).query).get("resumptionToken", [None])[0]
        return (fixtures / "oai" / pages_by_token[token]).read_bytes()

    pages = list(iter_pages(fetch, BASE, set_spec="cs:cs:DC", from_date=date(2026, 1, 15)))
    assert [len(p.records) for p in pages] == [2, 3, 1]
    assert [p.resumption_token for p in pages] == ["7091883|1001", "7091883|2001", None]
    assert all(p.complete_list_size is None for p in pages)
    assert "set=cs:cs:DC" in asked[0]
    assert all("set=" not in u and "from=" not in u for u in asked[1:])
    ids = [r.arxiv_id for p in pages for r in p.records]
    assert ids == [
        "2601.10582",
        "2601.10676",
        "2506.02024",
        "2601.00001",
        "2601.09809",
        "2506.10523",
    ]


def test_resume_from_a_token(fixtures: Path) -> None:
    """An interrupted harvest resumes from its last token without asking for page 1."""
    asked: list[str] = []

    def fetch(url: str) -> bytes:
        asked.append(url)
        return (fixtures / "oai/chain_3.xml").read_bytes()

    pages = list(iter_pages(fetch, BASE, resumption_token="7091883|2001"))
    assert len(pages) == 1
    assert asked == [f"{BASE}?verb=ListRecords&resumptionToken=7091883%7C2001"]


def test_repeated_token_is_an_error(fixtures: Path) -> None:
    """A server that hands back the same token again does not loop forever."""
    body = (fixtures / "oai/chain_1.xml").read_bytes()
    with pytest.raises(FeedError, match="repeated"):
        list(iter_pages(lambda url: body, BASE, set_spec="cs:cs:DC"))


def test_deleted_record(fixtures: Path) -> None:
    """A deleted record keeps its id, datestamp and sets and yields no entries."""
    page = parse_oai((fixtures / "oai/chain_2.xml").read_bytes())
    deleted = next(r for r in page.records if r.deleted)
    assert deleted.arxiv_id == "2601.00001"
    assert deleted.datestamp == date(2026, 1, 15)
    assert deleted.set_specs == ["cs:cs:DC"]
    assert (deleted.title, deleted.versions, deleted.metadata_format) == (None, [], None)
    assert to_entries(deleted, _listing_for) == []


def test_fixture_entries_map_to_listing_dates(fixtures: Path) -> None:
    """Versions land on their listings; start/end keep only the wanted range."""
    records = [
        r
        for name in ("chain_1.xml", "chain_2.xml", "chain_3.xml")
        for r in parse_oai((fixtures / "oai" / name).read_bytes()).records
    ]
    friday = date(2026, 1, 16)
    entries = [e for r in records for e in to_entries(r, _listing_for, start=friday, end=friday)]
    assert {e.announce_date for e in entries} == {friday}
    assert [(e.arxiv_id, e.version, e.announce_type) for e in entries] == [
        ("2601.10582", 1, "new"),
        ("2601.10676", 1, "new"),
        ("2506.02024", 3, "replace"),
        ("2601.09809", 1, "new"),
        ("2506.10523", 3, "replace"),  # v2 and v3 in one window: one entry, the later version
    ]
    cross = entries[1]
    assert cross.primary_category == "cs.IT"
    assert "cs.DC" in cross.categories
    nested = next(r for r in records if r.arxiv_id == "2506.02024")
    assert [e.announce_date for e in to_entries(nested, _listing_for)] == [
        date(2025, 6, 3),
        date(2025, 10, 8),
        friday,
    ]


def test_same_window_versions_with_v1_stay_new() -> None:
    """v1 and v2 before the same deadline are announced once, as new, with v2's number."""
    body = (
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><GetRecord><record><header>'
        "<identifier>oai:arXiv.org:2601.11111</identifier><datestamp>2026-01-15</datestamp></header>"
        '<metadata><arXivRaw xmlns="http://arxiv.org/OAI/arXivRaw/"><id>2601.11111</id>'
        '<version version="v2"><date>Wed, 14 Jan 2026 12:00:00 GMT</date></version>'
        '<version version="v1"><date>Wed, 14 Jan 2026 09:00:00 GMT</date></version>'
        "<title>T</title><authors>A. Author and B. Author</authors><categories>cs.OS cs.DC</categories>"
        "<abstract>x</abstract></arXivRaw></metadata></record></GetRecord></OAI-PMH>"
    )
    (record,) = parse_oai(body).records
    assert record.authors == ["A. Author", "B. Author"]
    (entry,) = to_entries(record, _listing_for)
    assert (entry.version, entry.announce_type, entry.announce_date) == (
        2,
        "new",
        date(2026, 1, 15),
    )


def test_no_records_match_is_an_empty_harvest(fixtures: Path) -> None:
    """noRecordsMatch gives an empty page with no token, not an exception."""
    page = parse_oai((fixtures / "oai/no_records_match.xml").read_bytes(), url=BASE)
    assert (page.records, page.resumption_token, page.error) == ([], None, "noRecordsMatch")
    assert list(
        iter_pages(lambda url: (fixtures / "oai/no_records_match.xml").read_bytes(), BASE)
    ) == [page]


def test_oai_error_raises_naming_url_and_code(fixtures: Path) -> None:
    """badResumptionToken (and any code but noRecordsMatch) raises FeedError with URL and code."""
    url = list_records_url(BASE, resumption_token="7091883|9001")
    with pytest.raises(FeedError) as info:
        parse_oai((fixtures / "oai/bad_resumption_token.xml").read_bytes(), url=url)
    assert "badResumptionToken" in str(info.value)
    assert url in str(info.value)
    assert info.value.url == url
    bad_argument = (
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><error code="badArgument">'
        "Illegal argument</error></OAI-PMH>"
    )
    with pytest.raises(FeedError, match="badArgument: Illegal argument"):
        parse_oai(bad_argument, url=BASE)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"<html><body><h1>Service Unavailable</h1></body></html>", "not an OAI-PMH"),
        (
            b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRec',
            "well-formed",
        ),
        (b'<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><Identify/></OAI-PMH>', "neither"),
    ],
)
def test_not_an_oai_page_raises(body: bytes, message: str) -> None:
    """Blank, HTML, truncated and wrong-verb bodies raise FeedError naming the URL."""
    with pytest.raises(FeedError, match=message) as info:
        parse_oai(body, url=BASE + "?verb=ListRecords")
    assert info.value.url == BASE + "?verb=ListRecords"
