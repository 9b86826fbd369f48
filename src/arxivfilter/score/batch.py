"""Batch mode (``[llm] mode = "batch"``): OpenAI's Batch API, half price, results within 24 h.

A run *submits* the requests its papers need: the very bodies a direct call would send
(same prompt, same cache key, so nothing is paid twice and a paper judged directly is never
batched), one JSONL line each with a ``custom_id``, uploaded to ``/v1/files``
(``purpose=batch``) and started with ``/v1/batches`` (``endpoint=/v1/chat/completions``,
``completion_window=24h``), split so that no batch passes ``batch_max_requests`` lines
(the API's limit is 50,000) or ``batch_max_mb`` (200 MB). Each batch and its lines are in
the database (``llm_batches``, ``llm_batch_requests``) from the moment its file is
uploaded, before the batch is created: a run killed at any point loses nothing submitted
(an uploaded file whose batch was never created is found again by its file id, or started).

A run *collects* every open batch (first, and again after submitting, polling with backoff
for up to ``batch_wait_seconds``): a finished batch's output file becomes judgements and
``llm_calls`` rows (billed at the batch tier); lines that expired, failed, or are missing
from the output are requeued (asked again by the next submission). A paper in an open batch
is *pending*: neither failed nor unscored (exit 0).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import structlog
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Profile, Settings
from arxivfilter.errors import UpstreamError
from arxivfilter.models import (
    Judgement,
    JudgementResult,
    LlmBatch,
    LlmBatchRequest,
    LlmCall,
    PaperText,
    utcnow,
)
from arxivfilter.score.llm import LlmScorer, display_url
from arxivfilter.score.prices import Prices
from arxivfilter.score.prompt import safe_id
from arxivfilter.score.questions import FIRST, FULL, Question
from arxivfilter.score.sdk import openai
from arxivfilter.text import normalise

log = structlog.get_logger(__name__)

ENDPOINT = "/v1/chat/completions"
#: Azure OpenAI's batch lines and batches name the endpoint without the version prefix
AZURE_ENDPOINT = "/chat/completions"
TERMINAL = frozenset({"completed", "expired", "failed", "cancelled"})
RAW_REPLY_CHARS = 8000


@dataclass
class CollectCounts:
    """What one collection stored."""

    batches: int = 0  # batches finished and collected
    judged: int = 0
    failed: int = 0
    requeued: int = 0  # papers whose line expired or failed: asked again later
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    papers: set[str] = field(default_factory=set)  # papers that got a judgement
    open_batches: int = 0  # still running after the collection
    pending: int = 0  # papers in those

    def add_call(self, call: LlmCall, cost_usd: float | None) -> None:
        self.calls += 1
        self.prompt_tokens += call.prompt_tokens or 0
        self.completion_tokens += call.completion_tokens or 0
        self.cached_tokens += call.cached_tokens or 0
        self.cost_usd += cost_usd or 0.0

    def add_judgement(self, row: Judgement) -> None:
        self.papers.add(row.arxiv_id)
        if row.status == "ok":
            self.judged += 1
        else:
            self.failed += 1


class BatchScorer:
    """A :class:`~arxivfilter.score.base.Scorer` that submits to the Batch API.

    ``judge`` needs the score stage's ``StoreSink`` (its session and cache keys): it submits
    and marks papers pending; their judgements arrive with :meth:`collect`.
    """

    kind = "llm"

    def __init__(
        self,
        llm: LlmScorer,
        client: openai.AsyncOpenAI,
        settings: Settings,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._llm = llm
        self._client = client
        self._settings = settings
        self._sleep = sleep or asyncio.sleep
        self._clock = clock
        self._base_url = display_url(client.base_url)
        self._prices = Prices.from_settings(settings)
        host = (client.base_url.host or "").lower()
        azure = host.endswith((".openai.azure.com", ".cognitiveservices.azure.com"))
        self._endpoint = AZURE_ENDPOINT if azure else ENDPOINT

    @property
    def model(self) -> str:
        return self._llm.model

    @property
    def question(self) -> Question:
        return self._llm.question

    def prompt_hash(self, profile: Profile) -> str:
        return self._llm.prompt_hash(profile)

    def sibling(self, question: Question) -> BatchScorer:
        return BatchScorer(
            self._llm.sibling(question),
            self._client,
            self._settings,
            sleep=self._sleep,
            clock=self._clock,
        )

    async def aclose(self) -> None:
        await self._llm.aclose()

    # ------------------------------------------------------------------ submit

    async def judge(self, profile: Profile, papers: Sequence[PaperText], sink: Any) -> None:
        """Submit the papers not already in an open batch; every paper is marked pending."""
        if not papers:
            return
        session: Session = sink.session
        keys: dict[str, str] = sink.keys
        pending = store.pending_cache_keys(session, (keys[p.arxiv_id] for p in papers))
        todo = [p for p in papers if keys[p.arxiv_id] not in pending]
        size = self._settings.llm.papers_per_call
        groups = [todo[i : i + size] for i in range(0, len(todo), size)]
        await self._submit_groups(session, self._request_lines(profile, groups, keys))
        for paper in papers:
            sink.pending(paper)
        log.info(
            "batch submitted",
            profile=profile.name,
            question=self.question.name,
            requests=len(groups),
            already_pending=len(papers) - len(todo),
        )

    def _request_lines(
        self, profile: Profile, groups: Sequence[Sequence[PaperText]], keys: dict[str, str]
    ) -> Iterator[tuple[bytes, LlmBatchRequest]]:
        """Each group's JSONL line (the body a direct call would send) and its database row."""
        prompt_hash = self.prompt_hash(profile)
        bodies = self._llm.request_bodies(profile, groups)
        for group, body in zip(groups, bodies, strict=True):
            group_keys = [keys[p.arxiv_id] for p in group]
            custom_id = "r-" + hashlib.sha256("\x1f".join(group_keys).encode()).hexdigest()[:40]
            line = {"custom_id": custom_id, "method": "POST", "url": self._endpoint, "body": body}
            yield (
                json.dumps(line, ensure_ascii=False).encode() + b"\n",
                LlmBatchRequest(
                    batch=0,
                    custom_id=custom_id,
                    profile=profile.name,
                    question=self.question.name,
                    prompt_hash=prompt_hash,
                    profile_hash=profile.content_hash,
                    arxiv_ids=[p.arxiv_id for p in group],
                    cache_keys=group_keys,
                    text_hashes=[p.text_hash for p in group],
                ),
            )

    async def _submit_groups(
        self, session: Session, lines: Iterable[tuple[bytes, LlmBatchRequest]]
    ) -> None:
        """Upload ``lines`` as batches of at most ``batch_max_requests`` lines and
        ``batch_max_mb`` each (a first line larger than that goes alone)."""
        max_lines = self._settings.llm.batch_max_requests
        max_bytes = int(self._settings.llm.batch_max_mb * 1_000_000)
        out: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finally)
        requests: list[LlmBatchRequest] = []
        written = 0
        try:
            for line, request in lines:
                if requests and (len(requests) >= max_lines or written + len(line) > max_bytes):
                    await self._submit(session, out, requests)
                    out.close()
                    out = tempfile.TemporaryFile()  # noqa: SIM115 (closed in finally)
                    requests, written = [], 0
                out.write(line)
                written += len(line)
                requests.append(request)
            if requests:
                await self._submit(session, out, requests)
        finally:
            out.close()

    async def _submit(
        self, session: Session, data: IO[bytes], lines: list[LlmBatchRequest]
    ) -> None:
        data.seek(0)
        try:
            uploaded = await self._client.files.create(
                file=("arxivfilter-batch.jsonl", data), purpose="batch"
            )
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            raise self._upstream("uploading a batch file", exc) from None
        row = store.save_batch(
            session,
            LlmBatch(
                input_file_id=uploaded.id,
                status="uploaded",
                base_url=self._base_url,
                model=self.model,
                requests=len(lines),
            ),
            lines,
        )
        await self._create(session, row)

    async def _create(self, session: Session, row: LlmBatch) -> None:
        try:
            batch = await self._client.batches.create(
                input_file_id=row.input_file_id,
                endpoint=self._endpoint,  # type: ignore[arg-type]
                completion_window="24h",
                metadata={"arxivfilter_batch": str(row.id)},
            )
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            raise self._upstream("creating a batch", exc) from None
        row.batch_id, row.status = batch.id, batch.status
        store.save_batch(session, row)

    def _upstream(self, what: str, exc: Exception) -> UpstreamError:
        status = getattr(exc, "status_code", None)
        detail = f"HTTP {status}" if status else type(exc).__name__
        return UpstreamError(
            f"the Batch API at {self._base_url} failed while {what} ({detail}); what was "
            "submitted before is kept and collected by the next run",
            url=self._base_url,
            status=status,
        )

    # ------------------------------------------------------------------ collect

    async def collect(
        self,
        session: Session,
        profiles: Sequence[Profile],
        *,
        wait_seconds: float = 0.0,
        run_id: int | None = None,
    ) -> CollectCounts:
        """Store the results of every finished batch; poll (with backoff) up to ``wait_seconds``."""
        counts = CollectCounts()
        by_name = {p.name: p for p in profiles}
        deadline = self._clock() + max(wait_seconds, 0.0)
        interval = self._settings.llm.batch_poll_seconds
        while True:
            rows = store.open_batches(session)
            for row in rows:
                if row.batch_id is None:
                    await self._recover(session, row)
                    continue
                try:
                    batch = await self._client.batches.retrieve(row.batch_id)
                except (openai.APIStatusError, openai.APIConnectionError) as exc:
                    log.warning(
                        "could not check a batch", batch=row.batch_id, error=type(exc).__name__
                    )
                    continue
                row.status = batch.status
                row.output_file_id = batch.output_file_id
                row.error_file_id = batch.error_file_id
                row.checked_at = utcnow()
                store.save_batch(session, row)
                if batch.status in TERMINAL:
                    await self._collect_one(session, row, by_name, counts, run_id)
            still = store.open_batches(session)
            remaining = deadline - self._clock()
            if not still or remaining <= 0:
                counts.open_batches = len(still)
                counts.pending = store.pending_papers(session)
                return counts
            await self._sleep(min(interval, remaining))
            interval = min(interval * 2, 60.0)

    async def _recover(self, session: Session, row: LlmBatch) -> None:
        """An uploaded file whose batch creation was not recorded: find that batch, or create it."""
        try:
            page = await self._client.batches.list(limit=100)
            found = next((b for b in page.data if b.input_file_id == row.input_file_id), None)
        except (openai.APIStatusError, openai.APIConnectionError):
            found = None
        if found is not None:
            row.batch_id, row.status = found.id, found.status
            store.save_batch(session, row)
        else:
            await self._create(session, row)

    async def _file_lines(self, file_id: str | None) -> dict[str, dict[str, Any]]:
        if not file_id:
            return {}
        content = await self._client.files.content(file_id)
        out: dict[str, dict[str, Any]] = {}
        for raw in content.text.splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and isinstance(line.get("custom_id"), str):
                out[line["custom_id"]] = line
        return out

    async def _collect_one(
        self,
        session: Session,
        row: LlmBatch,
        profiles: dict[str, Profile],
        counts: CollectCounts,
        run_id: int | None,
    ) -> None:
        try:
            output = await self._file_lines(row.output_file_id)
            errors = await self._file_lines(row.error_file_id)
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            log.warning("could not download a batch's results", batch=row.batch_id, error=str(exc))
            return
        requeue: list[LlmBatchRequest] = []
        done: list[LlmBatchRequest] = []
        calls: list[LlmCall] = []
        judged: list[Judgement] = []
        for req in store.batch_requests(session, row.id or 0):
            if req.status != "pending":
                continue
            line = output.get(req.custom_id)
            response = (line or {}).get("response") or {}
            profile = profiles.get(req.profile)
            if profile is None or response.get("status_code") != 200:
                requeue.append(req)
                if req.custom_id in errors or line is not None:
                    code = ((errors.get(req.custom_id) or line or {}).get("error") or {}).get(
                        "code"
                    )
                    log.info("batch line requeued", custom_id=req.custom_id, code=code)
                continue
            call, rows = self._line(req, profile, response.get("body") or {}, run_id, counts)
            calls.append(call)
            judged.extend(rows)
            done.append(req)
        store.save_batch_results(session, calls, judged, done)
        store.set_request_status(session, requeue, "requeued")
        counts.requeued += sum(len(r.arxiv_ids) for r in requeue)
        counts.batches += 1
        row.collected_at = utcnow()
        store.save_batch(session, row)
        log.info(
            "batch collected",
            batch=row.batch_id,
            status=row.status,
            lines=len(done),
            requeued=len(requeue),
        )

    def _line(
        self,
        req: LlmBatchRequest,
        profile: Profile,
        body: dict[str, Any],
        run_id: int | None,
        counts: CollectCounts,
    ) -> tuple[LlmCall, list[Judgement]]:
        """One output line as its call row and judgements (stored by the caller, together)."""
        scorer = (
            self._llm
            if req.question == self.question.name
            else self._llm.sibling(FIRST if req.question == FIRST.name else FULL)
        )
        choices = body.get("choices") or [{}]
        content = ((choices[0] or {}).get("message") or {}).get("content")
        ids = [safe_id(i) for i in req.arxiv_ids]
        results, errors = scorer.parse_reply(profile, content, ids)
        call = self._line_call(req, content, body.get("usage") or {}, errors, run_id)
        counts.add_call(
            call,
            self._prices.cost_usd(
                call.model,
                call.prompt_tokens,
                call.completion_tokens,
                call.cached_tokens,
                tier="batch",
            ),
        )
        rows: list[Judgement] = []
        for arxiv_id, key, text_hash, sid in zip(
            req.arxiv_ids, req.cache_keys, req.text_hashes, ids, strict=True
        ):
            result = results.get(sid) or JudgementResult(
                status="failed",
                error=f"invalid answer in a batch: {errors.get(sid, 'no entry for the paper')}",
            )
            rows.append(self._judgement(req, arxiv_id, key, text_hash, result, run_id))
            counts.add_judgement(rows[-1])
        return call, rows

    def _line_call(
        self,
        req: LlmBatchRequest,
        content: str | None,
        usage: dict[str, Any],
        errors: dict[str, str],
        run_id: int | None,
    ) -> LlmCall:
        """The call row of one output line (billed at the batch tier by the caller)."""
        return LlmCall(
            run_id=run_id,
            cache_key=req.cache_keys[0] if len(req.cache_keys) == 1 else None,
            arxiv_ids=list(req.arxiv_ids),
            profile=req.profile,
            base_url=self._base_url,
            model=self.model,
            mode="batch",
            prompt_hash=req.prompt_hash,
            papers=len(req.arxiv_ids),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens"),
            http_status=200,
            status="invalid" if errors else "ok",
            raw_reply=(content or "")[:RAW_REPLY_CHARS].replace("\x00", ""),
            error=normalise("; ".join(dict.fromkeys(errors.values()))) if errors else None,
        )

    def _judgement(
        self,
        req: LlmBatchRequest,
        arxiv_id: str,
        key: str,
        text_hash: str,
        result: JudgementResult,
        run_id: int | None,
    ) -> Judgement:
        """The judgement row of one paper of an output line."""
        return Judgement(
            cache_key=key,
            arxiv_id=arxiv_id,
            profile=req.profile,
            scorer="llm",
            model=self.model,
            text_hash=text_hash,
            profile_hash=req.profile_hash,
            prompt_hash=req.prompt_hash,
            status=result.status,
            relevance=result.relevance,
            hype=result.hype,
            tags=list(result.tags),
            tldr=normalise(result.tldr) if result.tldr else result.tldr,
            reason=normalise(result.reason) if result.reason else result.reason,
            error=normalise(result.error) if result.error else None,
            run_id=run_id,
        )


def build_batch_scorer(settings: Settings, llm: LlmScorer, **hooks: Any) -> BatchScorer:
    """A batch scorer over the LLM scorer's client (the same base URL, key and model)."""
    return BatchScorer(llm, llm.client, settings, **hooks)
