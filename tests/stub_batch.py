"""A stand-in for OpenAI's Files and Batch API (loopback only), answering like tests/stub_llm.py.

Endpoints, in the documented shapes: ``POST /v1/files`` (multipart: ``purpose=batch`` and a
JSONL ``file`` of ``{custom_id, method, url, body}`` lines), ``GET /v1/files/{id}/content``,
``POST /v1/batches`` (``input_file_id``, ``endpoint``, ``completion_window``, ``metadata``),
``GET /v1/batches/{id}``, ``GET /v1/batches`` (list), ``POST /v1/batches/{id}/cancel``.
A batch is ``validating`` until ``batch_seconds`` have passed since it was created, then
every line is answered by :meth:`tests.stub_llm.StubServer.handle` (a function of the
request) into the output file ``{id, custom_id, response: {status_code, request_id, body},
error: null}``; a share ``expire_rate`` of the lines is left unprocessed and reported in the
error file with code ``batch_expired`` (the batch's status is then ``expired``); with
``fail_batches`` the first N batches end ``failed`` with a validation error and no files.

Run it alone: ``python -m tests.stub_batch --port-file FILE [--batch-seconds 1]``; it prints
``STUB_BATCH_URL=http://127.0.0.1:PORT/v1``.
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import hashlib
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.stub_llm import StubConfig, StubServer, _fraction


@dataclass
class BatchConfig:
    batch_seconds: float = 0.0
    expire_rate: float = 0.0
    fail_batches: int = 0
    model: str = "stub-model"


@dataclass
class _State:
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: dict[str, float] = field(default_factory=dict)
    lines_answered: int = 0
    uploads: int = 0


class BatchServer:
    def __init__(self, config: BatchConfig | None = None, port: int = 0) -> None:
        self.config = config or BatchConfig()
        self.llm = StubServer(StubConfig(model=self.config.model))  # used for .handle only
        self.state = _State()
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.stub = self  # type: ignore[attr-defined]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _new_id(self, prefix: str) -> str:
        n = len(self.state.files) + len(self.state.batches) + 1
        return f"{prefix}-{n:06d}"

    def upload(self, data: bytes) -> dict[str, Any]:
        with self.lock:
            file_id = self._new_id("file")
            self.state.files[file_id] = data
            self.state.uploads += 1
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": "input.jsonl",
            "purpose": "batch",
            "status": "processed",
        }

    def create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if body.get("input_file_id") not in self.state.files:
                return 400, _error("No such File object", "invalid_request_error")
            batch_id = self._new_id("batch")
            lines = self.state.files[body["input_file_id"]].count(b"\n")
            batch = {
                "id": batch_id,
                "object": "batch",
                "endpoint": body.get("endpoint"),
                "input_file_id": body["input_file_id"],
                "completion_window": body.get("completion_window"),
                "status": "validating",
                "created_at": int(time.time()),
                "metadata": body.get("metadata"),
                "output_file_id": None,
                "error_file_id": None,
                "errors": None,
                "request_counts": {"total": lines, "completed": 0, "failed": 0},
            }
            self.state.batches[batch_id] = batch
            self.state.created[batch_id] = time.monotonic()
        return 200, batch

    def retrieve(self, batch_id: str) -> dict[str, Any] | None:
        with self.lock:
            batch = self.state.batches.get(batch_id)
            if batch is None:
                return None
            if batch["status"] == "validating":
                if time.monotonic() - self.state.created[batch_id] >= self.config.batch_seconds:
                    self._finish(batch)
                else:
                    batch["status"] = "in_progress"
            elif (
                batch["status"] == "in_progress"
                and time.monotonic() - self.state.created[batch_id] >= self.config.batch_seconds
            ):
                self._finish(batch)
            return dict(batch)

    def _finish(self, batch: dict[str, Any]) -> None:
        number = int(batch["id"].rsplit("-", 1)[1])
        if sum(1 for b in self.state.batches if b <= batch["id"]) <= self.config.fail_batches:
            batch["status"] = "failed"
            batch["errors"] = {
                "object": "list",
                "data": [{"code": "invalid_json_line", "message": "stub failure", "line": 1}],
            }
            return
        out: list[str] = []
        errors: list[str] = []
        completed = 0
        for raw in self.state.files[batch["input_file_id"]].splitlines():
            if not raw.strip():
                continue
            line = json.loads(raw)
            custom_id = line.get("custom_id")
            if _fraction("expire", custom_id, number) < self.config.expire_rate:
                errors.append(
                    json.dumps(
                        {
                            "id": f"batch_req_{custom_id}",
                            "custom_id": custom_id,
                            "response": None,
                            "error": {
                                "code": "batch_expired",
                                "message": "This request could not be executed before the "
                                "completion window expired.",
                            },
                        }
                    )
                )
                continue
            status, body, _ = self.llm.handle(line.get("body") or {}, "")
            completed += 1
            self.state.lines_answered += 1
            out.append(
                json.dumps(
                    {
                        "id": f"batch_req_{custom_id}",
                        "custom_id": custom_id,
                        "response": {
                            "status_code": status,
                            "request_id": hashlib.sha256(raw).hexdigest()[:16],
                            "body": body,
                        },
                        "error": None,
                    }
                )
            )
        batch["status"] = "expired" if errors else "completed"
        batch["request_counts"] = {
            "total": completed + len(errors),
            "completed": completed,
            "failed": len(errors),
        }
        if out:
            file_id = self._new_id("file")
            self.state.files[file_id] = ("\n".join(out) + "\n").encode()
            batch["output_file_id"] = file_id
        if errors:
            file_id = self._new_id("file")
            self.state.files[file_id] = ("\n".join(errors) + "\n").encode()
            batch["error_file_id"] = file_id


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _multipart_file(content_type: str, data: bytes) -> bytes | None:
    message = email.parser.BytesParser().parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + data
    )
    for part in message.walk():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    @property
    def stub(self) -> BatchServer:
        return self.server.stub  # type: ignore[attr-defined,no-any-return]

    def _send(self, status: int, payload: Any, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header(
            "Content-Type", "application/octet-stream" if raw is not None else "application/json"
        )
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        stub = self.stub
        if parts == ["stats"]:
            with stub.lock:
                self._send(
                    200,
                    {
                        "uploads": stub.state.uploads,
                        "batches": len(stub.state.batches),
                        "lines_answered": stub.state.lines_answered,
                    },
                )
        elif parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content":
            with stub.lock:
                data = stub.state.files.get(parts[2])
            if data is None:
                self._send(404, _error("No such File object", "invalid_request_error"))
            else:
                self._send(200, None, raw=data)
        elif parts == ["v1", "batches"]:
            with stub.lock:
                ids = sorted(stub.state.batches, reverse=True)
            data = [stub.retrieve(i) for i in ids]
            self._send(200, {"object": "list", "data": data, "has_more": False})
        elif parts[:2] == ["v1", "batches"] and len(parts) == 3:
            batch = stub.retrieve(parts[2])
            if batch is None:
                self._send(404, _error("No such Batch object", "invalid_request_error"))
            else:
                self._send(200, batch)
        else:
            self._send(404, _error("not found", "invalid_request_error"))

    def do_POST(self) -> None:
        parts = self.path.split("?", 1)[0].strip("/").split("/")
        data = self._body()
        if parts == ["v1", "files"]:
            payload = _multipart_file(self.headers.get("Content-Type", ""), data)
            if payload is None:
                self._send(400, _error("missing file", "invalid_request_error"))
            else:
                self._send(200, self.stub.upload(payload))
        elif parts == ["v1", "batches"]:
            status, body = self.stub.create(json.loads(data or b"{}"))
            self._send(status, body)
        elif parts[:2] == ["v1", "batches"] and len(parts) == 4 and parts[3] == "cancel":
            batch = self.stub.retrieve(parts[2])
            self._send(200 if batch else 404, batch or _error("no such batch", "invalid"))
        else:
            self._send(404, _error("not found", "invalid_request_error"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--batch-seconds", type=float, default=0.0)
    parser.add_argument("--expire-rate", type=float, default=0.0)
    parser.add_argument("--fail-batches", type=int, default=0)
    parser.add_argument("--model", default="stub-model")
    args = parser.parse_args(argv)
    server = BatchServer(
        BatchConfig(args.batch_seconds, args.expire_rate, args.fail_batches, args.model),
        port=args.port,
    )
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.httpd.shutdown).start())
    if args.port_file:
        Path(args.port_file).write_text(str(server.httpd.server_address[1]))
    print(f"STUB_BATCH_URL={server.base_url}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.httpd.serve_forever(poll_interval=0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
