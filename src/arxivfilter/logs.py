"""Logging set-up: structlog to stderr, pretty on a terminal, JSON lines otherwise.

Secrets are masked by a processor that every event passes through, so an API key that
ends up in an event (an exception text, a URL) is never written. :class:`SecretMasker` is
the one masker: the CLI's error line, the LLM scorer's stored replies and errors, and
``arxivfilter config`` use it too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


_KEY_LIKE = re.compile(r"\b(sk|sess)-[A-Za-z0-9_\-*.]{6,}")
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]*:)([^@/\s]+)(@)")
_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")
_PREFIX = re.compile(r"^(?:[A-Za-z]{2,5}-){1,2}")  # sk-, sk-proj-, sess-, ...
#: A run of this many characters of a secret's secret part is masked wherever it appears.
FRAGMENT = 6


def mask_url_credentials(text: str, marker: str = "****") -> str:
    """``scheme://user:password@host`` -> ``scheme://user:****@host``."""
    return _URL_CREDENTIALS.sub(lambda m: m.group(1) + marker + m.group(3), text)


class SecretMasker:
    """The one secret masker: for logs (a structlog processor), errors and stored text.

    It masks each known secret; its secret part (the key minus a prefix such as ``sk-``
    or ``sk-proj-``) wherever it appears; any word holding :data:`FRAGMENT` or more
    consecutive characters of it (a key cut at a length limit, or quoted in part); a word
    at the very end or start of the text that is a piece of a secret (a cut point); the
    password of credentials in URLs; Bearer tokens; and anything shaped like an ``sk-`` key.
    """

    def __init__(self, secrets: Iterable[str] = (), *, marker: str = "****") -> None:
        self.marker = marker
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    @property
    def secrets(self) -> list[str]:
        return self._secrets

    @secrets.setter
    def secrets(self, values: Iterable[str]) -> None:
        self._secrets = sorted({s for s in values if s and len(s) >= 4}, key=len, reverse=True)
        self._cores = sorted(
            {c for c in (_PREFIX.sub("", s) for s in self._secrets) if len(c) >= FRAGMENT},
            key=len,
            reverse=True,
        )
        self._grams = {
            c[i : i + FRAGMENT] for c in self._cores for i in range(len(c) - FRAGMENT + 1)
        }

    def _piece(self, word: str) -> bool:
        if len(word) >= FRAGMENT:
            return any(word[i : i + FRAGMENT] in self._grams for i in range(len(word) - 5))
        return False

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, self.marker)
        for core in self._cores:
            text = text.replace(core, self.marker)
        if self._grams:
            text = _TOKEN.sub(
                lambda m: self.marker if self._piece(m.group(0)) else m.group(0), text
            )
            text = self._edges(text)
        text = mask_url_credentials(text, self.marker)
        text = _BEARER.sub(lambda m: m.group(1) + self.marker, text)
        return _KEY_LIKE.sub(lambda m: m.group(1) + "-" + self.marker, text)

    def _edges(self, text: str) -> str:
        """A short piece of a secret where the text was cut: its end (or its start)."""
        head = _TOKEN.match(text)
        tail = re.search(r"[A-Za-z0-9_\-]+$", text)
        for core in self._cores:
            if tail and len(tail.group(0)) >= 3 and core.startswith(tail.group(0)):
                text = text[: tail.start()] + self.marker
                break
        for core in self._cores:
            if head and len(head.group(0)) >= 3 and core.endswith(head.group(0)):
                text = self.marker + text[head.end() :]
                break
        return text

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
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
