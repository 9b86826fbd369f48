"""How a chat-completions request is sampled: temperature, seed, reasoning, service tier.

Ordinary models get ``temperature`` (default 0) and ``seed``; reasoning models (OpenAI's
o-series and gpt-5 family, or any model with ``[llm] reasoning = "true"``) refuse a
temperature, so they get ``reasoning_effort`` instead, and their reply cap is
``max_completion_tokens`` (reasoning tokens count against it). ``service_tier`` is sent
when set (``flex``: OpenAI's flex processing, about half price, slower).

What shapes an answer is part of the cache key (:func:`key_fields`), but only where it
differs from the defaults, so judgements made before these settings existed stay valid.
"""

from __future__ import annotations

import re
from typing import Any

from arxivfilter.config import LlmSettings

# o1, o1-mini, o3, o3-pro, o4-mini, gpt-5, gpt-5-nano, gpt-5.1 ... (not gpt-5-chat, which
# is a non-reasoning model), also behind a provider prefix ("openai/o3")
_REASONING = re.compile(r"(^|/)(o[1-9]([-.].*)?|gpt-5(?!-chat)([-.].*)?)$", re.IGNORECASE)
DEFAULTS: dict[str, Any] = {
    "temperature": 0.0,
    "seed": 0,
    "reasoning_effort": "low",
    "max_completion_tokens": 0,
    "service_tier": "",
}


def is_reasoning_model(llm: LlmSettings) -> bool:
    """Whether the model takes reasoning parameters and no temperature."""
    if llm.reasoning == "true":
        return True
    if llm.reasoning == "false":
        return False
    return bool(_REASONING.search(llm.model.strip()))


def request_fields(llm: LlmSettings) -> dict[str, Any]:
    """The sampling fields of one chat-completions request body."""
    fields: dict[str, Any] = {"seed": llm.seed}
    if is_reasoning_model(llm):
        if llm.reasoning_effort:
            fields["reasoning_effort"] = llm.reasoning_effort
        if llm.max_completion_tokens:
            fields["max_completion_tokens"] = llm.max_completion_tokens
    else:
        fields["temperature"] = llm.temperature
        if llm.max_completion_tokens:
            fields["max_tokens"] = llm.max_completion_tokens
    if llm.service_tier:
        fields["service_tier"] = llm.service_tier
    return fields


def key_fields(llm: LlmSettings) -> dict[str, Any]:
    """Settings that change what the model answers, where they differ from the defaults.

    The service tier is left out: flex and batch serve the same model (the cache key is the
    same as for a direct call, so nothing is paid twice when a user switches).
    """
    reasoning = is_reasoning_model(llm)
    out: dict[str, Any] = {}
    if not reasoning and llm.temperature != DEFAULTS["temperature"]:
        out["temperature"] = llm.temperature
    if llm.seed != DEFAULTS["seed"]:
        out["seed"] = llm.seed
    if reasoning and llm.reasoning_effort != DEFAULTS["reasoning_effort"]:
        out["reasoning_effort"] = llm.reasoning_effort
    if llm.max_completion_tokens != DEFAULTS["max_completion_tokens"]:
        out["max_completion_tokens"] = llm.max_completion_tokens
    return out
