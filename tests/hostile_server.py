"""A hostile stand-in for arXiv (RSS, export API, OAI-PMH) and for an OpenAI-compatible LLM.

One small HTTP server on 127.0.0.1, run as its own process by the tests (``serve()`` below
starts it and gives back its base URL). The first path segment picks the fault, so one
process serves every mode at once: ``http://127.0.0.1:PORT/<mode>/...``.

arXiv modes (any path under the mode):

* ``drip``: a valid-looking 200 whose body arrives one byte every ``DRIP_SECONDS``;
* ``huge``: a 200 body streamed without Content-Length, ``HUGE_MIB`` MiB of XML-ish bytes;
* ``bomb``: a 200 with ``Content-Encoding: gzip`` whose 1 MiB inflates to ``BOMB_MIB`` MiB;
* ``retry-long``: 429 with ``Retry-After: 100000``;
* ``retry-date``: 503 with ``Retry-After: Fri, 31 Dec 9999 23:59:59 GMT``;
* ``oai-endless``: OAI-PMH ``ListRecords`` pages with no record and a new resumption token
  every time.

LLM modes (``POST /<mode>/v1/chat/completions``):

* ``llm-drip``, ``llm-huge``, ``llm-bomb``: the same faults on a chat completion;
* ``llm-retry-long``: 429 ``rate_limit_exceeded`` with ``Retry-After: 100000``;
* ``llm-values``: a completion whose answer is the JSON of the ``X-Answer`` request header
  (tests set it through the SDK's default headers), else ``{"relevance": 1e9, ...}``;
* ``llm-echo``: a completion whose TL;DR and reason quote the API key the request carried,
  without its ``sk-`` prefix (a proxy that echoes credentials).

``GET /stats`` returns the number of requests per mode.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DRIP_SECONDS = float(os.environ.get("HOSTILE_DRIP_SECONDS", "0.2"))
HUGE_MIB = int(os.environ.get("HOSTILE_HUGE_MIB", "80"))
BOMB_MIB = int(os.environ.get("HOSTILE_BOMB_MIB", "1024"))
RSS_HEAD = b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>x</title>'
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
STATS: Counter[str] = Counter()
_LOCK = threading.Lock()
_BOMB: bytes | None = None


def bomb() -> bytes:
    """gzip of BOMB_MIB MiB of zeros (about 1 MiB per GiB), built once."""
    global _BOMB
    if _BOMB is None:
        z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        chunk = b"\0" * (1024 * 1024)
        _BOMB = b"".join([*(z.compress(chunk) for _ in range(BOMB_MIB)), z.flush()])
    return _BOMB


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": 0,
        "model": "hostile",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def oai_page(token: int) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="{OAI_NS}">'
        "<responseDate>2026-01-05T00:00:00Z</responseDate>"
        '<request verb="ListRecords">x</request><ListRecords>'
        f'<resumptionToken cursor="{token * 1000}">tok-{token}</resumptionToken>'
        "</ListRecords></OAI-PMH>"
    ).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self._head(
            status,
            {
                "Content-Type": "application/json",
                "Content-Length": str(len(data)),
                **(headers or {}),
            },
        )
        self.wfile.write(data)

    def _drip(self, body: bytes, content_type: str) -> None:
        self._head(200, {"Content-Type": content_type, "Content-Length": str(len(body))})
        for i in range(len(body)):
            self.wfile.write(body[i : i + 1])
            self.wfile.flush()
            time.sleep(DRIP_SECONDS)

    def _huge(self, head: bytes, content_type: str) -> None:
        self._head(200, {"Content-Type": content_type, "Connection": "close"})
        self.close_connection = True
        self.wfile.write(head)
        chunk = b"<item>" + b"x" * 65000 + b"</item>"
        for _ in range(HUGE_MIB * 16):
            self.wfile.write(chunk)

    def _bomb(self, content_type: str) -> None:
        data = bomb()
        self._head(
            200,
            {
                "Content-Type": content_type,
                "Content-Encoding": "gzip",
                "Content-Length": str(len(data)),
            },
        )
        self.wfile.write(data)

    def _mode(self) -> tuple[str, str]:
        parts = self.path.lstrip("/").split("/", 1)
        mode = parts[0]
        with _LOCK:
            STATS[mode] += 1
        return mode, "/" + (parts[1] if len(parts) > 1 else "")

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/stats":
            with _LOCK:
                self._json(200, dict(STATS))
            return
        mode, _rest = self._mode()
        with suppress(BrokenPipeError, ConnectionResetError):
            self._arxiv(mode)

    def _arxiv(self, mode: str) -> None:
        xml = "application/xml"
        if mode == "drip":
            self._drip(RSS_HEAD + b"</channel></rss>", xml)
        elif mode == "huge":
            self._huge(RSS_HEAD, xml)
        elif mode == "bomb":
            self._bomb(xml)
        elif mode == "retry-long":
            self._json(429, {"error": "slow down"}, {"Retry-After": "100000"})
        elif mode == "retry-date":
            self._json(503, {"error": "down"}, {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"})
        elif mode == "oai-endless":
            with _LOCK:
                n = STATS[mode]
            data = oai_page(n)
            self._head(200, {"Content-Type": "text/xml", "Content-Length": str(len(data))})
            self.wfile.write(data)
        else:
            self._json(404, {"error": f"unknown mode {mode}"})

    def do_POST(self) -> None:
        mode, _rest = self._mode()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        with suppress(BrokenPipeError, ConnectionResetError):
            self._llm(mode, body)

    def _llm(self, mode: str, body: dict[str, Any]) -> None:
        answer = {
            "relevance": 80,
            "hype": 10,
            "tags": [],
            "tldr": "A paper.",
            "reason": "On topic.",
        }
        if mode == "llm-drip":
            self._drip(json.dumps(completion(json.dumps(answer))).encode(), "application/json")
        elif mode == "llm-huge":
            self._huge(b'{"id": "x", "choices": [', "application/json")
        elif mode == "llm-bomb":
            self._bomb("application/json")
        elif mode == "llm-retry-long":
            err = {
                "error": {
                    "message": "Rate limit reached",
                    "type": "requests",
                    "code": "rate_limit_exceeded",
                }
            }
            self._json(429, err, {"Retry-After": "100000"})
        elif mode == "llm-values":
            raw = self.headers.get("X-Answer")
            content = (
                raw
                if raw is not None
                else '{"relevance": 1e9, "hype": 5, "tags": [], "tldr": "t", "reason": "r"}'
            )
            self._json(200, completion(content))
        elif mode == "llm-echo":
            key = self.headers.get("Authorization", "").removeprefix("Bearer ").removeprefix("sk-")
            echoed = {**answer, "tldr": f"Uses token {key} for access.", "reason": f"key={key}"}
            self._json(200, completion(json.dumps(echoed)))
        else:
            self._json(404, {"error": {"message": f"unknown mode {mode}"}})


def main() -> int:
    bomb()  # built before the port is announced, so no request waits for it
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_file = sys.argv[1] if len(sys.argv) > 1 else None
    if port_file:
        tmp = f"{port_file}.tmp"
        Path(tmp).write_text(str(server.server_address[1]), encoding="utf-8")
        os.replace(tmp, port_file)
    print(f"HOSTILE_URL=http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.1)
    return 0


@contextmanager
def serve(folder: Path, **env: str) -> Iterator[str]:
    """The hostile server in its own process; yields ``http://127.0.0.1:PORT``; always reaped."""
    port_file = folder / "hostile.port"
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), str(port_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the hostile server did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port_file.read_text().strip()}"
    finally:
        proc.kill()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
