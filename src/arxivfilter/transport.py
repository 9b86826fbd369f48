"""Bounds on what an upstream server can do to us: time, size and ``Retry-After``.

Shared by the arXiv client (``fetch/http.py``) and the LLM client (``score/llm.py``), which
may not import each other:

* :func:`parse_retry_after` / :func:`retry_after`: the one ``Retry-After`` parser
  (delta-seconds, an HTTP date, or ``retry-after-ms``). Absurd values come back as large
  finite numbers or ``inf``, never an exception; callers compare them with what is left of
  their retry budget and give up rather than sleep.
* :class:`CappedTransport` / :class:`AsyncCappedTransport`: wrap an httpx transport so that a
  response body is read as a stream and stops at a cap (Content-Length checked first, then
  the *decoded* bytes counted as they come: a gzip bomb is inflated at most to the cap).
  Only ``gzip``/``deflate``/``identity`` are asked for and accepted.
* :func:`total_deadline` + :func:`deadline_transport`: httpx timeouts are per read, so a
  server that drips one byte per read never trips them. Under ``total_deadline(s)`` every
  socket read of a sync transport built by :func:`deadline_transport` waits at most what is
  left of ``s`` (headers and body alike). The async LLM path uses ``asyncio.timeout``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import email.utils
import math
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

import httpcore
import httpx

MIB = 1024 * 1024
#: Caps per arXiv endpoint, far above the largest real responses (README, "Bounds"):
#: the 2024-11-28 all-categories RSS feed is 2.8 MB, a 1,000-record OAI-PMH page 1.2 MB,
#: an export-API page of 100 entries 0.23 MB (2,000 entries: about 4.6 MB).
ARXIV_CAPS: dict[str, int] = {
    "rss": 64 * MIB,
    "api": 64 * MIB,
    "oai": 64 * MIB,
    "listing": 32 * MIB,
}
ARXIV_DEFAULT_CAP = 64 * MIB
#: A chat completion for one to fifty papers is a few KB.
LLM_REPLY_CAP = 4 * MIB
ACCEPT_ENCODING = "gzip, deflate"


# --------------------------------------------------------------------------- Retry-After


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` value (delta-seconds or an HTTP date).

    None when absent or unreadable; ``inf`` for a number too large for a float; a date far in
    the future gives its (large, finite) distance. Never raises.
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return None if math.isnan(seconds) else max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    try:
        return max((when - (now or dt.datetime.now(dt.UTC))).total_seconds(), 0.0)
    except OverflowError:  # pragma: no cover - timedelta limits are beyond year 9999
        return math.inf


def retry_after(headers: Mapping[str, str] | None, now: dt.datetime | None = None) -> float | None:
    """Seconds asked for by ``retry-after-ms`` (OpenAI) or ``Retry-After`` in ``headers``."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms)
        except ValueError:
            value = math.nan
        if not math.isnan(value):
            return max(value / 1000.0, 0.0)
    return parse_retry_after(headers.get("retry-after"), now)


def describe_seconds(seconds: float) -> str:
    """``86400`` -> ``'86400 s'``; ``inf`` -> ``'forever'`` (for messages)."""
    if math.isinf(seconds) or seconds > 1e12:
        return "an absurd time"
    return f"{seconds:.0f} s"


# --------------------------------------------------------------------------- size caps


class BadBody(httpx.DecodingError):
    """A response body we refuse: larger than its cap, or in an encoding we did not ask for."""


class ResponseTooLarge(BadBody):
    """A body (after decoding) larger than the cap for its endpoint."""

    def __init__(self, url: object, cap: int, *, compressed: bool = False) -> None:
        what = "inflates to" if compressed else "is"
        super().__init__(f"the response from {url} {what} more than {cap / MIB:g} MiB")
        self.url = str(url)
        self.cap = cap


CapFor = int | Callable[[httpx.URL], int]


