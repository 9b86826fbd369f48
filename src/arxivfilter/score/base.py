"""The scorer interface shared by the LLM and the local scorer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from arxivfilter.config import Profile
from arxivfilter.models import JudgementResult, LlmCall, PaperText


class JudgementSink(Protocol):
    """Where a scorer puts results as they arrive, so a killed run keeps what it paid for."""

    def judgement(self, paper: PaperText, result: JudgementResult) -> None:
        """Store one paper's judgement (ok or failed) at once."""

    def llm_call(self, call: LlmCall) -> None:
        """Record one LLM call (tokens, latency, raw reply, status) for audit and cost."""

    def may_start_call(self) -> bool:
        """False once ``--max-cost`` is reached: start no new call."""


class Scorer(Protocol):
    kind: str  # "llm" | "local"

    @property
    def model(self) -> str:
        """Model id (the local scorer's version plays this part)."""

    def prompt_hash(self, profile: Profile) -> str:
        """Hash of the prompt template (or scorer settings) that shapes a judgement."""

    async def judge(
        self, profile: Profile, papers: Sequence[PaperText], sink: JudgementSink
    ) -> None:
        """Judge every paper, calling ``sink.judgement`` once per paper."""
