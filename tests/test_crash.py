"""Crashes and races, with real processes: SIGKILL mid-fetch and mid-scoring, two runs at once.

``arxivfilter`` runs as a subprocess (``python -m arxivfilter.cli``); the LLM side is the stub
server of ``tests/stub_llm.py`` in its own process, and arXiv (for the fetch case) a tiny
loopback server in this process that serves the recorded feed. After each crash the next
run must finish with no duplicate rows, no lost judgement, and files byte-identical to an
uninterrupted run in another folder. Every process is bounded in time and always reaped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from arxivfilter import dates
from arxivfilter.config import load_settings
from arxivfilter.fetch.rss import parse_rss
from tests.fakes import api_feed
from tests.harness import dump_tables, files_under, integrity

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "2025-12-16.jsonl"
CATS = "cs.DC,cs.OS"
DEMO_PAPERS = 28  # of the demo day carry cs.DC or cs.OS
PROFILES = 2
TIMEOUT = 60.0


# =========================================================================== processes


@contextlib.contextmanager
def spawn(args: list[str], **kw: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A child process that is killed and reaped whatever happens."""
    proc = subprocess.Popen(args, **kw)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def wait_for(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def stub_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The stub LLM server in its own process (loopback, 0.05 s per call)."""
    port_file = tmp_path_factory.mktemp("stub") / "port"
    args = [sys.executable, "-m", "tests.stub_llm", "--port", "0", "--port-file", str(port_file)]
    args += ["--latency", "0.05"]
    with spawn(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        wait_for(port_file.exists, "the stub LLM server", 20)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}/v1"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def child_env(stub_url: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARXIVFILTER_", "OPENAI_"))}
    env["ARXIVFILTER_LLM__CONCURRENCY"] = "2"
    if stub_url:
        env["OPENAI_BASE_URL"] = stub_url
        env["ARXIVFILTER_MODEL"] = "stub-model"
    env.update(extra)
    return env


def arxivfilter(*args: str) -> list[str]:
    return [sys.executable, "-m", "arxivfilter.cli", *args]


def run_to_end(folder: Path, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    with spawn(
        arxivfilter(*args), cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out.decode(), err.decode()


def db(folder: Path) -> Path:
    return folder / "data" / "arxivfilter.db"


def scalar(folder: Path, sql: str) -> int:
    """A count from the child's database, 0 while it does not exist yet."""
    if not db(folder).exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db(folder)}?mode=ro", uri=True, timeout=1)
        try:
            return int(conn.execute(sql).fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def content(folder: Path) -> dict[str, Any]:
    """What must match between two runs: rows without ids or clocks, and every output file."""
    rows = dump_tables(db(folder))
    conn = sqlite3.connect(f"file:{db(folder)}?mode=ro", uri=True)
    try:
        judgements = sorted(
            conn.execute(
                "SELECT cache_key, arxiv_id, profile, status, relevance, hype, tags, tldr, reason "
                "FROM judgements"
            ).fetchall()
        )
        announcements = sorted(
            conn.execute("SELECT arxiv_id, date, category, type, text_hash FROM announcements")
        )
        papers = sorted(conn.execute("SELECT arxiv_id, version, title, abstract FROM papers"))
    finally:
        conn.close()
    assert len(rows["judgements"]) == len(judgements)
    return {
        "judgements": judgements,
        "announcements": announcements,
        "papers": papers,
        "files": files_under(folder / "digests"),
    }


@pytest.fixture(scope="module")
def reference(stub_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An uninterrupted run of the demo day's cs.DC/cs.OS papers, scored by the stub."""
    folder = tmp_path_factory.mktemp("reference")
    code, out, err = run_to_end(
        folder, ["run", "--source", str(DEMO), "--categories", CATS, "--json"], child_env(stub_url)
    )
    assert code == 0, err
    assert json.loads(out)["score"]["judged"] == DEMO_PAPERS * PROFILES
    return content(folder)


# =========================================================================== kill mid-scoring


def test_killed_mid_scoring_resumes_without_redoing_or_losing(
    tmp_path: Path, stub_url: str, reference: dict[str, Any]
) -> None:
    """SIGKILL mid-scoring: the next run judges only the rest and ends as if never interrupted."""
    folder = tmp_path / "crashed"
    folder.mkdir()
    env = child_env(stub_url)
    args = ["run", "--source", str(DEMO), "--categories", CATS, "--json"]
    with spawn(
        arxivfilter(*args), cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as proc:
        wait_for(
            lambda: (
                proc.poll() is not None or scalar(folder, "SELECT COUNT(*) FROM judgements") >= 6
            ),
            "the first judgements",
        )
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    before = dump_tables(db(folder))["judgements"]
    assert 6 <= len(before) < DEMO_PAPERS * PROFILES, "killed in the middle of scoring"
    assert scalar(folder, "SELECT COUNT(*) FROM runs WHERE status = 'running'") == 1
    assert integrity(db(folder)) == "ok"

    code, out, err = run_to_end(folder, args, env)

    assert code == 0, err
    summary = json.loads(out)["score"]
    assert summary["cached"] == len(before)
    assert summary["judged"] == DEMO_PAPERS * PROFILES - len(before)
    after = dump_tables(db(folder))["judgements"]
    assert set(before) <= set(after), "a judgement made before the kill was lost or redone"
    assert content(folder) == reference
    statuses = [r[0] for r in sqlite3.connect(db(folder)).execute("SELECT status FROM runs")]
    assert statuses == ["aborted", "ok"]


# =========================================================================== kill mid-fetch


class ArxivServer:
    """A loopback stand-in for rss.arxiv.org and the export API, serving a recorded listing.

    The feed's dates are moved to today's latest listing (the child's clock decides which
    listing it asks for). Export-API requests wait while ``hold`` is set.
    """

    def __init__(self, feed: bytes) -> None:
        self.feed = feed
        self.entries = {e.arxiv_id: e for e in parse_rss(feed, "recorded").entries}
        self.hold = threading.Event()
        self.api_asked = threading.Event()
        self.requests: list[str] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                server.requests.append(self.path)
                if self.path.startswith("/rss/"):
                    body = server.todays_feed()
                elif self.path.startswith("/api/query"):
                    server.api_asked.set()
                    deadline = time.monotonic() + TIMEOUT
                    while server.hold.is_set() and time.monotonic() < deadline:
                        time.sleep(0.02)
                    ids = parse_qs(urlsplit(self.path).query)["id_list"][0].split(",")
                    body = api_feed(server.entries[i] for i in ids if i in server.entries)
                else:
                    self.send_error(404)
                    return
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/xml; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        return Handler

    def todays_feed(self) -> bytes:
        holidays = load_settings(env={}).holiday_dates
        day = dates.latest_listing(dt.datetime.now(dt.UTC), holidays)
        stamp = f"<pubDate>{day:%a, %d %b %Y} 00:00:00 -0500</pubDate>".encode()
        return re.sub(rb"<pubDate>[^<]*</pubDate>", stamp, self.feed)

    def __enter__(self) -> ArxivServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hold.clear()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _dc_os_feed(samples: Path) -> bytes:
    """The recorded feed of 2024-11-28 cut to its cs.DC/cs.OS items (text unchanged)."""
    feed = (samples / "B_rss_feeds/aioarxiv_rss_2024-11-28/rss_mock_feed.cs_only.xml").read_bytes()
    items = list(re.finditer(rb"<item>.*?</item>\s*", feed, re.DOTALL))
    keep = [
        m.group(0) for m in items if re.search(rb"<category>cs\.(DC|OS)</category>", m.group(0))
    ]
    return feed[: items[0].start()] + b"".join(keep) + feed[items[-1].end() :]


def test_killed_mid_fetch_refetches_and_ends_identical(samples: Path, tmp_path: Path) -> None:
    """SIGKILL mid-fetch: nothing half-stored; the next run fetches again and ends as a clean run."""
    with ArxivServer(_dc_os_feed(samples)) as arxiv:
        env = child_env(
            ARXIVFILTER_ARXIV__RSS_URL=f"{arxiv.url}/rss/",
            ARXIVFILTER_ARXIV__API_URL=f"{arxiv.url}/api/query",
            ARXIVFILTER_ARXIV__API_BATCH_SIZE="2000",
            ARXIVFILTER_ARXIV__RETRY_ATTEMPTS="1",
            ARXIVFILTER_ARXIV__TIMEOUT_SECONDS=str(TIMEOUT),
        )
        args = ["run", "--categories", CATS, "--scorer", "local", "--json"]
        crashed, clean = tmp_path / "crashed", tmp_path / "clean"
        crashed.mkdir()
        arxiv.hold.set()
        with spawn(
            arxivfilter(*args),
            cwd=crashed,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as proc:
            assert arxiv.api_asked.wait(TIMEOUT), "the child never reached the export API"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        raw = next((crashed / "data" / "raw").iterdir())
        assert not (raw / "complete.json").exists()
        assert [p.name.startswith("127_0_0_1") for p in raw.iterdir()] == [True]  # the RSS
        assert scalar(crashed, "SELECT COUNT(*) FROM papers") == 0
        arxiv.hold.clear()

        results: dict[str, tuple[int, str, str]] = {}
        threads = [
            threading.Thread(target=lambda f=f: results.update({f.name: run_to_end(f, args, env)}))
            for f in (crashed, clean)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=TIMEOUT + 10)

    for name, (code, _out, err) in results.items():
        assert code == 0, (name, err)
    resumed = json.loads(results["crashed"][1])
    assert resumed["fetch"]["papers"] == len(arxiv.entries) > 10
    assert resumed["fetch"]["requests"] == 2
    assert (raw / "complete.json").exists()
    assert content(crashed) == content(clean)
    statuses = [r[0] for r in sqlite3.connect(db(crashed)).execute("SELECT status FROM runs")]
    assert statuses == ["aborted", "ok"]
    assert integrity(db(crashed)) == "ok"


# =========================================================================== two at once


def _run_times(folder: Path) -> list[tuple[str, str, str | None]]:
    conn = sqlite3.connect(db(folder))
    try:
        return list(conn.execute("SELECT status, started_at, finished_at FROM runs ORDER BY id"))
    finally:
        conn.close()


@pytest.mark.parametrize("wait", [0, 60])
def test_two_runs_started_at_once_never_corrupt(
    tmp_path: Path, stub_url: str, reference: dict[str, Any], wait: int
) -> None:
    """Two runs at once: the second exits 4 or waits its turn; the result equals one clean run."""
    folder = tmp_path / "shared"
    folder.mkdir()
    env = child_env(stub_url, ARXIVFILTER_RUN__LOCK_TIMEOUT_SECONDS=str(wait))
    args = ["run", "--source", str(DEMO), "--categories", CATS]
    with (
        spawn(
            arxivfilter(*args), cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as one,
        spawn(
            arxivfilter(*args), cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as two,
    ):
        results = [p.communicate(timeout=TIMEOUT) for p in (one, two)]
    codes = sorted(p.returncode for p in (one, two))
    errors = [err.decode() for _out, err in results]
    runs = _run_times(folder)
    if wait:
        assert codes == [0, 0], errors
        assert [r[0] for r in runs] == ["ok", "ok"]
        assert runs[1][1] >= runs[0][2], "the second run started before the first finished"
    else:
        assert codes in ([0, 4], [0, 0]), errors
        if codes == [0, 4]:
            line = next(e for e in errors if "lock" in e)
            assert "another arxivfilter run holds the lock" in line
            assert len(runs) == 1
        else:  # no overlap after all: the second ran after the first
            assert runs[1][1] >= runs[0][2]
    assert integrity(db(folder)) == "ok"
    assert content(folder) == reference
