"""A small OpenAI-compatible chat-completions server for tests (loopback only).

``POST /v1/chat/completions`` answers every ``<paper id="...">`` block of the request
with a valid judgement derived from the paper's text alone (so an interrupted and an
uninterrupted run get the same answers), plus ``usage`` (4 characters per token; the
system message counts as cached from its second sighting on).

Faults, all configurable and all decided from the request's content and how many
times that same request was seen (so concurrency does not change them):
latency per call, a requests-per-minute limit answered with 429 + ``Retry-After``,
the first N sightings of each request answered 429, a share of 500s, a share of
replies whose JSON is cut off mid-string, a share of calls that hang, refusing
``json_schema`` with HTTP 500 like llama-cpp-python, 401 without the expected key,
429 ``insufficient_quota``, a context-length 400 above a prompt size.

``GET /stats`` gives the counters (calls, statuses, peak concurrency);
``POST /config`` with a JSON object changes settings of a running server.

Run it alone: ``python -m tests.stub_llm --port 8765 --latency 0.2 --error-rate 0.1``
(or ``python tests/stub_llm.py ...``): it prints ``STUB_LLM_URL=http://127.0.0.1:PORT/v1``
once it listens. In pytest: the ``stub_llm`` fixture below, or ``running(StubConfig(...))``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LLAMA_CPP_REFUSAL = (
    "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema', "
    "'ctx': {'expected': \"'text' or 'json_object'\"}}]"
)
_PAPER = re.compile(r'<paper id="([^"]*)">\s*(.*?)\s*</paper>', re.DOTALL)
_ABSTRACT = re.compile(r"^Abstract: (.*)$", re.MULTILINE)


@dataclass
class StubConfig:
    """What the stub does; every field can be changed while it runs."""

    latency: float = 0.0  # seconds added to every call
    rpm: int = 0  # requests per minute; above it: 429 + Retry-After (0: no limit)
    rate_limit_first: int = 0  # each distinct request is answered 429 this many times first
    retry_after: float = 1.0  # Retry-After (seconds) sent with rate_limit_first 429s
    error_rate: float = 0.0  # share of calls answered HTTP 500
    malformed_rate: float = 0.0  # share of 200 replies whose JSON is cut off mid-string
    hang_rate: float = 0.0  # share of calls that never answer (until hang_seconds)
    hang_seconds: float = 3600.0
    refuse_json_schema: bool = False  # answer json_schema with HTTP 500 like llama-cpp-python
    api_key: str | None = None  # when set, other keys get 401
    quota_exhausted: bool = False  # answer every call 429 insufficient_quota
    quota_after: int = (
        0  # once this many calls were let through to an answer, as quota_exhausted (0: never)
    )
    max_prompt_chars: int = 0  # above it: 400 context length exceeded (0: no limit)
    model: str = "stub-model"
    seed: int = 0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)


@dataclass
class StubStats:
    """Counters of a running stub."""

    calls: int = 0
    admitted: int = 0  # calls let past the quota gate to be answered
    in_flight: int = 0
    peak_concurrency: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    modes: Counter[str] = field(default_factory=Counter)
    papers_served: Counter[str] = field(default_factory=Counter)  # id -> valid answers sent
    bodies: list[dict[str, Any]] = field(default_factory=list)  # every request, parsed

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "admitted": self.admitted,
            "in_flight": self.in_flight,
            "peak_concurrency": self.peak_concurrency,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "modes": dict(self.modes),
            "papers_served": len(self.papers_served),
        }


def _fraction(*parts: object) -> float:
    """A stable number in [0, 1) from the parts (the stub's only source of chance)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def judgement_for(paper_id: str, block: str, vocabulary: list[str]) -> dict[str, Any]:
    """The stub's deterministic judgement of one paper (a function of its text only)."""
    relevance = int(_fraction("relevance", block) * 101)
    hype = int(_fraction("hype", block) * 101)
    tags = [t for t in vocabulary if _fraction("tag", t, block) < 0.25][:3]
    match = _ABSTRACT.search(block)
    words = (match.group(1) if match else block).split()[:30]
    return {
        "relevance": relevance,
        "hype": hype,
        "tags": tags,
        "tldr": " ".join(words) or "No abstract.",
        "reason": f"stub judgement for {paper_id}",
    }


class StubServer:
    """The server object: start/stop, config and stats."""

    def __init__(self, config: StubConfig | None = None, host: str = "127.0.0.1", port: int = 0):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the stub LLM server listens on loopback only")
        self.config = config or StubConfig()
        self.stats = StubStats()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._seen: Counter[str] = Counter()
        self._window: deque[float] = deque()
        self._systems: set[str] = set()
        self.httpd = _Server((host, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.stub = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def reset_stats(self) -> None:
        with self.lock:
            self.stats = StubStats()

    # ------------------------------------------------------------------ decisions

    def handle(self, body: dict[str, Any], auth: str) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, extra headers) for one chat-completions request."""
        cfg = self.config
        raw = json.dumps(body, sort_keys=True)
        with self.lock:
            self._seen[raw] += 1
            nth = self._seen[raw]
        fmt = body.get("response_format") or {}
        mode = fmt.get("type", "text") if isinstance(fmt, dict) else "text"
        with self.lock:
            self.stats.modes[mode] += 1
        if cfg.api_key is not None and auth != f"Bearer {cfg.api_key}":
            return (
                401,
                _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
                {},
            )
        if nth <= cfg.rate_limit_first:
            headers = {"Retry-After": f"{cfg.retry_after:g}"}
            return 429, _error("Rate limit reached.", "requests", "rate_limit_exceeded"), headers
        if cfg.rpm > 0:
            now = cfg.clock()
            with self.lock:
                while self._window and self._window[0] <= now - 60.0:
                    self._window.popleft()
                if len(self._window) >= cfg.rpm:
                    wait = max(1, math.ceil(self._window[0] + 60.0 - now))
                    msg = f"Rate limit reached: {cfg.rpm} requests per minute."
                    return (
                        429,
                        _error(msg, "requests", "rate_limit_exceeded"),
                        {"Retry-After": str(wait)},
                    )
                self._window.append(now)
        if cfg.refuse_json_schema and mode == "json_schema":
            return 500, _error(LLAMA_CPP_REFUSAL, "internal_server_error", None), {}
        messages = body.get("messages") or []
        prompt = "".join(str(m.get("content") or "") for m in messages if isinstance(m, dict))
        if cfg.max_prompt_chars and len(prompt) > cfg.max_prompt_chars:
            msg = (
                f"Requested tokens ({_tokens(prompt)}) exceed context window of "
                f"{_tokens('x' * cfg.max_prompt_chars)}"
            )
            return 400, _error(msg, "invalid_request_error", "context_length_exceeded"), {}
        if _fraction("hang", cfg.seed, raw, nth) < cfg.hang_rate:
            self.stopping.wait(cfg.hang_seconds)
            return 504, _error("The stub hung.", "timeout", None), {}
        if _fraction("error", cfg.seed, raw, nth) < cfg.error_rate:
            return (
                500,
                _error(
                    "The server had an error while processing your request.", "server_error", None
                ),
                {},
            )
        # the quota is taken by a call about to be answered, under the lock, so calls in flight
        # together cannot pass it (counting 200s after the fact let two through)
        with self.lock:
            over = cfg.quota_exhausted or bool(
                cfg.quota_after and self.stats.admitted >= cfg.quota_after
            )
            if not over:
                self.stats.admitted += 1
        if over:
            msg = "You exceeded your current quota, please check your plan and billing details."
            return 429, _error(msg, "insufficient_quota", "insufficient_quota"), {}
        content, ids = self._answer(body, messages)
        malformed = _fraction("malformed", cfg.seed, raw, nth) < cfg.malformed_rate
        if malformed:
            content = content[: max(len(content) // 2, 10)]
        else:
            with self.lock:
                self.stats.papers_served.update(ids)
        system = next((str(m.get("content")) for m in messages if m.get("role") == "system"), "")
        with self.lock:
            cached = _tokens(system) if system in self._systems else 0
            self._systems.add(system)
        reply = {
            "id": f"chatcmpl-stub-{hashlib.sha256(raw.encode()).hexdigest()[:12]}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model") or cfg.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": _tokens(prompt),
                "completion_tokens": _tokens(content),
                "total_tokens": _tokens(prompt) + _tokens(content),
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }
        return 200, reply, {}

    def _answer(self, body: dict[str, Any], messages: list[Any]) -> tuple[str, list[str]]:
        user = next(
            (
                str(m.get("content"))
                for m in messages
                if m.get("role") == "user" and "<paper" in str(m.get("content"))
            ),
            "",
        )
        papers = _PAPER.findall(user)
        vocabulary = _vocabulary(body, messages)
        system = next((str(m.get("content")) for m in messages if m.get("role") == "system"), "")
        batch = len(papers) > 1 or '{"papers"' in system
        asked = _asked_fields(body)
        answers = [
            {"id": pid, **_only(judgement_for(pid, block, vocabulary), asked)}
            for pid, block in papers
        ]
        if batch:
            return json.dumps({"papers": answers}), [a["id"] for a in answers]
        if not answers:
            return json.dumps(judgement_for("none", user, vocabulary)), []
        one = dict(answers[0])
        one.pop("id")
        return json.dumps(one), [answers[0]["id"]]


def _only(judgement: dict[str, Any], asked: set[str] | None) -> dict[str, Any]:
    """The judgement's fields the request asked for (all when it gives no schema)."""
    return judgement if asked is None else {k: v for k, v in judgement.items() if k in asked}


def _asked_fields(body: dict[str, Any]) -> set[str] | None:
    """The fields of one paper's answer, from the schema (a first pass asks relevance only)."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema") or {}
    items = (schema.get("properties") or {}).get("papers", {}).get("items") or schema
    props = items.get("properties") if isinstance(items, dict) else None
    if isinstance(props, dict) and "relevance" in props:
        return set(props) - {"id"}
    system = next(
        (str(m.get("content")) for m in body.get("messages") or [] if m.get("role") == "system"),
        "",
    )
    if '{"relevance": 0}' in system or '"relevance": 0}]}' in system:  # text mode, first pass
        return {"relevance"}
    return None


def _vocabulary(body: dict[str, Any], messages: list[Any]) -> list[str]:
    """The tag vocabulary: from the schema's enum, else the system message's ``- tag:`` lines."""
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema") or {}
    found = _find_enum(schema)
    if found:
        return found
    system = next((str(m.get("content")) for m in messages if m.get("role") == "system"), "")
    section = system.split("# Tags", 1)[1].split("\n#", 1)[0] if "# Tags" in system else ""
    return re.findall(r"^- ([\w.+-]+):", section, re.MULTILINE)


def _find_enum(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        props = schema.get("properties") or {}
        tags = props.get("tags") or {}
        enum = (tags.get("items") or {}).get("enum") if isinstance(tags, dict) else None
        if enum:
            return [str(e) for e in enum]
        for value in schema.values():
            found = _find_enum(value)
            if found:
                return found
    return []


def _error(message: str, kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class _Server(ThreadingHTTPServer):
    """As a production server listens: a backlog of 128 (socketserver's 5 resets
    connections when 64 clients connect at once, which the clients then retry)."""

    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    # TCP_NODELAY, as production servers set it: with Nagle's algorithm the body, written
    # after the headers, waits for the client's delayed ACK, 40 ms added to every call
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    server_version = "stub-llm/1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    @property
    def stub(self) -> StubServer:
        return self.server.stub  # type: ignore[attr-defined,no-any-return]

    def _send(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/stats":
            with self.stub.lock:
                payload = self.stub.stats.as_dict()
            self._send(200, payload)
        elif self.path.rstrip("/") == "/v1/models":
            self._send(
                200, {"object": "list", "data": [{"id": self.stub.config.model, "object": "model"}]}
            )
        else:
            self._send(404, _error("not found", "invalid_request_error", None))

    def do_POST(self) -> None:
        path = self.path.rstrip("/")
        if path == "/config":
            changes = self._read_json()
            names = {f.name for f in dataclasses.fields(StubConfig)} - {"clock"}
            unknown = set(changes) - names
            if unknown:
                self._send(
                    400,
                    _error(f"unknown setting(s): {sorted(unknown)}", "invalid_request_error", None),
                )
                return
            for name, value in changes.items():
                setattr(self.stub.config, name, value)
            self._send(200, {"ok": True})
            return
        if path != "/v1/chat/completions":
            self._send(404, _error("not found", "invalid_request_error", None))
            return
        stub = self.stub
        with stub.lock:
            stub.stats.calls += 1
            stub.stats.in_flight += 1
            stub.stats.peak_concurrency = max(stub.stats.peak_concurrency, stub.stats.in_flight)
        try:
            try:
                body = self._read_json()
            except ValueError:
                status, payload, headers = (
                    400,
                    _error("invalid JSON body", "invalid_request_error", None),
                    {},
                )
            else:
                with stub.lock:
                    stub.stats.bodies.append(body)
                if stub.config.latency > 0:
                    stub.stopping.wait(stub.config.latency)
                status, payload, headers = stub.handle(body, self.headers.get("Authorization", ""))
            with stub.lock:
                stub.stats.statuses[status] += 1
            if status == 504:  # a hang: drop the connection without an answer
                self.close_connection = True
                return
            self._send(status, payload, headers)
        finally:
            with stub.lock:
                stub.stats.in_flight -= 1


@contextlib.contextmanager
def running(config: StubConfig | None = None) -> Iterator[StubServer]:
    """A started stub on a free loopback port, stopped on exit."""
    server = StubServer(config).start()
    try:
        yield server
    finally:
        server.stop()


try:
    import pytest
except ImportError:  # pragma: no cover - running as a plain script without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def stub_llm() -> Iterator[StubServer]:
        """A running stub LLM server (default config; change ``stub_llm.config`` freely)."""
        with running() as server:
            yield server


def main(argv: list[str] | None = None) -> int:
    """Command line: serve until SIGTERM/SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the port number to this file once listening")
    defaults = StubConfig()
    for f in dataclasses.fields(StubConfig):
        if f.name == "clock":
            continue
        flag = "--" + f.name.replace("_", "-")
        value = getattr(defaults, f.name)
        if isinstance(value, bool):
            parser.add_argument(flag, action="store_true")
        elif f.name == "api_key":
            parser.add_argument(flag, default=None)
        else:
            parser.add_argument(flag, type=type(value), default=value)
    args = parser.parse_args(argv)
    config = StubConfig(
        **{
            f.name: getattr(args, f.name)
            for f in dataclasses.fields(StubConfig)
            if f.name != "clock"
        }
    )
    server = StubServer(config, port=args.port)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    server.start()
    if args.port_file:
        tmp = f"{args.port_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(str(server.port))
        os.replace(tmp, args.port_file)
    print(f"STUB_LLM_URL={server.base_url}", flush=True)
    while not done.wait(0.2):
        pass
    server.stop()
    print(json.dumps(server.stats.as_dict()), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
