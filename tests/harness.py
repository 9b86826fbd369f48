"""Helpers shared by the end-to-end, fault, crash and secret tests.

* :class:`FakeLlm`: a respx side effect speaking OpenAI chat completions, whose judgement of
  a paper is a pure function of its id (so runs are reproducible), with per-paper faults.
* :func:`make_app`: a :class:`~arxivfilter.pipeline.App` wired to injected httpx clients, a
  fake arXiv limiter and a scorer that never really sleeps.
* Database helpers: dump every table, run ``PRAGMA integrity_check``, store the shipped
  profiles' liked examples (:func:`store_liked_examples`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from arxivfilter import pipeline
from arxivfilter.config import Settings, load_settings
from arxivfilter.fetch.http import Limiter
from tests.fakes import FakeClock

LLM_BASE = "http://llm.test/v1"
LLM_CHAT = f"{LLM_BASE}/chat/completions"
_PAPER = re.compile(r'<paper id="([^"]*)">')

Fault = Callable[[httpx.Request, str], httpx.Response | None]


def completion(
    content: Any, *, prompt: int = 100, completion_tokens: int = 20, cached: int = 0
) -> httpx.Response:
    """A 200 chat completion whose message is ``content`` (a str, or JSON-encoded); ``cached``
    of the prompt tokens reported as served from the provider's prompt cache."""
    text = content if isinstance(content, str) else json.dumps(content)
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": "test-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        },
    )


def api_error(status: int, message: str, code: str | None = None, **headers: str) -> httpx.Response:
    """An OpenAI-style error body."""
    body = {"error": {"message": message, "type": "error", "param": None, "code": code}}
    return httpx.Response(status, json=body, headers=headers)


def relevance_of(arxiv_id: str) -> int:
    """The fake model's relevance for a paper: a stable number in 0..100 from its id."""
    return int(hashlib.sha256(f"rel:{arxiv_id}".encode()).hexdigest()[:8], 16) % 101


def hype_of(arxiv_id: str) -> int:
    return int(hashlib.sha256(f"hype:{arxiv_id}".encode()).hexdigest()[:8], 16) % 101


@dataclass
class FakeLlm:
    """A respx side effect: a valid judgement per paper, unless a fault answers first.

    ``faults`` maps an arXiv id to a function ``(request, id) -> Response | None`` (None:
    answer normally); ``default_fault`` applies to every paper. Every request is kept.
    """

    faults: dict[str, Fault] = field(default_factory=dict)
    default_fault: Fault | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    tags: tuple[str, ...] = ()

    def judgement(self, arxiv_id: str) -> dict[str, Any]:
        return {
            "relevance": relevance_of(arxiv_id),
            "hype": hype_of(arxiv_id),
            "tags": list(self.tags[:1]),
            "tldr": f"TL;DR of {arxiv_id}.",
            "reason": f"Reason for {arxiv_id}.",
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        user = next(
            (m["content"] for m in reversed(body["messages"]) if "<paper id=" in m["content"]), ""
        )
        ids = _PAPER.findall(user)
        assert len(ids) == 1, "these tests send one paper per call"
        pid = ids[0]
        for fault in (self.faults.get(pid), self.default_fault):
            if fault is not None:
                answer = fault(request, pid)
                if answer is not None:
                    return answer
        return completion(self.judgement(pid))

    def papers_sent(self) -> list[str]:
        """The paper id of every request, in order."""
        out = []
        for body in self.requests:
            user = next(m["content"] for m in body["messages"] if m["role"] == "user")
            out.extend(_PAPER.findall(user))
        return out


def llm_settings(**env: str) -> Settings:
    """Settings from the shipped config with an LLM configured (base URL + key) and ``env``."""
    base = {
        "OPENAI_BASE_URL": LLM_BASE,
        "OPENAI_API_KEY": "sk-test-harness-0000",
        "ARXIVFILTER_MODEL": "test-model",
    }
    base.update(env)
    return load_settings(env=base)


async def _no_sleep(_seconds: float) -> None:
    return None


def make_app(
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    clock: FakeClock | None = None,
    sleeps: list[float] | None = None,
) -> pipeline.App:
    """An App on injected clients: respx sees both, and nothing really sleeps."""
    clock = clock or FakeClock()
    slept = [0.0]  # the scorer's clock: real time plus what it 'slept'

    async def sleep(seconds: float) -> None:
        slept[0] += seconds
        if sleeps is not None:
            sleeps.append(seconds)

    return pipeline.App(
        settings,
        now=(lambda: now) if now is not None else None,
        arxiv_http=httpx.Client(),
        llm_http=httpx.AsyncClient(),
        limiter=Limiter(3.0, clock=clock.clock, sleep=clock.sleep),
        scorer_hooks={"sleep": sleep, "clock": lambda: time.monotonic() + slept[0]},
    )


# --------------------------------------------------------------------------- database


def db_path(settings_or_url: Settings | str) -> Path:
    url = settings_or_url if isinstance(settings_or_url, str) else settings_or_url.storage.db_url
    return Path(url.split("///", 1)[1])


def dump_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (read-only connection)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        ]
        return {n: conn.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def count(path: Path, sql: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def files_under(root: Path) -> Mapping[str, bytes]:
    """Relative path -> bytes of every file under ``root``."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def store_liked_examples(db_url: str) -> None:
    """The shipped profiles' liked example papers, stored in the database at ``db_url`` with
    synthetic text, as a live run would have fetched them: ``score`` would otherwise ask
    arXiv for them (there is no network here). Used by whole-process tests and benches."""
    from sqlmodel import Session

    from arxivfilter import store
    from arxivfilter.config import load_profiles
    from arxivfilter.models import Entry
    from arxivfilter.score.learned import profile_example_ids

    ids = sorted(set().union(*(profile_example_ids(p) for p in load_profiles())))
    engine = store.make_engine(db_url)
    with Session(engine) as session:
        store.store_papers(
            session,
            [
                Entry(
                    arxiv_id=i,
                    version=1,
                    title=f"Example {i}: kv cache serving for large language model inference",
                    authors=["A B"],
                    abstract="Serving large language models with paged kv cache memory. " * 8,
                    categories=["cs.DC"],
                    source="api",
                )
                for i in ids
            ],
        )
    engine.dispose()
