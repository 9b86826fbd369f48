"""One pace for every LLM call of a run: a shared pause when the server says "wait", then
requests spaced at the limit the server showed.

Without it each call sleeps through its own ``Retry-After`` and the others keep sending,
so a 60-requests-a-minute limit is answered with hundreds of 429s. With it:

* every request waits its turn in :meth:`Pacer.turn`: not before the shared ``resume_at``,
  and at least ``interval`` after the previous request started;
* a 429 (:meth:`Pacer.rate_limited`) moves ``resume_at`` for everyone to the time the server
  asked for, and sets ``interval`` to ``window / limit``, where the limit is the server's
  ``x-ratelimit-limit-requests`` header when it sends one, else the number of requests it
  accepted in the last ``window`` seconds (what it just showed it takes), or its
  ``Retry-After`` when that is shorter (a bucket that refills faster). A 429 to a request
  sent under that pace means the estimate was high: the interval grows by a quarter.
  429s to requests sent before the pause (the burst that found the limit) change nothing.
* The pauses a run has been asked for add up; past ``max_wait`` seconds, or one asked pause
  longer than that, :meth:`rate_limited` raises :class:`WaitTooLong` and the run stops
  (exit 3) saying why, instead of spending hours on a provider that will not serve it.

Clock and sleep are injected (tests move time by hand).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, Mapping

from arxivfilter.transport import describe_seconds

WINDOW_SECONDS = 60.0
#: The wait after a 429 that names no time (then the next ones double it, up to a minute).
DEFAULT_PAUSE = 1.0


class WaitTooLong(Exception):
    """The server asks for more waiting than the run may spend."""


def limit_header(headers: Mapping[str, str] | None) -> int | None:
    """The requests-per-window limit a server announces (OpenAI, Azure: per minute)."""
    if headers is None:
        return None
    value = headers.get("x-ratelimit-limit-requests") or ""
    try:
        limit = int(value.strip())
    except ValueError:
        return None
    return limit if limit > 0 else None


class Pacer:
    """The shared pause and pace of one scorer's requests (single event loop)."""

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        *,
        max_wait: float,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self.max_wait = max_wait
        self.window = window
        self.resume_at = -math.inf
        self.interval = 0.0
        self._last_start = -math.inf
        self._paced_since = math.inf  # requests started from here on were sent under the pace
        self._accepted: deque[float] = deque()  # start times of requests not answered 429
        self._blind_pause = DEFAULT_PAUSE
        self.waited = 0.0  # seconds of pause the server asked of this run
        self.rate_limited_count = 0

    async def turn(self) -> float:
        """Wait until a request may start; returns its start time (pass it back on the answer).

        Each caller reserves its start time before sleeping (so concurrent callers are spaced
        by ``interval`` without relying on the clock moving during a sleep); a pause set while
        it slept sends it round again.
        """
        while True:
            now = self._clock()
            at = max(self.resume_at, self._last_start + self.interval, now)
            self._last_start = at
            pause_seen = self.resume_at
            if at > now:
                await self._sleep(at - now)
            if self.resume_at <= pause_seen:
                return at

    def accepted(self, started: float) -> None:
        """A request that started at ``started`` got an answer other than 429."""
        self._accepted.append(started)
        self._blind_pause = DEFAULT_PAUSE

    def rate_limited(
        self, started: float, retry_after: float | None, limit: int | None = None
    ) -> float:
        """A 429 to the request started at ``started``: pause everyone; returns the pause.

        Raises :class:`WaitTooLong` when the pause would take the run past ``max_wait``.
        """
        self.rate_limited_count += 1
        now = self._clock()
        while self._accepted and self._accepted[0] < now - self.window:
            self._accepted.popleft()
        if retry_after is None:
            pause = self._blind_pause
            self._blind_pause = min(self._blind_pause * 2, self.window)
        else:
            pause = retry_after
        until = now + pause
        added = max(0.0, until - max(self.resume_at, now))
        if pause > self.max_wait or self.waited + added > self.max_wait:
            raise WaitTooLong(
                f"the LLM server asks to wait {describe_seconds(pause)} (Retry-After) after "
                f"{self.waited:.0f} s of waits already: more than the run's budget of "
                f"{self.max_wait:g} s ([llm] run_wait_max_seconds); try again later"
            )
        self.waited += added
        observed = limit or len(self._accepted)
        if observed:  # nothing accepted yet: no limit to derive a pace from, only the pause
            target = self.window / observed
            if retry_after is not None and limit is None:
                # a bucket that refills faster than the window says: its Retry-After shows it
                target = min(target, max(retry_after, 0.0))
            if started >= self._paced_since:  # sent under the pace, still refused: slower
                self.interval = max(self.interval * 1.25, target)
            elif self.interval == 0.0 or limit is not None:
                self.interval = max(self.interval, target)
        if until > self.resume_at:
            self.resume_at = until
            self._paced_since = until
        return pause
