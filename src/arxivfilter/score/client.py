"""The OpenAI SDK client of the LLM scorer, and how its errors read.

``build_llm_client`` puts the SDK on an ``httpx.AsyncClient`` of ours (so respx sees every
call; bodies capped by ``transport.AsyncCappedTransport``) with the SDK's own retries off:
retries are the scorer's. The base URL is always explicit, so the SDK never reads
``OPENAI_BASE_URL`` itself (GitHub sets an unset variable to "").
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from arxivfilter.config import Settings
from arxivfilter.errors import UsageError
from arxivfilter.score.sdk import openai
from arxivfilter.transport import LLM_REPLY_CAP, AsyncCappedTransport, AsyncSpreadTransport

#: Sent when a base URL is set without a key (local servers ignore it).
DUMMY_API_KEY = "not-needed"
#: The endpoint when no base URL is configured: passed explicitly, so the SDK never falls
#: back to reading ``OPENAI_BASE_URL`` itself (GitHub sets an unset variable to "").
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"

_CONTEXT_LENGTH = re.compile(
    r"context[ _-]?(length|window|size)|maximum context|n_ctx|too many tokens|prompt is too long"
    r"|exceeds? (the )?(maximum|max|context)|token limit",
    re.IGNORECASE,
)
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object", re.IGNORECASE)


class TotalTimeout(Exception):
    """An attempt that got no complete answer within ``timeout_seconds`` (a dripping server)."""


def _endpoint(settings: Settings) -> tuple[str, str]:
    """(API key, base URL) the SDK client is given: a base URL without a key sends a dummy
    key; neither is a usage error."""
    llm = settings.llm
    if not (llm.api_key or llm.base_url):
        raise UsageError(
            "the LLM scorer needs an API key or a base URL: set OPENAI_API_KEY or OPENAI_BASE_URL"
        )
    return llm.api_key or DUMMY_API_KEY, llm.base_url or OPENAI_DEFAULT_BASE_URL


def build_llm_client(
    settings: Settings, *, http_client: httpx.AsyncClient | None = None
) -> openai.AsyncOpenAI:
    """The SDK client on an ``httpx.AsyncClient`` of ours (limits >= concurrency), no SDK retries.

    ``http_client`` is used as given (e.g. one built once per process); else one is built.
    Base URL, model and key come from ``settings.llm``; a base URL without a key sends a
    dummy key, which local servers ignore.
    """
    llm = settings.llm
    api_key, base_url = _endpoint(settings)
    timeout = httpx.Timeout(llm.timeout_seconds, connect=min(llm.timeout_seconds, 30.0))
    if http_client is None:
        limits = httpx.Limits(
            max_connections=llm.concurrency + 2, max_keepalive_connections=llm.concurrency
        )
        # bodies stop at LLM_REPLY_CAP (a gzip bomb inflates no further); see transport.py
        http_client = httpx.AsyncClient(
            timeout=timeout,
            transport=AsyncCappedTransport(
                AsyncSpreadTransport.for_connections(limits), LLM_REPLY_CAP
            ),
        )
    # The SDK accepts legacy httpx objects at runtime (it converts them); its annotations
    # name only httpx2.
    return openai.AsyncOpenAI(
        api_key=api_key,
        base_url=base_url,
        http_client=http_client,  # type: ignore[arg-type]
        max_retries=0,
        timeout=timeout,  # type: ignore[arg-type]
    )


class LazyClient:
    """The SDK client of ``settings.llm``, built (and the openai SDK imported) at its first
    use: a run whose papers are all cached builds none. ``base_url`` and ``api_key`` are
    what the SDK client will hold, known before it exists."""

    def __init__(self, settings: Settings, *, http_client: httpx.AsyncClient | None = None) -> None:
        self.api_key, base = _endpoint(settings)
        self._settings = settings
        self._http_client = http_client
        self._client: openai.AsyncOpenAI | None = None
        url = httpx.URL(base)
        # as the SDK holds it: with a trailing slash
        self.base_url = (
            url if url.raw_path.endswith(b"/") else url.copy_with(raw_path=url.raw_path + b"/")
        )

    @property
    def built(self) -> openai.AsyncOpenAI | None:
        """The SDK client if it has been built, else None."""
        return self._client

    def get(self) -> openai.AsyncOpenAI:
        if self._client is None:
            self._client = build_llm_client(self._settings, http_client=self._http_client)
        return self._client


def display_url(url: object) -> str:
    """A base URL without credentials or query string, fit for logs and messages."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def body_text(exc: openai.APIStatusError) -> str:
    """The body of an error answer as text (empty of a streamed body never read)."""
    try:
        return exc.response.text
    except Exception:  # a streamed body that was never read
        return str(exc.body or "")


def is_format_refusal(status: int, body: str) -> bool:
    """Any 4xx/5xx naming the response format, except a context-length error."""
    return status >= 400 and not _CONTEXT_LENGTH.search(body) and bool(_FORMAT_WORDS.search(body))


def is_quota(exc: openai.APIStatusError, body: str) -> bool:
    """A 429 that is the account out of quota (no retry helps), not a rate limit."""
    return exc.status_code == 429 and (
        getattr(exc, "code", None) == "insufficient_quota" or "insufficient_quota" in body
    )


def describe(exc: BaseException, *, timeout_seconds: float) -> str:
    """One line saying how a call failed (not yet redacted)."""
    if isinstance(exc, TotalTimeout):
        return str(exc)
    if isinstance(exc, openai.APITimeoutError):
        return f"timed out after {timeout_seconds:g} s"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        detail = f"{type(cause).__name__}: {cause}" if cause else str(exc)
        return f"connection failed: {' '.join(detail.split())[:300]}"
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        message: Any = body.get("message") if isinstance(body, dict) else None
        if not message:
            message = body_text(exc)
        return f"HTTP {exc.status_code}: {' '.join(str(message).split())[:300]}"
    return f"{type(exc).__name__}: {exc}"
