"""The polite arXiv client: one connection, one process-wide limiter, tenacity retries, archive.

* ONE limiter per process (:data:`LIMITER`) is shared by every arXiv endpoint (RSS,
  export API, listings, OAI-PMH): at least ``delay_seconds`` (>= 3 s) between the starts
  of any two requests, retries included.
* 429, 5xx and network errors are retried with exponential backoff and jitter, honouring
  ``Retry-After`` (else at least ``retry_after_default_seconds``), bounded in attempts and
  total time. A 403 stops at once: arXiv has blocked the client.
* Every response is archived *before* it is parsed, as
  ``{url, status_code, headers, fetched_at, body}`` JSON under ``data/raw/<date>/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import unescape

import httpx
import structlog
import tenacity

from arxivfilter import __version__
from arxivfilter.config import ArxivSettings
from arxivfilter.errors import StorageError, UpstreamError
from arxivfilter.transport import (
    ARXIV_CAPS,
    ARXIV_DEFAULT_CAP,
    BadBody,
    CappedTransport,
    deadline_transport,
    describe_seconds,
    parse_retry_after,
    total_deadline,
)

log = structlog.get_logger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Limiter:
    """Minimum gap between request starts, shared by everything that talks to arXiv."""

    def __init__(
        self, interval: float = 3.0, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ):
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._last: float | None = None
        self._lock = threading.Lock()
        self.waited = 0.0

    def wait(self) -> float:
        """Block until a request may start; return the seconds waited."""
        with self._lock:
            now = self.clock()
            pause = 0.0
            if self._last is not None:
                pause = max(0.0, self._last + self.interval - now)
            if pause > 0:
                self.sleep(pause)
                self.waited += pause
            self._last = self.clock()
            return pause


LIMITER = Limiter()  # the process-wide one


@dataclass
class RawResponse:
    url: str
    status_code: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    archived: Path | None = None


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status
        self.gave_up: str | None = None  # why the retry budget cannot cover the next wait


def user_agent(contact: str) -> str:
    base = f"arxivfilter/{__version__} (+https://pypi.org/project/arxivfilter/"
    return f"{base}; mailto:{contact})" if contact else f"{base})"


def archive_name(url: str) -> str:
    """A stable, readable file name for a URL: slug + short hash."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", re.sub(r"^https?://", "", url)).strip("_")[:80]
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return f"{slug}_{digest}.json"


