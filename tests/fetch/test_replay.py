"""Replay of recorded data (fetch/replay.py): every source shape, recognised by content."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from arxivfilter.errors import SourceError
from arxivfilter.fetch import replay
from arxivfilter.fetch.replay import ReplayContext, read_source
from arxivfilter.models import Entry
from arxivfilter.text import is_category

LIN = Path("E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced")
GOLDEN = Path("A_api_atom/arxiv.py_golden_2026/recorded_json")
CONFIGURED = {"cs.DC", "cs.OS", "cs.LG"}


def _warnings(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in logs if e["log_level"] == "warning"]


# --------------------------------------------------------------------------- JSONL dumps


@pytest.mark.samples
def test_raw_day_counts(samples: Path) -> None:
    """raw_days/2025-12-16.jsonl: 1,332 lines, 857 distinct ids, 320 with cs.DC/cs.OS/cs.LG."""
    path = samples / LIN / "raw_days" / "2025-12-16.jsonl"
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1332
    entries = read_source(path)
    assert len(entries) == 857
    assert len({e.arxiv_id for e in entries}) == 857
    assert sum(1 for e in entries if CONFIGURED & set(e.categories)) == 320
    assert {e.announce_date for e in entries} == {dt.date(2025, 12, 16)}
    assert {e.source for e in entries} == {"jsonl"}
    assert {e.announce_type for e in entries} == {None}


@pytest.mark.samples
def test_raw_day_entry_fields(samples: Path) -> None:
    """A JSONL record: primary category first, TeX kept in the abstract, comment kept."""
    entries = read_source(samples / LIN / "raw_days" / "2025-12-16.jsonl")
    entry = next(e for e in entries if e.arxiv_id == "2512.11994")
    assert entry.version is None
    assert entry.title == "Optimal non-adaptive algorithm for edge estimation"
    assert entry.categories == ["cs.DS", "math.CO"]
    assert entry.primary_category == "cs.DS"
    assert entry.comment == "15 pages"
    assert "$\\widetilde{O}(\\sqrt{n})$" in entry.abstract
    assert entry.authors[0] == "Arijit Bishnu"


@pytest.mark.samples
def test_month_file_dates_come_from_index(samples: Path) -> None:
    """A systems_subset month file takes each paper's date from the sibling index.tsv."""
    folder = samples / LIN / "systems_subset"
    with (folder / "index.tsv").open(encoding="utf-8", newline="") as handle:
        index = {r["id"]: r["first_seen_file_date"] for r in csv.DictReader(handle, delimiter="\t")}
    entries = read_source(folder / "2025-07.jsonl")
    assert len(entries) == 399
    assert all(e.announce_date.isoformat() == index[e.arxiv_id] for e in entries)
    days = {e.announce_date for e in entries}
    assert len(days) > 15
    assert all(d.month == 7 for d in days)


@pytest.mark.samples
def test_acm_msc_strings_are_dropped(samples: Path) -> None:
    """ACM/MSC class strings in the dumps' categories are not categories."""
    entries = read_source(samples / LIN / "systems_subset" / "2025-07.jsonl")
    libra = next(e for e in entries if e.arxiv_id == "2506.22714")
    assert libra.categories == ["cs.DC", "cs.LG", "cs.PF"]
    assert all(is_category(c) for e in entries for c in e.categories)
    assert not [c for e in entries for c in e.categories if ";" in c or " " in c]


@pytest.mark.samples
def test_whole_e_folder(samples: Path) -> None:
    """The whole E folder: the index files are companions, not unknown files."""
    with capture_logs() as logs:
        entries = read_source(samples / "E_paper_metadata")
    assert _warnings(logs) == []
    subset = [e for e in entries if e.announce_date < dt.date(2025, 12, 1)]
    assert len(subset) == 1504 + 144


def _record(**fields: object) -> str:
    base = {
        "id": "2602.00001",
        "title": "T",
        "summary": "S",
        "authors": ["A"],
        "categories": ["cs.DC"],
    }
    base.update(fields)
    return json.dumps(base)