class _Decoder:
    """Content-Encoding decoding with a hard cap on the output (zlib ``max_length``)."""

    def __init__(self, encoding: str, cap: int, url: httpx.URL) -> None:
        self.cap = cap
        self.url = url
        self.total = 0
        self.encoding = encoding
        self._z: Any = None
        if encoding == "gzip":
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
            self._raw_deflate = False

    def _count(self, n: int) -> None:
        self.total += n
        if self.total > self.cap:
            raise ResponseTooLarge(self.url, self.cap, compressed=self._z is not None)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._z is None:
            self._count(len(data))
            yield data
            return
        while data:
            try:
                out = self._z.decompress(data, self.cap - self.total + 1)
            except zlib.error:
                if self.encoding == "deflate" and self.total == 0 and not self._raw_deflate:
                    self._raw_deflate = True  # servers send raw deflate too (as httpx accepts)
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise BadBody(
                    f"the response from {self.url} is not valid {self.encoding}"
                ) from None
            self._count(len(out))
            if out:
                yield out
            data = self._z.unconsumed_tail
            if self._z.eof:
                return

    def flush(self) -> bytes:
        if self._z is None:
            return b""
        out: bytes = self._z.flush()
        self._count(len(out))
        return out


def _prepare(request: httpx.Request) -> None:
    request.headers["Accept-Encoding"] = ACCEPT_ENCODING


def _checked(response: httpx.Response, cap: int) -> tuple[_Decoder, list[tuple[bytes, bytes]]]:
    """The decoder for a response, and its headers without the encoding ones (we decode)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in ("identity", "gzip", "deflate"):
        raise BadBody(f"the response from {response.request.url} uses Content-Encoding {encoding}")
    length = response.headers.get("content-length", "")
    if encoding == "identity" and length.isdigit() and int(length) > cap:
        raise ResponseTooLarge(response.request.url, cap)
    headers = [
        (k, v)
        for k, v in response.headers.raw
        if k.lower() not in (b"content-encoding", b"content-length")
    ]
    return _Decoder(encoding, cap, response.request.url), headers


def _cap(cap_for: CapFor, url: httpx.URL) -> int:
    return cap_for if isinstance(cap_for, int) else cap_for(url)


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes], decoder: _Decoder, close: Callable[[], None]):
        self._inner = inner
        self._decoder = decoder
        self._close = close

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            _check_deadline(self._decoder.url)
            yield from self._decoder.feed(chunk)
        tail = self._decoder.flush()
        if tail:
            yield tail

    def close(self) -> None:
        self._close()


class _AsyncCappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, decoder: _Decoder) -> None:
        self._inner = inner
        self._decoder = decoder

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            for out in self._decoder.feed(chunk):
                yield out
        tail = self._decoder.flush()
        if tail:
            yield tail

    async def aclose(self) -> None:
        await self._inner.aclose()


class CappedTransport(httpx.BaseTransport):
    """A sync transport whose response bodies stop at ``cap_for(url)`` decoded bytes."""

    def __init__(self, inner: httpx.BaseTransport, cap_for: CapFor) -> None:
        self._inner = inner
        self._cap_for = cap_for

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _prepare(request)
        response = self._inner.handle_request(request)
        response.request = request
        try:
            decoder, headers = _checked(response, _cap(self._cap_for, request.url))
        except BadBody:
            response.close()
            raise
        stream = response.stream
        assert isinstance(stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=headers,
            stream=_CappedStream(stream, decoder, stream.close),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


class AsyncCappedTransport(httpx.AsyncBaseTransport):
    """An async transport whose response bodies stop at ``cap_for(url)`` decoded bytes."""

    def __init__(self, inner: httpx.AsyncBaseTransport, cap_for: CapFor) -> None:
        self._inner = inner
        self._cap_for = cap_for

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _prepare(request)
        response = await self._inner.handle_async_request(request)
        response.request = request
        try:
            decoder, headers = _checked(response, _cap(self._cap_for, request.url))
        except BadBody:
            await response.aclose()
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=headers,
            stream=_AsyncCappedStream(stream, decoder),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


# --------------------------------------------------------------------------- many calls in flight

#: connections per pool of :class:`AsyncSpreadTransport`
POOL_SIZE = 8


class AsyncSpreadTransport(httpx.AsyncBaseTransport):
    """Requests spread over several small connection pools, each to the pool with the
    fewest responses open. httpcore's pool (1.0.x) walks its connections for every queued
    request each time a request starts or ends, so its cost per call grows with its size: at
    64 connections that bookkeeping was most of the 23 ms of CPU each LLM call cost here
    (``bench/score_throughput.py --concurrency 64``). Pools of :data:`POOL_SIZE` keep the
    walk short; a request is counted until its response is closed."""

    def __init__(self, make: Callable[[], httpx.AsyncBaseTransport], pools: int) -> None:
        self._pools = [make() for _ in range(max(1, pools))]
        self._open = [0] * len(self._pools)

    @classmethod
    def for_connections(cls, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
        """One plain pool up to :data:`POOL_SIZE` connections, else pools of that size."""
        most = limits.max_connections or POOL_SIZE
        if most <= POOL_SIZE:
            return httpx.AsyncHTTPTransport(limits=limits)
        pools = -(-most // POOL_SIZE)
        keep = -(-(limits.max_keepalive_connections or most) // pools)
        each = httpx.Limits(
            max_connections=POOL_SIZE,
            max_keepalive_connections=keep,
            keepalive_expiry=limits.keepalive_expiry,
        )
        # one TLS context for all (each pool would load the CA bundle again: 50 ms apiece)
        tls = httpx.create_ssl_context()
        return cls(lambda: httpx.AsyncHTTPTransport(limits=each, verify=tls), pools)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        i = min(range(len(self._pools)), key=self._open.__getitem__)
        self._open[i] += 1
        try:
            response = await self._pools[i].handle_async_request(request)
        except BaseException:
            self._open[i] -= 1
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _CountedStream(stream, self._open, i)
        return response

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


class _CountedStream(httpx.AsyncByteStream):
    """A response body that gives its pool's count back once, when it is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, counts: list[int], index: int) -> None:
        self._inner = inner
        self._counts = counts
        self._index: int | None = index

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._index is not None:
                self._counts[self._index] -= 1
                self._index = None


