"""The LLM scorer's request slots: a semaphore of ``[llm] concurrency`` whose waiters back
from a backoff go before batches not yet started (``llm.py``'s docstring says when a task
keeps its slot and when it gives it back)."""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque


class Slots:
    """``n`` request slots handed out in order, except that tasks back from a backoff go first."""

    def __init__(self, n: int) -> None:
        self._free = n
        # (tasks back from a backoff, batches not yet started)
        self._queues: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())

    async def acquire(self, *, first: bool) -> None:
        if self._free > 0 and not any(self._queues):
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue = self._queues[0 if first else 1]
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if not waiter.cancelled():  # handed a slot, then cancelled: pass it on
                self.release()
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def release(self) -> None:
        for queue in self._queues:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():  # a cancelled waiter is skipped
                    waiter.set_result(None)
                    return
        self._free += 1


class Slot:
    """One task's claim on a slot: taken before each request, given back during a backoff."""

    def __init__(self, slots: Slots) -> None:
        self._slots = slots
        self.held = False
        self.pinned = False  # kept through backoffs (while probing the output mode)

    async def acquire(self, *, first: bool = True) -> None:
        if not self.held:
            await self._slots.acquire(first=first)
            self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            self._slots.release()


# the slot of the batch a task is judging (each batch runs in its own task)
_SLOT: contextvars.ContextVar[Slot | None] = contextvars.ContextVar("slot", default=None)


def current_slot() -> Slot | None:
    """The slot of the batch this task is judging (None outside a batch)."""
    return _SLOT.get()


def hold(slot: Slot) -> None:
    """Make ``slot`` this task's :func:`current_slot`."""
    _SLOT.set(slot)
