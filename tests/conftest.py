"""Shared fixtures: an isolated working directory per test, and the recorded samples."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# No per-example deadline: on a loaded 2-core CI machine a 200 ms deadline is a timed
# assertion in disguise (test_normalise_author_is_idempotent_and_clean failed on one).
# Speed belongs in bench/, correctness here.
settings.register_profile(
    "arxivfilter", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("arxivfilter")

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ.get("ARXIVFILTER_SAMPLES_DIR", ROOT.parent / "shared" / "arxiv-samples"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"

pytest_plugins = ["tests.stub_llm"]


def _require(flag: str) -> bool:
    return os.environ.get(flag, "") not in ("", "0")


@pytest.fixture(scope="session")
def samples() -> Path:
    """The real recorded arXiv data in ../shared/arxiv-samples (skip when absent)."""
    if not SAMPLES.is_dir():
        if _require("ARXIVFILTER_REQUIRE_SAMPLES"):
            pytest.fail(f"ARXIVFILTER_REQUIRE_SAMPLES=1 but {SAMPLES} is missing")
        pytest.skip(f"samples not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture(scope="session")
def fixtures() -> Path:
    """This project's own small fixtures (shapes the samples lack)."""
    return FIXTURES


def _local_hosts() -> set[str]:
    """This machine's names, and the PostgreSQL server the tests are pointed at (which may be
    a container or a host on the LAN)."""
    from urllib.parse import urlsplit

    hosts = {"localhost", "127.0.0.1", "::1", "ip6-localhost", socket.gethostname()}
    pg = os.environ.get("ARXIVFILTER_TEST_PG_URL")
    if pg and urlsplit(pg).hostname:
        hosts.add(str(urlsplit(pg).hostname))
    return {h.lower() for h in hosts}


_LOCAL_HOSTS = _local_hosts()


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """No test reaches a host beyond this machine and the test PostgreSQL server (arXiv, an
    LLM API): name resolution of any other host fails at once, as on an offline machine,
    and the test fails naming it
    (one did reach for the real arXiv and waited out its retries). In-process only: the
    subprocess tests point at stand-in servers on 127.0.0.1."""
    tried: list[str] = []
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if host is not None and name.lower() not in _LOCAL_HOSTS:
            tried.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach no internet host ({name})")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)
    yield tried
    assert not tried, f"the test tried to reach the internet: {sorted(set(tried))}"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test runs in its own working directory with no ARXIVFILTER_/OPENAI_ variables."""
    for name in list(os.environ):
        if (
            name.startswith("ARXIVFILTER_")
            and not name.startswith("ARXIVFILTER_TEST_")
            and not name.startswith("ARXIVFILTER_REQUIRE_")
            and name != "ARXIVFILTER_SAMPLES_DIR"
        ):
            monkeypatch.delenv(name)
        if name.startswith("OPENAI_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work
    # a CLI test configures logging for the process: give the next test the defaults back
    import structlog

    structlog.reset_defaults()


def _pg_url_for_worker(base: str, worker: str) -> str:
    """A per-xdist-worker schema on the test database, so parallel workers never collide."""
    import sqlalchemy as sa

    schema = f"t_{worker}".replace("-", "_")
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, worker_id: str) -> str:
    """A fresh database URL: SQLite in tmp_path, and PostgreSQL when ARXIVFILTER_TEST_PG_URL is set."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    base = os.environ.get("ARXIVFILTER_TEST_PG_URL", "")
    if not base:
        if _require("ARXIVFILTER_REQUIRE_PG"):
            pytest.fail("ARXIVFILTER_REQUIRE_PG=1 but ARXIVFILTER_TEST_PG_URL is not set")
        pytest.skip("PostgreSQL not configured (ARXIVFILTER_TEST_PG_URL)")
    return _pg_url_for_worker(base, worker_id)
