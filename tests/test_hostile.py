"""A hostile upstream, for real over loopback: slow, huge, rate-limited, or wrong in a
valid-looking way. One stand-in server process (tests/hostile_server.py) serves every fault;
budgets are made small so no test waits long, and each would hang or pass on the old code.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arxivfilter.config import Profile, Settings, load_settings
from arxivfilter.errors import FeedError, UpstreamError
from arxivfilter.fetch.http import ArxivClient, Limiter
from arxivfilter.fetch.oai import iter_pages
from arxivfilter.models import JudgementResult, LlmCall, Paper, PaperText
from arxivfilter.score.llm import LlmScorer, build_llm_client
from arxivfilter.transport import MIB
from tests import hostile_server
from tests.fakes import FakeClock

ROOT = Path(__file__).resolve().parents[1]
PROFILE = Profile(name="p", description="Systems for large models.", threshold=70, tags={})


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("hostile")
    with hostile_server.serve(
        folder, HOSTILE_DRIP_SECONDS="0.3", HOSTILE_HUGE_MIB="80", HOSTILE_BOMB_MIB="200"
    ) as url:
        yield url


def arxiv(url: str, **env: str) -> tuple[ArxivClient, FakeClock]:
    base = {
        "ARXIVFILTER_ARXIV__RSS_URL": f"{url}/",
        "ARXIVFILTER_ARXIV__TIMEOUT_SECONDS": "1",
        "ARXIVFILTER_ARXIV__RETRY_MAX_SECONDS": "60",
        "ARXIVFILTER_ARXIV__RETRY_ATTEMPTS": "3",
    }
    settings = load_settings(env={**base, **env})
    clock = FakeClock()
    client = ArxivClient(
        settings.arxiv,
        limiter=Limiter(3.0, clock=clock.clock, sleep=clock.sleep),
        sleep=clock.sleep,
    )
    return client, clock


# --------------------------------------------------------------------------- arXiv


def test_arxiv_retry_after_beyond_the_budget_gives_up_without_sleeping(hostile: str) -> None:
    """429 Retry-After: 100000 is more than the 60 s budget: exit 3 at once, no 27-hour sleep."""
    client, clock = arxiv(hostile)
    with pytest.raises(UpstreamError, match="asked to wait 100000 s") as info:
        client.get(f"{hostile}/retry-long/rss/cs.DC")
    assert info.value.exit_code == 3
    assert client.retry_waited == 0 and client.requests == 1


def test_arxiv_retry_after_in_year_9999_is_no_overflow(hostile: str) -> None:
    """503 Retry-After: Fri, 31 Dec 9999 ...: a clear exit 3, no OverflowError traceback."""
    client, _clock = arxiv(hostile)
    with pytest.raises(UpstreamError, match="asked to wait") as info:
        client.get(f"{hostile}/retry-date/rss/cs.DC")
    assert info.value.exit_code == 3 and client.retry_waited == 0


def test_arxiv_dripping_body_hits_the_total_deadline(hostile: str) -> None:
    """One byte every 0.3 s (each read well inside the 1 s timeout): cut off at 1 s per attempt."""
    client, _clock = arxiv(hostile, ARXIVFILTER_ARXIV__RETRY_ATTEMPTS="2")
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="no complete answer within 1 s"):
        client.get(f"{hostile}/drip/rss/cs.DC")
    assert client.requests == 2
    assert time.monotonic() - started < 10  # the body alone takes 20 s to drip


@pytest.mark.parametrize("mode", ["huge", "bomb"])
def test_arxiv_oversized_body_is_refused_and_not_archived(
    hostile: str, mode: str, tmp_path: Path
) -> None:
    """80 MiB streamed, or 200 MiB inflated from a gzip bomb: exit 3, nothing archived."""
    client, _clock = arxiv(hostile)
    archive = tmp_path / "raw"
    with pytest.raises(UpstreamError, match="more than 64 MiB") as info:
        client.get(f"{hostile}/{mode}/rss/cs.DC", archive_dir=archive)
    assert info.value.exit_code == 3
    assert client.requests == 1  # a broken upstream is not asked again
    assert not archive.exists() or not any(archive.iterdir())


def test_oai_empty_page_with_a_token_is_a_broken_upstream(hostile: str) -> None:
    """Pages with no record but ever new resumption tokens: stop at the first (exit 3)."""
    client, _clock = arxiv(hostile)
    pages = iter_pages(lambda u: client.get(u).body, f"{hostile}/oai-endless/oai", set_spec="cs")
    with pytest.raises(FeedError, match="no record but a resumptionToken") as info:
        list(pages)
    assert info.value.exit_code == 3 and client.requests == 1


# --------------------------------------------------------------------------- LLM


class Sink:
    def __init__(self) -> None:
        self.results: dict[str, JudgementResult] = {}
        self.calls: list[LlmCall] = []

    def judgement(self, paper: PaperText, result: JudgementResult) -> None:
        self.results[paper.arxiv_id] = result

    def llm_call(self, call: LlmCall) -> None:
        self.calls.append(call)

    def may_start_call(self) -> bool:
        return True


def papers(n: int) -> list[PaperText]:
    return [
        Paper(
            arxiv_id=f"2601.{i:05d}",
            title=f"Paper {i}",
            abstract=f"Serving system {i}.",
            categories=["cs.DC"],
            text_hash=f"h{i}",
        )
        for i in range(1, n + 1)
    ]


def llm_settings(url: str, mode: str, **env: str) -> Settings:
    base = {
        "OPENAI_BASE_URL": f"{url}/{mode}/v1",
        "OPENAI_API_KEY": "sk-proj-Zq8vT3mK9wLx2Rb7Hc4Nd1Fs6Gj0Pe5Yu",
        "ARXIVFILTER_MODEL": "hostile",
        "ARXIVFILTER_LLM__TIMEOUT_SECONDS": "1",
        "ARXIVFILTER_LLM__RETRY_MAX_SECONDS": "3",
        "ARXIVFILTER_LLM__RETRY_ATTEMPTS": "2",
        "ARXIVFILTER_LLM__CONCURRENCY": "2",
    }
    return load_settings(env={**base, **env})


def judge(settings: Settings, items: list[PaperText], **hooks: Any) -> tuple[Sink, LlmScorer]:
    sink = Sink()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    scorer = LlmScorer(build_llm_client(settings), settings, sleep=sleep, **hooks)

    async def go() -> None:
        try:
            await asyncio.wait_for(scorer.judge(PROFILE, items, sink), 20)
        finally:
            await scorer._client.close()

    asyncio.run(go())
    return sink, scorer


def test_llm_dripping_reply_hits_the_total_deadline(hostile: str) -> None:
    """A completion sent one byte every 0.3 s: each attempt ends at 1 s; no answer = exit 3."""
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="timed out after 1 s") as info:
        judge(llm_settings(hostile, "llm-drip"), papers(4))
    assert info.value.exit_code == 3
    assert time.monotonic() - started < 15  # the reply alone takes over a minute


@pytest.mark.parametrize("mode", ["llm-huge", "llm-bomb"])
def test_llm_oversized_reply_is_a_broken_upstream(hostile: str, mode: str) -> None:
    """A chat completion of 80 MiB, or a gzip bomb: stopped at the 4 MiB cap, exit 3."""
    with pytest.raises(UpstreamError, match=r"unusable reply.*more than 4 MiB") as info:
        judge(llm_settings(hostile, mode), papers(2))
    assert info.value.exit_code == 3


def test_llm_huge_retry_after_ends_the_run_saying_why(hostile: str) -> None:
    """Every call answered 429 Retry-After: 100000: the run stops at once (exit 3), saying why."""
    with pytest.raises(UpstreamError, match=r"asks to wait 100000 s.*run_wait_max_seconds") as info:
        judge(llm_settings(hostile, "llm-retry-long"), papers(8))
    assert info.value.exit_code == 3


# --------------------------------------------------------------------------- schedule

SCHEDULE_SCRIPT = textwrap.dedent(
    """
    import datetime as dt, sys
    from apscheduler.triggers.date import DateTrigger
    from arxivfilter import cli, schedule
    schedule.make_trigger = lambda settings: DateTrigger(
        dt.datetime.now(dt.UTC) + dt.timedelta(seconds=0.5)
    )
    schedule.next_run = lambda settings, now=None: None
    sys.exit(cli.main(["schedule", "--scorer", "local"]))
    """
)


def _run_status(db: Path) -> list[tuple[str, int | None]]:
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            return [(r[0], r[1]) for r in conn.execute("SELECT status, exit_code FROM runs")]
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def test_schedule_sigterm_interrupts_the_run_like_ctrl_c(hostile: str, tmp_path: Path) -> None:
    """SIGTERM during a scheduled run (arXiv dripping): run recorded interrupted, exit 130;
    a second SIGTERM while it stops changes nothing (never exit 0 with the run left running)."""
    db = tmp_path / "af.db"
    env = {
        **os.environ,
        "ARXIVFILTER_DB_URL": f"sqlite:///{db}",
        "ARXIVFILTER_LOCK_FILE": str(tmp_path / "af.lock"),
        "ARXIVFILTER_RAW_DIR": str(tmp_path / "raw"),
        "ARXIVFILTER_DIGESTS_DIR": str(tmp_path / "digests"),
        "ARXIVFILTER_ARXIV__RSS_URL": f"{hostile}/drip/rss/",
        "ARXIVFILTER_ARXIV__TIMEOUT_SECONDS": "30",
        "PYTHONPATH": str(ROOT / "src"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", SCHEDULE_SCRIPT],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while ("running", None) not in _run_status(db):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the scheduled run never started"
            time.sleep(0.1)
        time.sleep(0.5)  # inside the dripping fetch
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode()
    assert _run_status(db) == [("interrupted", 130)]
    assert b"Traceback" not in err


def test_caps_are_far_above_the_largest_real_responses(samples: Path) -> None:
    """The caps leave room: the largest recorded response is at most a twentieth of its cap."""
    from arxivfilter.transport import ARXIV_CAPS

    largest = {
        "rss": max(p.stat().st_size for p in (samples / "B_rss_feeds").rglob("*.xml")),
        "oai": max(p.stat().st_size for p in (samples / "C_oai_pmh").rglob("*.xml")),
        "api": max(p.stat().st_size for p in (samples / "A_api_atom").rglob("*.xml")),
    }
    for kind, size in largest.items():
        assert size * 20 < ARXIV_CAPS[kind], (kind, size / MIB)


# --------------------------------------------------------------------------- trust

KEY = "sk-proj-Zq8vT3mK9wLx2Rb7Hc4Nd1Fs6Gj0Pe5Yu"
CORE = KEY.removeprefix("sk-proj-")


def leaks(text: str | None) -> list[str]:
    """Every run of 6 characters of the key's secret part found in ``text``."""
    text = text or ""
    return [CORE[i : i + 6] for i in range(len(CORE) - 5) if CORE[i : i + 6] in text]