# --------------------------------------------------------------------------- total deadline

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


@contextlib.contextmanager
def total_deadline(seconds: float) -> Iterator[None]:
    """Every read of a :func:`deadline_transport` inside this block ends by ``seconds`` from now."""
    token = _DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def _remaining() -> float | None:
    deadline = _DEADLINE.get()
    return None if deadline is None else deadline - time.monotonic()


def _check_deadline(url: object) -> None:
    left = _remaining()
    if left is not None and left <= 0:
        raise httpx.ReadTimeout(f"the response from {url} took longer than its total deadline")


def _bounded(timeout: float | None) -> float | None:
    left = _remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise httpcore.ReadTimeout("total deadline exceeded")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _bounded(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:  # pragma: no cover - arXiv is reached over TCP
        return _DeadlineStream(
            self._inner.connect_unix_socket(path, _bounded(timeout), socket_options)
        )

    def sleep(self, seconds: float) -> None:  # pragma: no cover - used by httpcore retries only
        self._inner.sleep(seconds)


def deadline_transport(**kwargs: Any) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport(**kwargs)`` whose socket reads honour :func:`total_deadline`."""
    transport = httpx.HTTPTransport(**kwargs)
    pool = transport._pool
    backend = getattr(pool, "_network_backend", None)
    if backend is None:  # pragma: no cover - an httpcore without the attribute: fail loudly
        raise RuntimeError("httpcore.ConnectionPool has no _network_backend: update transport.py")
    pool._network_backend = _DeadlineBackend(backend)
    return transport
