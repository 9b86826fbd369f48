"""A real SMTP server (aiosmtpd) for the tests, run as its own process on 127.0.0.1.

    python tests/notify/smtp_server.py --dir OUT [--auth USER:PASS] [--starttls CERT KEY]
        [--tls CERT KEY] [--reject SUBSTRING] [--drop-first N] [--hang]

Prints the port it listens on, then serves until killed. Every accepted message is written
as ``OUT/NNNN.eml`` (the bytes received) with ``OUT/NNNN.json`` (envelope, AUTH login,
TLS). ``--drop-first N`` closes the connection after the client sent the first N
messages' data but before answering (a server that disconnects mid-message: nothing was
accepted); ``--hang`` never answers DATA; ``--reject S`` refuses for good (550) every
recipient containing S.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


class Handler:
    def __init__(self, out: Path, reject: str, drop_first: int, hang: bool) -> None:
        self.out = out
        self.reject = reject
        self.drop_left = drop_first
        self.hang = hang
        self.n = 0

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.reject and self.reject in address:
            return "550 5.1.1 <" + address + ">: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.hang:
            await asyncio.sleep(3600)
        if self.drop_left > 0:
            self.drop_left -= 1
            assert server.transport is not None
            server.transport.abort()
            return "421 gone"
        self.n += 1
        stem = self.out / f"{self.n:04d}"
        raw = envelope.original_content or b""
        auth = session.auth_data
        stem.with_suffix(".eml").write_bytes(raw)
        meta: dict[str, Any] = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": auth.login.decode() if isinstance(auth, LoginPassword) else None,
            "tls": server.transport is not None
            and server.transport.get_extra_info("ssl_object") is not None,
        }
        stem.with_suffix(".json").write_text(json.dumps(meta))
        return "250 2.0.0 OK queued"


def _authenticator(user: str, password: str) -> Any:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    return check


def _context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve(args: argparse.Namespace) -> None:
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    handler = Handler(out, args.reject or "", args.drop_first, args.hang)
    starttls = _context(*args.starttls) if args.starttls else None
    implicit = _context(*args.tls) if args.tls else None
    kwargs: dict[str, Any] = {"hostname": "smtp.test", "tls_context": starttls}
    if args.auth:
        user, _, password = args.auth.partition(":")
        kwargs["authenticator"] = _authenticator(user, password)
        kwargs["auth_required"] = True
        # implicit TLS is TLS from the first byte; aiosmtpd only knows about STARTTLS
        kwargs["auth_require_tls"] = starttls is not None
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **kwargs), "127.0.0.1", 0, ssl=implicit)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--auth")
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--reject")
    parser.add_argument("--drop-first", type=int, default=0)
    parser.add_argument("--hang", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