def write_json(
    path: Path, data: object, *, ensure_ascii: bool = False, what: str = "write"
) -> None:
    """Write ``data`` as JSON next to the archive (temp file + rename: a kill leaves no half file).

    The one place the fetch stage writes files; an OSError becomes a StorageError (exit 5).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=ensure_ascii, indent=1), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise StorageError(f"cannot {what} {path}: {exc.strerror}") from exc


def write_archive(folder: Path, resp: RawResponse) -> Path:
    """Write one raw response as ``{url, status_code, headers, fetched_at, body}`` JSON."""
    path = folder / archive_name(resp.url)
    try:
        body, ascii_only = resp.body.decode("utf-8"), False
    except UnicodeDecodeError:
        # keep the exact bytes: invalid ones become \udcXX escapes that
        # ``body.encode("utf-8", "surrogateescape")`` turns back into the original
        body, ascii_only = resp.body.decode("utf-8", errors="surrogateescape"), True
    record = {
        "url": resp.url,
        "status_code": resp.status_code,
        "headers": resp.headers,
        "fetched_at": resp.fetched_at,
        "body": body,
    }
    write_json(path, record, ensure_ascii=ascii_only, what="archive a response as")
    return path


class ArxivClient:
    """Polite GETs against arXiv, each archived before the caller parses it."""

    def __init__(
        self,
        settings: ArxivSettings,
        *,
        client: httpx.Client | None = None,
        limiter: Limiter | None = None,
        sleep: Sleep | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.limiter = limiter or LIMITER
        self.limiter.interval = max(self.limiter.interval, settings.delay_seconds)
        self._sleep = sleep or self.limiter.sleep
        self._jitter = jitter
        self._own_client = client is None
        self.client = client or httpx.Client(
            headers={"User-Agent": user_agent(settings.contact)},
            timeout=httpx.Timeout(settings.timeout_seconds),
            transport=CappedTransport(
                deadline_transport(
                    limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)
                ),
                self.cap_for,
            ),
            follow_redirects=True,
        )
        if client is not None:
            self.client.headers["User-Agent"] = user_agent(settings.contact)
        self.requests = 0
        self.retry_waited = 0.0

    @property
    def waited(self) -> float:
        """Seconds spent waiting on politeness (the limiter) and on retry back-off."""
        return self.limiter.waited + self.retry_waited

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def __enter__(self) -> ArxivClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cap_for(self, url: httpx.URL) -> int:
        """The body cap of the endpoint ``url`` belongs to (see ``transport.ARXIV_CAPS``)."""
        text = str(url)
        s = self.settings
        for kind, base in (("rss", s.rss_url), ("api", s.api_url), ("oai", s.oai_url)):
            if base and text.startswith(base):
                return ARXIV_CAPS[kind]
        if s.listing_url and text.startswith(s.listing_url):
            return ARXIV_CAPS["listing"]
        return ARXIV_DEFAULT_CAP

    # -- retry policy -------------------------------------------------------------

    def _pause(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        base = min(60.0, 2.0**state.attempt_number)
        pause = base + self._jitter() * base
        if isinstance(exc, _Retryable):
            if exc.retry_after is not None:
                pause = max(exc.retry_after, 0.0)
            elif exc.status in (429, 503):
                pause = max(pause, self.settings.retry_after_default_seconds)
        return pause

    def _wait(self, state: tenacity.RetryCallState) -> float:
        # tenacity asks for the wait before it asks :meth:`_stop`
        self._next_pause = self._pause(state)
        return self._next_pause

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        """Out of attempts, out of time, or asked to wait longer than the budget has left.

        The time used is the larger of the wall time since the first attempt and the waits
        already planned (so an injected sleep that does not really sleep still counts).
        """
        if state.attempt_number >= self.settings.retry_attempts:
            return True
        used = max(state.seconds_since_start or 0.0, self._planned)
        left = self.settings.retry_max_seconds - used
        pause = self._next_pause
        exc = state.outcome.exception() if state.outcome else None
        if pause > left:
            if isinstance(exc, _Retryable):
                exc.gave_up = (
                    f"the server asked to wait {describe_seconds(pause)}, more than the "
                    f"{max(left, 0.0):.0f} s left of the retry budget "
                    f"([arxiv] retry_max_seconds = {self.settings.retry_max_seconds:g})"
                )
            return True
        self._planned += pause
        return False

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        self.retry_waited += pause
        log.warning(
            "arxiv request failed, retrying",
            attempt=state.attempt_number,
            wait_s=round(pause, 1),
            error=str(exc),
        )

    def get(
        self,
        url: str,
        *,
        archive_dir: Path | None = None,
        validate: Callable[[bytes], str | None] | None = None,
    ) -> RawResponse:
        """GET ``url`` politely. ``validate(body)`` returns an error text to retry on (blank, non-XML)."""
        self._planned = 0.0
        self._next_pause = 0.0
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=self._stop,
            wait=self._wait,
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, url, archive_dir, validate)
        except _Retryable as exc:
            why = exc.gave_up or "gave up after retries"
            raise UpstreamError(
                f"arXiv stayed unavailable for {url}: {exc} ({why})",
                url=url,
                status=exc.status,
            ) from None

    def _attempt(
        self, url: str, archive_dir: Path | None, validate: Callable[[bytes], str | None] | None
    ) -> RawResponse:
        self.limiter.wait()
        self.requests += 1
        try:
            with total_deadline(self.settings.timeout_seconds):
                resp = self.client.get(url)
        except BadBody as exc:  # too large, a gzip bomb: broken upstream, nothing archived
            raise UpstreamError(f"arXiv sent an unusable response: {exc}", url=url) from None
        except httpx.TimeoutException as exc:
            raise _Retryable(
                f"{type(exc).__name__}: no complete answer within "
                f"{self.settings.timeout_seconds:g} s ([arxiv] timeout_seconds)"
            ) from None
        except httpx.TransportError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        raw = RawResponse(
            url=url,
            status_code=resp.status_code,
            headers={k.lower(): v for k, v in resp.headers.items() if k.lower() in _KEEP_HEADERS},
            body=resp.content,
            fetched_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        if archive_dir is not None:
            raw.archived = write_archive(archive_dir, raw)
        status = resp.status_code
        log.debug("arxiv response", url=url, status=status, bytes=len(raw.body))
        if status == 403:
            raise UpstreamError(
                f"arXiv refused the request (HTTP 403) for {url}: this client may be blocked; "
                "check the contact in the User-Agent and the request rate",
                url=url,
                status=403,
            )
        if status == 429 or status >= 500:
            raise _Retryable(
                f"HTTP {status}", parse_retry_after(resp.headers.get("retry-after")), status
            )
        if status >= 400:
            detail = error_detail(raw.body)
            raise UpstreamError(
                f"arXiv answered HTTP {status} for {url}" + (f": {detail}" if detail else ""),
                url=url,
                status=status,
            )
        if validate is not None:
            problem = validate(raw.body)
            if problem:
                raise _Retryable(problem, status=status)
        return raw


_API_ERROR = re.compile(
    rb"<entry>.*?api/errors#.*?<summary[^>]*>(?P<text>.*?)</summary>", re.DOTALL | re.IGNORECASE
)


def error_detail(body: bytes) -> str | None:
    """The reason an export-API error feed gives (``<summary>`` of its ``api/errors#`` entry)."""
    m = _API_ERROR.search(body[:20000])
    if not m:
        return None
    text = unescape(m.group("text").decode("utf-8", errors="replace"))
    return " ".join(text.split())[:300] or None


_KEEP_HEADERS = {"content-type", "retry-after", "last-modified", "etag", "date", "content-length"}


def looks_like_xml(body: bytes) -> str | None:
    """A ``validate`` callback: None when the body looks like XML, else why not."""
    head = body.lstrip()[:200].lower()
    if not head:
        return "blank body"
    if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
        return "an HTML page where XML was expected"
    if not head.startswith(b"<"):
        return "a body that is not XML"
    return None


def decode_archive(text: str) -> tuple[str | None, object, bytes | None]:
    """(url, status_code, body bytes or None) of one archived response's JSON text.

    The body comes back byte for byte as :func:`write_archive` received it (invalid UTF-8
    was archived as ``\\udcXX`` escapes). Raises ValueError for text that is not such a record.
    """
    record = json.loads(text)
    if not isinstance(record, dict):
        raise ValueError("not an archived response")
    inner = record.get("body")
    raw: bytes | None = None
    if isinstance(inner, str):
        try:
            raw = inner.encode("utf-8", errors="surrogateescape")
        except UnicodeEncodeError:
            raw = inner.encode("utf-8", errors="surrogatepass")
    url = record.get("url")
    return (str(url) if url else None), record.get("status_code"), raw