def test_llm_out_of_range_answer_fails_after_one_follow_up(hostile: str) -> None:
    """relevance 1e9 over the wire: invalid, one follow-up (also 1e9), then failed; never 100."""
    sink, _ = judge(llm_settings(hostile, "llm-values"), papers(1))
    got = sink.results["2601.00001"]
    assert (got.status, got.relevance) == ("failed", None)
    assert [c.status for c in sink.calls] == ["invalid", "invalid"]


def test_llm_echoing_the_key_without_its_prefix_is_masked(hostile: str) -> None:
    """A server quoting the key minus 'sk-proj-' in TL;DR and reason: nothing of it is kept."""
    sink, _ = judge(llm_settings(hostile, "llm-echo"), papers(2))
    for result in sink.results.values():
        assert result.status == "ok"
        assert not leaks(result.tldr) and not leaks(result.reason)
    for call in sink.calls:
        assert not leaks(call.raw_reply) and not leaks(call.error)


def test_masker_catches_the_secret_part_and_fragments_at_cuts() -> None:
    """The key without its prefix, a 7-character piece at a cut, a piece inside a word,
    and URL credentials are all masked; ordinary text is left alone."""
    from arxivfilter.logs import SecretMasker

    masker = SecretMasker([KEY])
    samples = [
        f"token {CORE} echoed",
        f"cut here: {CORE[:7]}",
        f"{CORE[-5:]} was the start of this text",
        f"x{CORE[10:22]}y in a word",
        f"Bearer {KEY}",
    ]
    for text in samples:
        assert not leaks(masker.mask(text)), text
    assert CORE[:5] not in masker.mask(f"the end {CORE[:5]}")
    assert masker.mask("postgresql://af:hunter2pw@db/x") == "postgresql://af:****@db/x"
    assert masker.mask("A paper on KV caches and serving.") == "A paper on KV caches and serving."


