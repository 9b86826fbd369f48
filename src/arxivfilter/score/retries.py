"""One logical LLM call's retries: which failures are retried, how long each backoff is,
when a call gives up, and whether its task keeps its request slot while it sleeps.

Retries are tenacity's alone (the SDK's are off, ``client.py``): 429, 5xx, 408/409, timeouts
and connection errors; exponential backoff with jitter, ``Retry-After`` honoured, at most
``[llm] retry_attempts`` attempts and ``retry_max_seconds`` of waiting per call. After a 429
the wait is the shared pause the pacer set (``pacing.py``), slept in ``Pacer.turn``. A call
that ends without a usable HTTP reply raises :class:`CallFailed`; when no call of the run has
had any HTTP answer yet, a connection failure is the server being down: ``UpstreamError``.
"""

from __future__ import annotations

import contextvars
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception
from tenacity.wait import wait_base

from arxivfilter.config import LlmSettings
from arxivfilter.errors import UpstreamError
from arxivfilter.score.client import TotalTimeout, describe
from arxivfilter.score.sdk import openai
from arxivfilter.score.slots import Slot, current_slot
from arxivfilter.transport import BadBody, describe_seconds, retry_after

log = structlog.get_logger(__name__)

R = TypeVar("R")


class CallFailed(Exception):
    """A call that ended without a usable HTTP reply; ``answered`` if any HTTP status came back."""

    def __init__(self, message: str, *, answered: bool) -> None:
        super().__init__(message)
        self.answered = answered


@dataclass
class _CallBudget:
    """One logical call's retry budget (its tenacity loop runs in one task)."""

    started: float
    planned: float = 0.0  # waits planned so far
    next_wait: float = 0.0  # what tenacity sleeps
    pause: float = 0.0  # the whole wait before the next attempt (pacer pause included)
    pacer_pause: float = 0.0  # the shared pause the last 429 set
    gave_up: str | None = None


_CALL: contextvars.ContextVar[_CallBudget] = contextvars.ContextVar("call_budget")


def retryable(exc: BaseException) -> bool:
    """Whether an attempt's failure is worth another attempt."""
    if isinstance(exc, TotalTimeout):
        return True
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return not isinstance(exc.__cause__, BadBody)
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def note_pacer_pause(seconds: float) -> None:
    """The shared pause a 429 set: the wait before this call's next attempt."""
    _CALL.get().pacer_pause = seconds


class Retries:
    """The retry loop of every call of one scorer.

    ``answered()`` counts the calls of the run that got any HTTP status back (until one has,
    a task keeps its slot through its backoff, and a connection failure ends the run);
    ``redact`` cleans what is logged or raised.
    """

    def __init__(
        self,
        llm: LlmSettings,
        *,
        base_url: str,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        backoff: wait_base,
        redact: Callable[[str | None], str | None],
        answered: Callable[[], int],
    ) -> None:
        self._llm = llm
        self._base_url = base_url
        self._clock = clock
        self._sleep = sleep
        self.backoff = backoff
        self._redact = redact
        self._answered = answered

    async def call(self, attempt: Callable[[], Awaitable[R]]) -> R:
        """``attempt()`` until it succeeds or the budget is spent; raises CallFailed or
        UpstreamError (and lets any non-retryable exception of ``attempt`` through)."""
        _CALL.set(_CallBudget(started=self._clock()))
        retrying = AsyncRetrying(
            retry=retry_if_exception(retryable),
            stop=self._stop,
            wait=self._wait,
            sleep=self._nap,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            async for each in retrying:
                with each:
                    return await attempt()
        except openai.APIStatusError as exc:
            why = _CALL.get().gave_up
            message = self._describe(exc) + (f" ({why})" if why else "")
            raise CallFailed(self._redact(message) or "", answered=True) from None
        except (openai.APIConnectionError, TotalTimeout) as exc:
            failure = CallFailed(self._redact(self._describe(exc)) or "", answered=False)
            if self._answered() == 0:
                raise UpstreamError(
                    f"no answer from the LLM server at {self._base_url}: {failure} "
                    "(is it running? check OPENAI_BASE_URL)",
                    url=self._base_url,
                ) from None
            raise failure from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _describe(self, exc: BaseException) -> str:
        return describe(exc, timeout_seconds=self._llm.timeout_seconds)

    def _wait(self, state: RetryCallState) -> float:
        """The wait before the next attempt (tenacity asks this before :meth:`_stop`).

        After a 429 the wait is the shared pause the pacer set, slept in ``Pacer.turn``, so
        tenacity's own wait is 0; ``Retry-After`` on other answers is honoured here.
        """
        budget = _CALL.get()
        exc = state.outcome.exception() if state.outcome else None
        response = getattr(exc, "response", None)
        after = retry_after(response.headers if response is not None else None)
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 429:
            budget.pause, budget.next_wait = budget.pacer_pause, 0.0
        elif after is not None:
            budget.pause = budget.next_wait = after + random.uniform(0, min(after * 0.1, 1.0))
        else:  # our own backoff never outlasts the budget: cut to what is left
            left = self._llm.retry_max_seconds - max(
                self._clock() - budget.started, budget.planned, 0.0
            )
            budget.pause = budget.next_wait = min(float(self.backoff(state)), max(left, 0.0))
        return budget.next_wait

    def _stop(self, state: RetryCallState) -> bool:
        """Out of attempts, or the next wait does not fit in what is left of the call's budget.

        Time used is the larger of the wall time and the waits planned so far (an injected
        sleep that does not really sleep still counts).
        """
        budget = _CALL.get()
        if state.attempt_number >= self._llm.retry_attempts:
            return True
        used = max(self._clock() - budget.started, budget.planned, 0.0)
        left = self._llm.retry_max_seconds - used
        if left <= 0:
            return True
        if budget.pause > left:
            budget.gave_up = (
                f"the server asked to wait {describe_seconds(budget.pause)}, more than the "
                f"{left:.0f} s left of the call's retry budget "
                f"([llm] retry_max_seconds = {self._llm.retry_max_seconds:g})"
            )
            return True
        budget.planned += budget.pause
        return False

    async def _nap(self, seconds: float) -> None:
        if seconds > 0:  # after a 429 the pause is slept in Pacer.turn
            await self._sleep(seconds)

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.info(
            "LLM call will be retried",
            attempt=state.attempt_number,
            wait_seconds=round(float(getattr(state, "upcoming_sleep", 0.0)), 2),
            error=self._redact(self._describe(exc)) if exc else None,
        )
        slot = current_slot()
        if slot is not None and not self._keeps_slot(slot, exc):
            slot.release()  # the next attempt takes one again, before new batches

    def _keeps_slot(self, slot: Slot, exc: BaseException | None) -> bool:
        """Whether a task sleeps through its backoff holding its slot (``llm.py``'s docstring)."""
        if slot.pinned or self._answered() == 0:
            return True
        if isinstance(exc, openai.APIStatusError):
            response: Any = exc.response  # the SDK annotates httpx2; ours is httpx
            return exc.status_code == 429 or retry_after(response.headers) is not None
        return False
