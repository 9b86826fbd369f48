"""The structured-output mode of an LLM server: what is asked for, and how it is found.

Structured output is asked for as ``json_schema``; a server that refuses it (any 4xx or 5xx
whose body names ``response_format``/``json_schema``: llama-cpp-python answers with HTTP 500)
gets ``json_object`` with the schema attached, then plain text with JSON extraction. The mode
is found lazily, on the first call that needs one, once per scorer, or taken from where an
earlier run remembered it (a :class:`ModeStore`, ``store.ModeMemory``). The call that probes
keeps its request slot through its backoffs: every other call waits for it anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import structlog

from arxivfilter.score.slots import current_slot

log = structlog.get_logger(__name__)

MODES: tuple[str, ...] = ("json_schema", "json_object", "text")

R = TypeVar("R")


class ModeStore(Protocol):
    """Where the structured-output mode a server accepted is remembered (``store.ModeMemory``)."""

    def load(self) -> str | None: ...

    def save(self, mode: str) -> None: ...


class Refused(Exception):
    """The server refused the requested ``response_format``."""


def response_format(mode: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    """The ``response_format`` of a request in ``mode`` (None: plain text)."""
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "judgement", "schema": schema, "strict": True},
        }
    if mode == "json_object":
        # llama-cpp-python takes the schema beside the type and turns it into a grammar.
        return {"type": "json_object", "schema": schema}
    return None


class OutputMode:
    """The mode one scorer's calls use: taken from ``load``, else probed by the first call
    (and given to ``save``); a refusal moves every later call one mode down."""

    def __init__(
        self,
        base_url: str,
        *,
        load: Callable[[], str | None] | None = None,
        save: Callable[[str], None] | None = None,
    ) -> None:
        self._base_url = base_url
        self.load = load
        self.save = save
        self.mode: str | None = None
        self._confirmed = False
        self._lock = asyncio.Lock()

    def rebind(self) -> None:
        """A new event loop: a fresh lock (the mode found so far is kept)."""
        self._lock = asyncio.Lock()

    def stored(self) -> str:
        """The remembered mode, else the first to try (no call made)."""
        stored = self.load() if self.load else None
        return stored if stored in MODES else MODES[0]

    async def send(self, send: Callable[[str], Awaitable[R]]) -> R:
        """``send(mode)`` with the current mode, finding it first if needed; a :class:`Refused`
        downgrades the mode and sends again."""
        while True:
            if not self._confirmed:
                async with self._lock:
                    if not self._confirmed:
                        reply = await self._probe(send)
                        if reply is not None:
                            return reply
            mode = self.mode or MODES[0]
            try:
                return await send(mode)
            except Refused:
                async with self._lock:
                    if self.mode == mode:
                        self._downgrade(mode)
                        self._confirmed = False

    async def _probe(self, send: Callable[[str], Awaitable[R]]) -> R | None:
        """Under the lock: take the stored mode (None), or find one with this real call."""
        if self.mode is None:
            stored = self.load() if self.load else None
            if stored in MODES:
                self.mode, self._confirmed = stored, True
                log.info(
                    "structured output mode", mode=stored, source="stored", base_url=self._base_url
                )
                return None
            self.mode = MODES[0]
        # Every other task waits for this lock holding its slot: this one keeps its own.
        slot = current_slot()
        if slot is not None:
            slot.pinned = True
        try:
            while True:
                mode = self.mode
                try:
                    reply = await send(mode)
                    break
                except Refused:
                    self._downgrade(mode)
        finally:
            if slot is not None:
                slot.pinned = False
        self._confirmed = True
        log.info("structured output mode", mode=mode, source="probed", base_url=self._base_url)
        if self.save:
            self.save(mode)
        return reply

    def _downgrade(self, mode: str) -> None:
        nxt = MODES[min(MODES.index(mode) + 1, len(MODES) - 1)]
        log.warning(
            "the server refused this response format",
            refused=mode,
            next=nxt,
            base_url=self._base_url,
        )
        self.mode = nxt
