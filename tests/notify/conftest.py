"""Fixtures for the delivery tests: a database with judged papers, a config with
recipients, TLS certificates from a throw-away CA, and a real SMTP server process."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Settings, load_profiles, load_settings
from arxivfilter.models import Entry, Judgement
from arxivfilter.text import text_hash

SERVER = Path(__file__).resolve().parent / "smtp_server.py"
DAY = dt.date(2025, 12, 16)
HOSTILE = (
    '<img src=x onerror=alert(1)> </script><script>alert(2)</script> "q" & <!channel> @everyone'
)


@dataclass
class Paper:
    arxiv_id: str
    title: str
    relevance: dict[str, int]  # profile -> relevance
    abstract: str = "We study inference."
    tags: tuple[str, ...] = ("serving",)
    date: dt.date = DAY


PAPERS = [
    Paper("2512.00001", "Paged KV cache for serving", {"llm-inference": 95, "llm-systems": 80}),
    Paper("2512.00002", HOSTILE, {"llm-inference": 88, "llm-systems": 20}, tags=("kv-cache",)),
    Paper("2512.00003", "Speculative decoding at scale", {"llm-inference": 75, "llm-systems": 75}),
    Paper("2512.00004", "A survey of graph databases", {"llm-inference": 10, "llm-systems": 30}),
    Paper(
        "2512.00005", "Cluster scheduling for training", {"llm-inference": 40, "llm-systems": 90}
    ),
]


def add_papers(db_url: str, papers: list[Paper] = PAPERS) -> None:
    """Store ``papers`` with a local judgement per profile (as the scorer would)."""
    engine = store.make_engine(db_url)
    profiles = {p.name: p for p in load_profiles()}
    with Session(engine, expire_on_commit=False) as session:
        entries = [
            Entry(
                arxiv_id=p.arxiv_id,
                version=1,
                title=p.title,
                authors=["Ada Lovelace", "Alan Turing"],
                abstract=p.abstract,
                categories=["cs.DC"],
                primary_category="cs.DC",
                announce_date=p.date,
                announce_type="new",
                source="rss",
            )
            for p in papers
        ]
        store.store_entries(session, entries, categories=None)
        for p in papers:
            for name, rel in p.relevance.items():
                prof = profiles[name]
                store.save_judgement(
                    session,
                    Judgement(
                        cache_key=f"{p.arxiv_id}-{name}-{p.date}",
                        arxiv_id=p.arxiv_id,
                        profile=name,
                        scorer="local",
                        model="local-test",
                        text_hash=text_hash(p.title, p.abstract),
                        profile_hash=prof.content_hash,
                        prompt_hash="x",
                        status="ok",
                        relevance=rel,
                        tags=list(p.tags),
                        tldr=f"TL;DR of {p.arxiv_id}.",
                        reason="because",
                    ),
                )
    engine.dispose()


def write_config(path: Path, body: str, db_url: str) -> Settings:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[storage]\ndb_url = "{db_url}"\n\n[notify]\nmin_interval_seconds = 0\n{body}')
    return load_settings(env={"ARXIVFILTER_CONFIG": str(path)}, path=path)


SUBSCRIBERS = """
[[notify.subscribers]]
address = "ada@example.org"
profiles = ["llm-inference"]

[[notify.subscribers]]
address = "bob@example.org"
profiles = ["llm-systems", "llm-inference"]
min_relevance = 85

[[notify.subscribers]]
address = "carol@example.org"
profiles = ["llm-inference"]
keywords = ["speculative decoding"]

[[notify.subscribers]]
address = "nobody@example.org"
profiles = ["llm-inference"]
keywords = ["quantum"]
"""


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'notify.db'}"


# --------------------------------------------------------------------------- TLS


@dataclass
class Certs:
    ca: Path
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A throw-away CA and a server certificate for 127.0.0.1 (trustme)."""
    import trustme

    folder = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    paths = Certs(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    ca.cert_pem.write_to_path(str(paths.ca))
    server.private_key_pem.write_to_path(str(paths.key))
    for i, blob in enumerate(server.cert_chain_pems):
        blob.write_to_path(str(paths.cert), append=i > 0)
    return paths


# --------------------------------------------------------------------------- SMTP server


@dataclass
class SmtpServer:
    port: int
    folder: Path
    process: subprocess.Popen[bytes]

    def messages(self) -> list[EmailMessage]:
        out = []
        for path in sorted(self.folder.glob("*.eml")):
            msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            out.append(msg)
        return out

    def envelopes(self) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted(self.folder.glob("*.json"))]

    def env(self, **extra: str) -> dict[str, str]:
        base = {
            "ARXIVFILTER_SMTP_HOST": "127.0.0.1",
            "ARXIVFILTER_SMTP_PORT": str(self.port),
            "ARXIVFILTER_SMTP_FROM": "arxivfilter <digest@example.org>",
            "ARXIVFILTER_SMTP_TLS": "none",
        }
        base.update(extra)
        return base

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def start_smtp(folder: Path, *args: str) -> SmtpServer:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--dir", str(folder), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    line = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() or proc.poll() is not None:
            break
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError(f"the SMTP test server did not start: {line!r}")
    return SmtpServer(int(line), folder, proc)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[Any]:
    """``smtp(*args)`` starts a server (args of smtp_server.py); all are killed afterwards."""
    started: list[SmtpServer] = []

    def start(*args: str) -> SmtpServer:
        server = start_smtp(tmp_path / f"smtp{len(started)}", *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