def test_config_masks_credentials_in_urls(capsys: pytest.CaptureFixture[str]) -> None:
    """`arxivfilter config` never prints the password of a base or database URL."""
    from arxivfilter.cli import main

    os.environ["OPENAI_BASE_URL"] = "https://proxyuser:topsecretpw@proxy.example/v1"
    os.environ["ARXIVFILTER_DB_URL"] = "postgresql+psycopg://af:hunter2pw@db.example/af"
    try:
        assert main(["config"]) == 0
    finally:
        del os.environ["OPENAI_BASE_URL"], os.environ["ARXIVFILTER_DB_URL"]
    out = capsys.readouterr()
    assert "topsecretpw" not in out.out + out.err and "hunter2pw" not in out.out + out.err
    assert "proxyuser:****@proxy.example" in out.out


# --------------------------------------------------------------------------- state


def test_a_database_corrupted_mid_file_is_exit_5_everywhere_and_never_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A page of the runs table overwritten: run, runs, show and export all exit 5, and the
    file is byte for byte what it was (checked with quick_check before anything writes)."""
    from arxivfilter.cli import main

    source = ROOT / "tests" / "fixtures" / "feeds" / "export.jsonl"
    db = Path("data/arxivfilter.db")
    assert main(["run", "--source", str(source), "--scorer", "local", "--categories", "all"]) == 0
    conn = sqlite3.connect(db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(db.read_bytes())
    data[(root - 1) * page : root * page] = b"\xa5" * page
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    capsys.readouterr()
    for args in (
        ["run", "--source", str(source), "--scorer", "local", "--categories", "all"],
        ["runs"],
        ["show", "2602.20217"],
        ["export", "--date", "2026-02-24"],
    ):
        assert main(args) == 5, args
        err = capsys.readouterr().err
        assert "corrupt" in err and "Traceback" not in err, (args, err)
    assert db.read_bytes() == before


# --------------------------------------------------------------------------- ids

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from arxivfilter.text import MAX_VERSION, parse_arxiv_id, record_problem  # noqa: E402

ASCII_DIGIT = st.sampled_from("0123456789")
UNICODE_DIGIT = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())


@given(st.text(max_size=60))
def test_id_parser_raises_only_value_error(raw: str) -> None:
    """Any text: an (id, version) with ASCII digits and a sane version, or ValueError."""
    try:
        ident, version = parse_arxiv_id(raw)
    except ValueError:
        return
    assert ident.isascii() and record_problem(ident, version) is None


@given(
    st.text(ASCII_DIGIT, min_size=4, max_size=4),
    st.text(ASCII_DIGIT, min_size=5, max_size=5),
    st.integers(min_value=1, max_value=MAX_VERSION),
)
def test_id_parser_round_trips_real_ids(month: str, number: str, version: int) -> None:
    assert parse_arxiv_id(f"arXiv:{month}.{number}v{version}") == (f"{month}.{number}", version)


@given(st.integers(min_value=MAX_VERSION + 1, max_value=10**40))
def test_absurd_versions_are_refused_not_overflowed(version: int) -> None:
    """v99999999999999999999999 is no version: ValueError (the record is skipped), never an
    integer too large for SQLite."""
    with pytest.raises(ValueError, match="version"):
        parse_arxiv_id(f"2512.90010v{version}")
    assert record_problem("2512.90010", version) is not None


@given(st.lists(UNICODE_DIGIT, min_size=1, max_size=3), st.integers(min_value=0, max_value=8))
def test_non_ascii_digits_are_no_id(digits: list[str], at: int) -> None:
    """'２５１２.９００１０', '٢٥٠١.٠٠٠١٢': Unicode digits anywhere in the id are refused."""
    chars = list("2512.90010")
    for i, d in enumerate(digits):
        pos = (at + i) % len(chars)
        if chars[pos] != ".":
            chars[pos] = d
    raw = "".join(chars)
    if raw.isascii():
        return
    with pytest.raises(ValueError):
        parse_arxiv_id(raw)
    assert record_problem(raw, None) is not None


def test_replayed_hostile_records_are_skipped_with_one_warning_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In a replay: a fullwidth-digit id, an Arabic-digit id, an absurd version and a record
    dated 2099 are skipped with a warning each; the good record is stored; nothing crashes."""
    import json as _json

    from arxivfilter.cli import main

    good = {
        "schema": 1,
        "arxiv_id": "2602.20217",
        "version": 1,
        "title": "Good",
        "authors": ["A"],
        "abstract": "Fine.",
        "categories": ["cs.DC"],
        "primary_category": "cs.DC",
        "comment": None,
        "announcements": [{"date": "2026-02-24", "category": "cs.DC", "type": "new"}],
    }
    bad = [
        {**good, "arxiv_id": "２５１２.９００１０", "title": "Fullwidth"},
        {**good, "arxiv_id": "٢٥٠١.٠٠٠١٢", "title": "Arabic"},
        {**good, "arxiv_id": "2602.20218", "version": 99999999999999999999999, "title": "Absurd"},
        {
            **good,
            "arxiv_id": "2602.20219",
            "title": "Future",
            "announcements": [{"date": "2099-01-01", "category": "cs.DC", "type": "new"}],
        },
    ]
    path = Path("hostile.jsonl")
    path.write_text("".join(_json.dumps(r, ensure_ascii=False) + "\n" for r in [good, *bad]))
    assert main(["fetch", "--source", str(path), "--categories", "all"]) == 0
    events = [_json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    warnings = [e for e in events if e.get("level") == "warning"]
    skipped = [e for e in warnings if "skipped" in e["event"]]
    future = [e for e in warnings if "after today" in e["event"]]
    assert len(skipped) == 3, warnings
    assert len(future) == 1 and future[0]["date"] == "2099-01-01"
    conn = sqlite3.connect("data/arxivfilter.db")
    ids = {r[0] for r in conn.execute("SELECT arxiv_id FROM papers")}
    dates = {r[0] for r in conn.execute("SELECT date FROM announcements")}
    conn.close()
    assert ids == {"2602.20217"} and "2099-01-01" not in dates


def test_a_large_database_gets_the_structural_check_and_still_finds_a_corrupt_page(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Past the full-check size (FULL_CHECK_MAX_BYTES, 0 here) a healthy file passes and a
    table's or an index's overwritten root page is still exit 5, the file untouched."""
    from arxivfilter import store
    from arxivfilter.errors import StorageError

    monkeypatch.setattr(store, "FULL_CHECK_MAX_BYTES", 0)
    db = tmp_path / "big.db"
    engine = store.make_engine(f"sqlite:///{db}")
    engine.dispose()
    store.check_integrity(db)  # healthy: passes without quick_check
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    roots = dict(
        conn.execute(
            "SELECT type, rootpage FROM sqlite_master WHERE name IN ('runs', 'ix_judgements_paper_profile_status')"
        ).fetchall()
    )
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    clean = db.read_bytes()
    for kind, root in roots.items():
        data = bytearray(clean)
        data[(root - 1) * page : root * page] = b"\xa5" * page
        db.write_bytes(bytes(data))
        with pytest.raises(StorageError, match=r"corrupt|cannot be read"):
            store.check_integrity(db)
        assert db.read_bytes() == bytes(data), kind
