"""The LLM scorer: judging papers through any OpenAI-compatible server.

This module holds the judging: the prompt of a batch, parsing and validating the reply, one
follow-up that shows the model what was wrong, redaction, and what goes to the sink (a
judgement per paper, a call row per HTTP attempt). The transport is beside it: the SDK
client and how its errors read (``client.py``), the request slots (``slots.py``), the
structured-output mode and its probing (``modes.py``), one call's retries and backoff
(``retries.py``), the run-wide pause and pace after 429s (``pacing.py``).

``concurrency`` bounds the requests in flight, not the papers being judged: a task gives
its slot back while it sleeps through the backoff after a 5xx, a timeout or a connection
error, and on waking goes before every batch not yet started. It keeps the slot through
the wait after a 429 (or any answer with ``Retry-After``): the server is pushing back, and
a freed slot would only send it another request to refuse. It also keeps it while the
output mode is being probed (everyone else waits for that call anyway) and while no call
has been answered yet, so a server that is down costs ``concurrency x attempts`` requests,
not one per paper.

A 401, a 429 ``insufficient_quota``, or a run whose calls got no HTTP answer at all raise
:class:`UpstreamError` and cancel the rest (a call already on the wire keeps its paid
reply); any other failure becomes a ``failed`` judgement with its reason.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from tenacity import wait_exponential_jitter
from tenacity.wait import wait_base

from arxivfilter.config import Profile, Settings
from arxivfilter.errors import UpstreamError
from arxivfilter.logs import SecretMasker
from arxivfilter.models import JudgementResult, LlmCall, PaperText
from arxivfilter.score.base import JudgementSink
from arxivfilter.score.client import DUMMY_API_KEY as DUMMY_API_KEY  # re-exported
from arxivfilter.score.client import OPENAI_DEFAULT_BASE_URL as OPENAI_DEFAULT_BASE_URL
from arxivfilter.score.client import (
    LazyClient,
    TotalTimeout,
    body_text,
    describe,
    is_format_refusal,
    is_quota,
)
from arxivfilter.score.client import build_llm_client as build_llm_client
from arxivfilter.score.client import display_url as display_url
from arxivfilter.score.modes import MODES as MODES  # re-exported
from arxivfilter.score.modes import ModeStore as ModeStore
from arxivfilter.score.modes import OutputMode, Refused, response_format
from arxivfilter.score.pacing import Pacer, WaitTooLong, limit_header
from arxivfilter.score.prompt import (
    Templates,
    load_templates,
    parse_answer,
    prompt_settings_hash,
    retry_message,
    safe_id,
    user_message,
)
from arxivfilter.score.questions import FULL, Question
from arxivfilter.score.retries import CallFailed, Retries, note_pacer_pause
from arxivfilter.score.sampling import key_fields, request_fields
from arxivfilter.score.sdk import openai
from arxivfilter.score.slots import Slot, Slots, current_slot, hold
from arxivfilter.transport import BadBody, retry_after

log = structlog.get_logger(__name__)

RAW_REPLY_CHARS = 8000
FOLLOW_UP_REPLY_CHARS = 4000


def build_llm_scorer(
    settings: Settings,
    *,
    http_client: httpx.AsyncClient | None = None,
    remember: Callable[[str, str], ModeStore] | None = None,
    **hooks: Any,
) -> LlmScorer:
    """An :class:`LlmScorer`; ``remember(base_url, model)`` gives where its accepted output
    mode is kept between runs (None: probed anew by each scorer)."""
    client = LazyClient(settings, http_client=http_client)
    memory = remember(display_url(client.base_url), settings.llm.model) if remember else None
    return LlmScorer(
        client,
        settings,
        load_mode=memory.load if memory is not None else None,
        save_mode=memory.save if memory is not None else None,
        close_client=http_client is None,
        **hooks,
    )


class _Redactor:
    """Removes the API key (and anything shaped like one) from text we keep or show:
    the one masker of ``logs.SecretMasker``, marking with ``[redacted]``."""

    def __init__(self, *secrets: str) -> None:
        self._masker = SecretMasker(
            [s for s in secrets if s and s != DUMMY_API_KEY], marker="[redacted]"
        )

    def __call__(self, text: str | None) -> str | None:
        return None if text is None else self._masker.mask(text)


@dataclass
class _Reply:
    content: str | None
    call: LlmCall
    note: str | None = None  # why the reply may be unusable (cut off, refusal, bad body)


@dataclass
class _Job:
    profile: Profile
    sink: JudgementSink
    system: str
    schema: dict[str, Any]
    prompt_hash: str
    skipped: int = 0
    fatal: UpstreamError | None = None
    # tasks whose request is on the wire: its reply is paid for, so a fatal error lets it land
    in_flight: set[asyncio.Task[Any] | None] = field(default_factory=set)


class _NoSink:
    """A sink for building request bodies only (nothing is judged)."""

    def judgement(self, paper: PaperText, result: JudgementResult) -> None:
        raise AssertionError("no judgement while building a request")

    def llm_call(self, call: LlmCall) -> None:
        raise AssertionError("no call while building a request")

    def may_start_call(self) -> bool:
        return False


_NO_SINK = _NoSink()


# the papers of the batch a task is judging, so every call row names them (audit)
_BATCH_IDS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "batch_ids", default=()
)


class LlmScorer:
    """Judges papers for a profile through an OpenAI-compatible chat-completions API."""

    kind = "llm"

    def __init__(
        self,
        client: openai.AsyncOpenAI | LazyClient,
        settings: Settings,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        backoff: wait_base | None = None,
        load_mode: Callable[[], str | None] | None = None,
        save_mode: Callable[[str], None] | None = None,
        templates: Templates | None = None,
        clock: Callable[[], float] = time.monotonic,
        close_client: bool = False,
        question: Question | None = None,
    ) -> None:
        # the SDK client itself, or a LazyClient that builds it at the first call
        self._source = client
        self._close_client = close_client
        self._settings = settings
        self._llm = settings.llm
        self._question = question or FULL
        self._templates = templates or load_templates(self._question.files)
        self._sleep = sleep or asyncio.sleep
        self._backoff = backoff or wait_exponential_jitter(initial=1, max=60, jitter=1)
        self._load_mode = load_mode
        self._save_mode = save_mode
        self._clock = clock
        self._redact = _Redactor(settings.llm.api_key, str(getattr(client, "api_key", "") or ""))
        self._base_url = display_url(client.base_url)
        self._modes = OutputMode(self._base_url, load=load_mode, save=save_mode)
        self._retries = Retries(
            self._llm,
            base_url=self._base_url,
            clock=clock,
            sleep=self._sleep,
            backoff=self._backoff,
            redact=self._redact,
            answered=lambda: self.answered,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = Slots(self._llm.concurrency)
        # one pause and pace for every call (score/pacing.py)
        self.pacer = Pacer(clock, self._sleep, max_wait=self._llm.run_wait_max_seconds)
        self.answered = 0  # calls that got any HTTP status back
        self.attempts = 0  # HTTP attempts started

    # ------------------------------------------------------------------ Scorer protocol

    @property
    def model(self) -> str:
        """The configured model id."""
        return self._llm.model

    @property
    def mode(self) -> str | None:
        """The structured-output mode in use (None until the first call needs one)."""
        return self._modes.mode

    def prompt_hash(self, profile: Profile) -> str:
        """Hash of the templates and the budgets that shape the prompt (the profile is keyed apart)."""
        return prompt_settings_hash(
            self._templates,
            abstract_chars=self._llm.abstract_chars,
            papers_per_call=self._llm.papers_per_call,
            sampling=key_fields(self._llm),
        )

    async def judge(
        self, profile: Profile, papers: Sequence[PaperText], sink: JudgementSink
    ) -> None:
        """Judge every paper (bounded concurrency); results go to ``sink`` as they arrive."""
        if not papers:
            return
        self._bind_loop()
        size = self._llm.papers_per_call
        job = _Job(
            profile=profile,
            sink=sink,
            system=self._question.system(self._templates, profile, size),
            schema=self._question.schema(profile, size),
            prompt_hash=self.prompt_hash(profile),
        )
        batches = [list(papers[i : i + size]) for i in range(0, len(papers), size)]
        tasks = [asyncio.create_task(self._judge_batch(job, batch)) for batch in batches]
        try:
            for finished in asyncio.as_completed(tasks):
                await finished
        except UpstreamError:
            # No new request starts (job.fatal); one already sent is paid for: its reply is
            # stored before the error ends the run. Everything else stops here.
            for task in tasks:
                if task not in job.in_flight:
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if job.skipped:
            log.warning(
                "max cost reached: papers left unscored", profile=profile.name, papers=job.skipped
            )

    @property
    def client(self) -> openai.AsyncOpenAI:
        """The SDK client (the batch scorer uses it for the Files and Batch endpoints)."""
        return self._client

    @property
    def _client(self) -> openai.AsyncOpenAI:
        source = self._source
        return source.get() if isinstance(source, LazyClient) else source

    @property
    def question(self) -> Question:
        """What this scorer's calls ask (the full judgement, or the first pass)."""
        return self._question

    def sibling(self, question: Question) -> LlmScorer:
        """A scorer asking ``question`` over the same client, retries and mode store."""
        return LlmScorer(
            self._source,
            self._settings,
            sleep=self._sleep,
            backoff=self._backoff,
            load_mode=self._load_mode,
            save_mode=self._save_mode,
            clock=self._clock,
            question=question,
        )

    def request_bodies(
        self, profile: Profile, groups: Sequence[Sequence[PaperText]]
    ) -> Iterator[dict[str, Any]]:
        """The chat-completions body a direct call would send for each group of papers."""
        size = self._llm.papers_per_call
        job = _Job(
            profile=profile,
            sink=_NO_SINK,
            system=self._question.system(self._templates, profile, size),
            schema=self._question.schema(profile, size),
            prompt_hash=self.prompt_hash(profile),
        )
        mode = self._modes.stored()
        for papers in groups:
            user = user_message(self._templates, papers, abstract_chars=self._llm.abstract_chars)
            messages = [
                {"role": "system", "content": job.system},
                {"role": "user", "content": user},
            ]
            args = self._request_args(job, messages, mode)
            body = {k: v for k, v in args.items() if k != "extra_body"}
            body.update(args.get("extra_body") or {})
            yield body

    def parse_reply(
        self, profile: Profile, content: str | None, ids: Sequence[str]
    ) -> tuple[dict[str, JudgementResult], dict[str, str]]:
        """A reply's judgements by (safe) paper id, and errors, as for a direct call."""
        results, errors = parse_answer(
            content, profile, list(ids), normalise=self._question.normalise
        )
        results = {
            i: r.model_copy(update={"tldr": self._redact(r.tldr), "reason": self._redact(r.reason)})
            for i, r in results.items()
        }
        return results, errors

    async def aclose(self) -> None:
        """Close the HTTP client if this scorer built it (call inside the event loop that used it)."""
        source = self._source
        client = source.built if isinstance(source, LazyClient) else source
        if self._close_client and client is not None:
            await client.close()

    # ------------------------------------------------------------------ one batch

    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._slots = Slots(self._llm.concurrency)
            self._modes.rebind()

    async def _judge_batch(self, job: _Job, batch: list[PaperText]) -> None:
        _BATCH_IDS.set(tuple(p.arxiv_id for p in batch))  # each batch runs in its own task
        slot = Slot(self._slots)
        hold(slot)
        try:
            await slot.acquire(first=False)
            if job.fatal is not None:
                return
            if not job.sink.may_start_call():
                job.skipped += len(batch)
                return
            try:
                results = await self._score(job, batch)
            except UpstreamError as exc:
                job.fatal = job.fatal or exc
                raise
        finally:
            slot.release()
        self._store(job, batch, results)

    def _store(
        self, job: _Job, batch: list[PaperText], results: dict[str, JudgementResult]
    ) -> None:
        """Store the judgements ``results`` holds (by safe id) for the papers of ``batch``."""
        for paper in batch:
            result = results.get(safe_id(paper.arxiv_id))
            if result is not None:
                job.sink.judgement(paper, result)

    async def _score(self, job: _Job, batch: list[PaperText]) -> dict[str, JudgementResult]:
        ids = list(dict.fromkeys(safe_id(p.arxiv_id) for p in batch))
        user = user_message(self._templates, batch, abstract_chars=self._llm.abstract_chars)
        messages: list[dict[str, str]] = [
            {"role": "system", "content": job.system},
            {"role": "user", "content": user},
        ]
        try:
            reply = await self._request(job, messages, len(batch))
        except CallFailed as exc:
            return {i: self._failed(str(exc)) for i in ids}
        results, errors = self._parse(job, reply, ids)
        if not errors:
            return results
        # One follow-up that shows the model what was wrong with its answer.
        problems = "; ".join(f"paper {i}: {e}" if len(ids) > 1 else e for i, e in errors.items())
        follow_up = [
            *messages,
            {"role": "assistant", "content": (reply.content or "")[:FOLLOW_UP_REPLY_CHARS]},
            {"role": "user", "content": retry_message(self._templates, problems)},
        ]
        try:
            second = await self._request(job, follow_up, len(errors))
        except UpstreamError:
            self._store(job, batch, results)  # the valid part of a paid reply is kept
            raise
        except CallFailed as exc:
            for i, err in errors.items():
                results[i] = self._failed(
                    f"invalid answer ({err}); the follow-up call failed: {exc}"
                )
            return results
        again, still = self._parse(job, second, list(errors))
        results.update(again)
        for i, err in still.items():
            results[i] = self._failed(f"invalid answer after one retry: {err}")
        return results

    def _parse(
        self, job: _Job, reply: _Reply, ids: list[str]
    ) -> tuple[dict[str, JudgementResult], dict[str, str]]:
        results, errors = parse_answer(
            reply.content, job.profile, ids, normalise=self._question.normalise
        )
        # a server may echo the key into the answer's text: it is stored and rendered
        results = {
            i: r.model_copy(update={"tldr": self._redact(r.tldr), "reason": self._redact(r.reason)})
            for i, r in results.items()
        }
        if reply.note and errors:
            errors = {i: f"{e} ({reply.note})" for i, e in errors.items()}
        call = reply.call
        call.status = "invalid" if errors else "ok"
        call.error = self._redact("; ".join(dict.fromkeys(errors.values()))) if errors else None
        job.sink.llm_call(call)
        if errors:
            log.info(
                "invalid answer", profile=job.profile.name, papers=list(errors), error=call.error
            )
        return results, errors

    def _failed(self, error: str) -> JudgementResult:
        return JudgementResult(status="failed", error=self._redact(error))

    # ------------------------------------------------------------------ HTTP

    async def _request(self, job: _Job, messages: list[dict[str, str]], n_papers: int) -> _Reply:
        """One logical call in the scorer's output mode (``modes.py``), retried (``retries.py``)."""

        async def send(mode: str) -> _Reply:
            return await self._retries.call(lambda: self._attempt(job, messages, mode, n_papers))

        return await self._modes.send(send)

    def _describe(self, exc: BaseException) -> str:
        return describe(exc, timeout_seconds=self._llm.timeout_seconds)

    def _request_args(self, job: _Job, messages: list[dict[str, str]], mode: str) -> dict[str, Any]:
        # sampling fields as extra_body: the SDK's keyword set depends on its version. The
        # output format and the messages too: the SDK walks a typed parameter's every nested
        # value (the answer schema: 3 ms of CPU a call; the messages: 0.4 ms, a tenth of a
        # call's CPU at concurrency 64) and sends the same bytes either way: extra_body's
        # fields replace the typed ones in place
        extra = request_fields(self._llm)
        fmt = response_format(mode, job.schema)
        if fmt is not None:
            extra = {"response_format": fmt, **extra}
        return {
            "model": self.model,
            "messages": (),
            "extra_body": {"messages": messages, **extra},
        }

    def _call(self, job: _Job, mode: str, n_papers: int, **fields: Any) -> LlmCall:
        return LlmCall(
            arxiv_ids=list(_BATCH_IDS.get()),
            profile=job.profile.name,
            base_url=self._base_url,
            model=self.model,
            mode=mode,
            prompt_hash=job.prompt_hash,
            papers=n_papers,
            **fields,
        )

    async def _attempt(
        self, job: _Job, messages: list[dict[str, str]], mode: str, n_papers: int
    ) -> _Reply:
        """One HTTP request. Errors are recorded here; a usable reply is recorded after parsing."""
        slot = current_slot()
        if slot is not None:
            await slot.acquire()  # already held, unless back from a backoff
        if job.fatal is not None:  # a 401 or an empty quota seen by another task: send nothing
            raise job.fatal
        paced = await self.pacer.turn()  # the shared pause and pace (score/pacing.py)
        if job.fatal is not None:
            raise job.fatal
        self.attempts += 1
        started = self._clock()
        task = asyncio.current_task()
        try:
            job.in_flight.add(task)
            try:
                # httpx's timeouts are per read: this bounds the whole attempt (a dripping server)
                async with asyncio.timeout(self._llm.timeout_seconds):
                    raw = await self._client.chat.completions.with_raw_response.create(
                        **self._request_args(job, messages, mode)
                    )
            finally:
                job.in_flight.discard(task)
        except openai.APIStatusError as exc:
            self._status_error(job, exc, mode, n_papers, paced, started)
            raise
        except (openai.APIConnectionError, TimeoutError) as exc:
            self._no_answer(job, exc, mode, n_papers, started)
            raise
        self.pacer.accepted(paced)
        self.answered += 1
        return self._reply(job, raw, mode, n_papers, int((self._clock() - started) * 1000))

    def _status_error(
        self,
        job: _Job,
        exc: openai.APIStatusError,
        mode: str,
        n_papers: int,
        paced: Any,
        started: float,
    ) -> None:
        """An HTTP error answer: recorded, then what it means raised (a fatal error, a
        refused output mode); returns when ``exc`` itself should be retried or fail."""
        self.answered += 1
        body = body_text(exc)
        self._pace(job, exc, body, mode, n_papers, paced)
        message = self._redact(self._describe(exc))
        refused = mode != "text" and is_format_refusal(exc.status_code, body)
        job.sink.llm_call(
            self._call(
                job,
                mode,
                n_papers,
                latency_ms=int((self._clock() - started) * 1000),
                http_status=exc.status_code,
                status="refused" if refused else "error",
                raw_reply=(self._redact(body) or "")[:RAW_REPLY_CHARS],
                error=message,
            )
        )
        if exc.status_code == 401:
            raise UpstreamError(
                f"the LLM server at {self._base_url} rejected the API key (HTTP 401): "
                "check OPENAI_API_KEY or [llm] api_key",
                url=self._base_url,
                status=401,
            ) from None
        if is_quota(exc, body):
            raise UpstreamError(
                f"the LLM account behind {self._base_url} has no quota left "
                "(HTTP 429 insufficient_quota): check its plan and billing",
                url=self._base_url,
                status=429,
            ) from None
        if job.fatal is not None:  # no retry, no backoff: the run is over
            raise job.fatal from None
        if refused:
            raise Refused(message) from None

    def _pace(
        self,
        job: _Job,
        exc: openai.APIStatusError,
        body: str,
        mode: str,
        n_papers: int,
        paced: Any,
    ) -> None:
        """Tell the shared pacer: a rate limit (429, not quota) slows every task down, and
        one that asks for a wait longer than the run may take ends it."""
        if exc.status_code != 429 or is_quota(exc, body):
            self.pacer.accepted(paced)
            return
        headers: Any = exc.response.headers
        try:
            note_pacer_pause(
                self.pacer.rate_limited(paced, retry_after(headers), limit_header(headers))
            )
        except WaitTooLong as stop:
            job.sink.llm_call(
                self._call(
                    job, mode, n_papers, http_status=429, status="error",
                    raw_reply=(self._redact(body) or '')[:RAW_REPLY_CHARS],
                    error=str(stop),
                )
            )  # fmt: skip
            raise UpstreamError(str(stop), url=self._base_url, status=429) from None

    def _no_answer(
        self,
        job: _Job,
        exc: openai.APIConnectionError | TimeoutError,
        mode: str,
        n_papers: int,
        started: float,
    ) -> None:
        """No HTTP answer (a connection error, the whole-attempt deadline): recorded, then
        raised as what it means; returns when ``exc`` itself should be retried."""
        failure: BaseException = exc
        if isinstance(exc, TimeoutError):
            failure = TotalTimeout(
                f"timed out after {self._llm.timeout_seconds:g} s "
                "(no complete answer in that time; [llm] timeout_seconds)"
            )
        job.sink.llm_call(
            self._call(
                job,
                mode,
                n_papers,
                latency_ms=int((self._clock() - started) * 1000),
                status="error",
                error=self._redact(self._describe(failure)),
            )
        )
        if isinstance(exc.__cause__, BadBody):  # too large, a gzip bomb: a broken server
            raise UpstreamError(
                f"the LLM server at {self._base_url} sent an unusable reply: {exc.__cause__}",
                url=self._base_url,
            ) from None
        if job.fatal is not None:
            raise job.fatal from None
        if failure is not exc:
            raise failure from None

    def _reply(self, job: _Job, raw: Any, mode: str, n_papers: int, latency: int) -> _Reply:
        """A 2xx answer: its call record (tokens, the redacted reply) and its content."""
        body = raw.http_response.text
        call = self._call(
            job, mode, n_papers, latency_ms=latency, http_status=raw.status_code, status="ok"
        )
        try:
            completion = raw.parse()
            choice = completion.choices[0]
        except Exception as exc:
            call.raw_reply = (self._redact(body) or "")[:RAW_REPLY_CHARS]
            return _Reply(
                content=None,
                call=call,
                note=f"the HTTP body is not a chat completion: {type(exc).__name__}",
            )
        usage = completion.usage
        if usage is not None:
            call.prompt_tokens = usage.prompt_tokens
            call.completion_tokens = usage.completion_tokens
            details = usage.prompt_tokens_details
            call.cached_tokens = details.cached_tokens if details is not None else None
        content = choice.message.content
        call.raw_reply = (self._redact(content or "") or "")[:RAW_REPLY_CHARS]
        note = None
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            note = f"the model refused: {' '.join(str(refusal).split())[:200]}"
        elif choice.finish_reason == "length":
            note = "the reply was cut off at the token limit"
        return _Reply(content=content, call=call, note=note)
