"""Logging set-up: structlog to stderr, pretty on a terminal, JSON lines otherwise.

Secrets are masked by a processor that every event passes through, so an API key that
ends up in an event (an exception text, a URL) is never written.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


class SecretMasker:
    """A structlog processor replacing every known secret with ``****``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "****")
        return text

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not self.secrets:
            return event
        for key, value in list(event.items()):
            if isinstance(value, str):
                event[key] = self.mask(value)
            elif not isinstance(value, int | float | bool | type(None)):
                event[key] = self.mask(str(value))
        return event


MASKER = SecretMasker()


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing, never to a stale object
    (a stream replaced or closed since logging was configured, as test runners do)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


STDERR: TextIO = _CurrentStderr()  # type: ignore[assignment]


def log_config(
    level: str = "info", *, json_lines: bool | None = None, stream: TextIO | None = None
) -> dict[str, Any]:
    """The structlog configuration (a pure function of its inputs, tested on its own)."""
    stream = stream or STDERR
    if json_lines is None:
        json_lines = not stream.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info if json_lines else structlog.dev.set_exc_info,
        MASKER,
        renderer,
    ]
    return {
        "processors": processors,
        "wrapper_class": structlog.make_filtering_bound_logger(_LEVELS.get(level.lower(), 20)),
        "logger_factory": structlog.PrintLoggerFactory(file=stream),
        "cache_logger_on_first_use": False,
    }


def configure_logging(
    level: str = "info",
    *,
    secrets: Iterable[str] = (),
    json_lines: bool | None = None,
    stream: TextIO | None = None,
) -> None:
    """Route structlog (and stdlib logging of libraries) to stderr at ``level``."""
    MASKER.secrets = [s for s in secrets if s and len(s) >= 4]
    structlog.configure(**log_config(level, json_lines=json_lines, stream=stream))
    logging.basicConfig(
        stream=stream or STDERR, level=max(_LEVELS.get(level.lower(), 20), 30), force=True
    )
    for noisy in ("httpx", "httpcore", "openai", "alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