def test_jsonl_date_precedence(tmp_path: Path) -> None:
    """A record's own date, else index.tsv, else a YYYY-MM-DD file name, else --date."""
    folder = tmp_path / "dump"
    folder.mkdir()
    (folder / "index.tsv").write_text(
        "id\tfirst_seen_file_date\n2602.00002\t2026-02-03\n", encoding="utf-8"
    )
    lines = [
        _record(id="2602.00001", date="2026-02-02"),
        _record(id="2602.00002"),
        _record(id="2602.00003"),
    ]
    (folder / "2026-02-04.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "month.jsonl").write_text(_record(id="2602.00004") + "\n", encoding="utf-8")
    entries = read_source(folder, date=dt.date(2026, 2, 5))
    assert {e.arxiv_id: e.announce_date.day for e in entries} == {
        "2602.00001": 2,
        "2602.00002": 3,
        "2602.00003": 4,
        "2602.00004": 5,
    }


def test_jsonl_without_any_date_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """Records with no date from any source are skipped, with one warning for the file."""
    path = tmp_path / "dump.jsonl"
    path.write_text(_record() + "\n" + _record(id="2602.00009") + "\n", encoding="utf-8")
    with capture_logs() as logs:
        assert read_source(path) == []
    (warning,) = _warnings(logs)
    assert warning["records"] == 2


def test_jsonl_dedupes_by_id_within_a_file(tmp_path: Path) -> None:
    """A repeated id in one dump is kept once (the first)."""
    path = tmp_path / "2026-02-04.jsonl"
    lines = [_record(title="first"), _record(title="second"), _record(id="2602.00002")]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    entries = read_source(path)
    assert [(e.arxiv_id, e.title) for e in entries] == [
        ("2602.00001", "first"),
        ("2602.00002", "T"),
    ]


# --------------------------------------------------------------------------- feeds and archives


def test_rss_file(fixtures: Path) -> None:
    """An rss.arxiv.org file replays with the feed's own date and announcement types."""
    entries = read_source(fixtures / "feeds" / "rss_replace_cross.xml", date=dt.date(2030, 1, 1))
    assert len(entries) == 6
    assert {e.announce_date for e in entries} == {dt.date(2026, 2, 24)}
    assert Counter(e.announce_type for e in entries) == {
        "new": 2,
        "cross": 1,
        "replace": 1,
        "replace-cross": 2,
    }


def test_atom_file(fixtures: Path) -> None:
    """The Atom form of rss.arxiv.org replays too."""
    entries = read_source(fixtures / "feeds" / "atom_rss.xml")
    assert [(e.arxiv_id, e.announce_type) for e in entries] == [
        ("2602.20001", "new"),
        ("2511.04321", "replace-cross"),
    ]


def test_archived_rss_response(fixtures: Path) -> None:
    """The archive JSON shape with headers and fetched_at: the body is read as RSS."""
    entries = read_source(fixtures / "feeds" / "archive_rss.json")
    assert len(entries) == 6
    assert {(e.source, e.announce_date) for e in entries} == {("rss", dt.date(2026, 2, 24))}


@pytest.mark.samples
def test_archived_api_page_takes_its_folder_date(samples: Path, tmp_path: Path) -> None:
    """An archived API page under data/raw/YYYY-MM-DD/ is dated by that folder."""
    day = tmp_path / "data" / "raw" / "2026-04-13"
    day.mkdir(parents=True)
    shutil.copy(next((samples / GOLDEN).glob("q_testing_s0_m10_*.json")), day)
    entries = read_source(tmp_path / "data", date=dt.date(2026, 1, 1))
    assert len(entries) == 10
    assert {(e.source, e.announce_date) for e in entries} == {("api", dt.date(2026, 4, 13))}


@pytest.mark.samples
def test_api_pages_take_the_given_date(samples: Path) -> None:
    """API pages outside a dated folder take --date: 215 entries over the q_testing pages."""
    entries = read_source(samples / GOLDEN, date=dt.date(2026, 4, 13))
    testing = [e for e in entries if e.title]
    assert {e.announce_date for e in testing} == {dt.date(2026, 4, 13)}
    assert len(entries) == 215 + 6  # plus the six id_list pages with one entry each


@pytest.mark.samples
def test_api_page_without_a_date_is_skipped_with_a_warning(samples: Path) -> None:
    """An API page with no date to give its entries is skipped, and says so; alone it is
    nothing recognised (exit 2) and --date places it."""
    path = samples / GOLDEN.parent / "xml_body" / "q_testing_s0_m10_bc5a6c384fe9.xml"
    with capture_logs() as logs, pytest.raises(SourceError, match="give --date"):
        read_source(path)
    (warning,) = _warnings(logs)
    assert warning["entries"] == 10
    assert len(read_source(path, date=dt.date(2026, 4, 13))) == 10


@pytest.mark.samples
def test_archived_non_200_is_skipped(samples: Path, tmp_path: Path) -> None:
    """An archived HTTP-400 response is skipped with a warning; alone, nothing is recognised."""
    path = next((samples / GOLDEN).glob("id_abc_*.json"))
    with capture_logs() as logs, pytest.raises(SourceError, match="nothing recognised"):
        read_source(path, date=dt.date(2026, 4, 13))
    (warning,) = _warnings(logs)
    assert warning["status"] == 400
    assert warning["event"] == "archived non-200 response skipped"


def test_archived_html_with_200_is_skipped(fixtures: Path, tmp_path: Path) -> None:
    """An archived HTML page served with 200 is a failed fetch: skipped with one warning."""
    folder = tmp_path / "2026-02-24"
    folder.mkdir()
    shutil.copy(fixtures / "feeds" / "archive_html_200.json", folder / "a.json")
    shutil.copy(fixtures / "feeds" / "archive_rss.json", folder / "b.json")
    with capture_logs() as logs:
        entries = read_source(tmp_path)
    assert len(entries) == 6
    (warning,) = [w for w in _warnings(logs) if w["event"] == "unrecognised file skipped"]
    assert warning["kind"] == "html"
    assert warning["url"] == "https://rss.arxiv.org/rss/cs.DC+cs.OS+cs.LG"


def test_archived_invalid_byte_round_trips(fixtures: Path, tmp_path: Path) -> None:
    """A body archived with a \\udcXX escape replays as the original byte: one replaced, logged."""
    record = json.loads((fixtures / "feeds" / "archive_rss.json").read_text(encoding="utf-8"))
    record["body"] = record["body"].replace("A Kernel Scheduler", "A Kernel Sch\udce9duler")
    folder = tmp_path / "2026-02-24"
    folder.mkdir()
    (folder / "feed.json").write_text(json.dumps(record, ensure_ascii=True), encoding="utf-8")
    (folder / "complete.json").write_text('{"categories": ["cs.DC"]}', encoding="utf-8")
    with capture_logs() as logs:
        entries = read_source(tmp_path)
    assert "A Kernel Sch\ufffdduler for Accelerators" in {e.title for e in entries}
    (invalid,) = [w for w in _warnings(logs) if w["event"] == "invalid UTF-8 replaced"]
    assert invalid["bytes"] == 1
    assert not [w for w in _warnings(logs) if "skipped" in str(w["event"])]


@pytest.mark.parametrize("name", ["rss_truncated.xml", "html_error_page.html", "blank_body.xml"])
def test_broken_single_file_is_a_source_error(fixtures: Path, name: str) -> None:
    """A broken file given alone is a SourceError (exit 2), never zero papers."""
    with pytest.raises(SourceError) as caught:
        read_source(fixtures / "feeds" / name)
    assert caught.value.exit_code == 2


@pytest.mark.samples
def test_recorded_error_feed_alone_is_a_source_error(samples: Path) -> None:
    """The real "Feed error for query" file yields nothing: SourceError."""
    with pytest.raises(SourceError, match="unreadable"):
        read_source(samples / "B_rss_feeds/aioarxiv_rss_2024-11-28/error_rss_mock_feed.xml")


# --------------------------------------------------------------------------- own export


def test_export_records(fixtures: Path) -> None:
    """Own export: one entry per announcement date, "replace" when that date's rows are replacements."""
    entries = read_source(fixtures / "feeds" / "export.jsonl")
    got = [(e.arxiv_id, e.announce_date.isoformat(), e.announce_type) for e in entries]
    assert got == [
        ("2602.20217", "2026-02-23", "new"),
        ("2602.20217", "2026-02-24", "replace"),
        ("2602.20300", "2026-02-24", "new"),
    ]
    first = entries[0]
    assert first.source == "export"
    assert first.version == 2
    assert first.title == "Paged Attention for $\\beta$-Mixtures"
    assert first.authors == ["José García", "王芳"]
    assert first.categories == ["cs.LG", "cs.DC"]
    assert first.primary_category == "cs.LG"
    assert first.comment == "12 pages"
    assert entries[2].version is None
    assert entries[2].comment is None


# --------------------------------------------------------------------------- folders


def test_folder_is_read_recursively_and_unknown_files_warned_once(
    fixtures: Path, tmp_path: Path
) -> None:
    """A folder is walked recursively in sorted order; an unknown file gets one warning."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    shutil.copy(fixtures / "feeds" / "export.jsonl", tmp_path / "a" / "export.jsonl")
    shutil.copy(fixtures / "feeds" / "atom_rss.xml", tmp_path / "a" / "b" / "feed.txt")
    (tmp_path / "notes.md").write_text("# not data\n", encoding="utf-8")
    (tmp_path / ".gitkeep").write_text("", encoding="utf-8")
    with capture_logs() as logs:
        entries = read_source(tmp_path)
    assert [e.source for e in entries] == ["rss", "rss", "export", "export", "export"]
    warnings = _warnings(logs)
    assert [(w["event"], Path(str(w["path"])).name) for w in warnings] == [
        ("unrecognised file skipped", "notes.md")
    ]


def test_missing_path_is_a_source_error(tmp_path: Path) -> None:
    """A source that does not exist is a SourceError."""
    with pytest.raises(SourceError, match="not found"):
        read_source(tmp_path / "nowhere")


def test_folder_with_nothing_recognised_is_a_source_error(tmp_path: Path) -> None:
    """A folder of unknown files is a SourceError after one warning per file."""
    (tmp_path / "a.txt").write_text("hello\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("x,y\n", encoding="utf-8")
    with capture_logs() as logs, pytest.raises(SourceError, match="nothing recognised"):
        read_source(tmp_path)
    assert len(_warnings(logs)) == 2


def test_empty_folder_is_a_source_error(tmp_path: Path) -> None:
    """An empty folder holds nothing recognised."""
    with pytest.raises(SourceError):
        read_source(tmp_path)


@pytest.mark.samples
def test_reader_hook_for_other_kinds(samples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader registered for "oai" (fetch/oai.py, later) is used for OAI-PMH files."""
    seen: list[ReplayContext] = []

    def fake_oai(body: bytes, ctx: ReplayContext) -> list[Entry]:
        seen.append(ctx)
        return [Entry(arxiv_id="1610.00001", title="t", source="oai", announce_date=ctx.date)]

    monkeypatch.setitem(replay.READERS, "oai", fake_oai)
    path = samples / "C_oai_pmh/arxiv-oai-harvester_arXivRaw_2016/GetRecord.xml"
    entries = read_source(path, date=dt.date(2016, 10, 21))
    assert [e.source for e in entries] == ["oai"]
    assert seen[0].path == path
    assert seen[0].date == dt.date(2016, 10, 21)


# --------------------------------------------------------------------------- sources that yield nothing


@pytest.mark.samples
def test_oai_arxiv_format_needs_a_date(samples: Path) -> None:
    """OAI-PMH metadataPrefix ``arXiv`` has no version times: skipped with a warning (alone:
    exit 2, naming --date); with --date its records are placed there, marked approximate."""
    folder = samples / "C_oai_pmh/hepcrawl"
    with capture_logs() as logs, pytest.raises(SourceError, match="give --date"):
        read_source(folder / "functional__arxiv-single.xml")
    assert _warnings(logs)
    placed = read_source(folder, date=dt.date(2017, 9, 1))
    assert placed and {e.announce_date for e in placed} == {dt.date(2017, 9, 1)}
    assert all(e.approximate and e.source == "oai" and e.categories for e in placed)


@pytest.mark.samples
def test_empty_feed_as_source_is_no_paper(samples: Path) -> None:
    """A recorded feed with no items is a source with no paper: exit 2, not a silent 0."""
    path = next(samples.glob("B_rss_feeds/*/empty_rss_mock_feed.xml"))
    assert read_source(path) == []  # recognised, empty (an archived day may be so)
    with pytest.raises(SourceError, match="no paper in source"):
        read_source(path, require_entries=True)


def test_jsonl_records_without_category_warn_and_dates_in_names(tmp_path: Path) -> None:
    """A dump record with no category is skipped with a warning; a file name holding one
    YYYY-MM-DD dates its records (``small-2025-12-16.jsonl``)."""
    path = tmp_path / "small-2025-12-16.jsonl"
    good = {"id": "2512.00002", "title": "T", "summary": "A", "categories": ["cs.DC"]}
    bad = {"id": "2512.00001", "title": "x"}
    path.write_text(json.dumps(bad) + "\n" + json.dumps(good) + "\n")
    with capture_logs() as logs:
        entries = read_source(path)
    assert [(e.arxiv_id, e.announce_date) for e in entries] == [
        ("2512.00002", dt.date(2025, 12, 16))
    ]
    (warning,) = _warnings(logs)
    assert "without an arXiv category" in str(warning["event"])
