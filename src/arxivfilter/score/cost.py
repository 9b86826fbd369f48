"""Turn token counts into US dollars with the price table in ``[llm.prices]``.

Prices are USD per million tokens: ``{input, cached_input, output}``. Reported
``prompt_tokens`` include the cached ones (OpenAI's convention), which are billed at
``cached_input`` (``input`` when the table gives no cached price). A model missing
from the table has an unknown cost (``None``) and gets one warning per process.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from arxivfilter.config import Settings
from arxivfilter.models import LlmCall

log = structlog.get_logger(__name__)

_warned: set[str] = set()


class PriceTable:
    """Model -> prices; ``cost_usd`` never raises for an unknown model."""

    def __init__(self, prices: Mapping[str, Mapping[str, float]]) -> None:
        self._prices = {model: dict(table) for model, table in prices.items()}

    def lookup(self, model: str) -> dict[str, float] | None:
        """The model's prices: an exact key, else the longest key it extends (``gpt-4.1-2025-04-14``)."""
        if model in self._prices:
            return self._prices[model]
        stems = [k for k in self._prices if model.startswith(k + "-")]
        return self._prices[max(stems, key=len)] if stems else None

    def cost_usd(
        self,
        model: str,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        cached_tokens: int | None = 0,
    ) -> float | None:
        """Cost of one call (or of summed calls); None when the model has no price or no usage."""
        table = self.lookup(model)
        if table is None:
            if model not in _warned:
                _warned.add(model)
                log.warning("no price for this model: its cost is unknown", model=model)
            return None
        if prompt_tokens is None and completion_tokens is None:
            return None
        prompt = max(prompt_tokens or 0, 0)
        cached = min(max(cached_tokens or 0, 0), prompt)
        completion = max(completion_tokens or 0, 0)
        input_price = table.get("input", 0.0)
        cached_price = table.get("cached_input", input_price)
        output_price = table.get("output", 0.0)
        total = (prompt - cached) * input_price + cached * cached_price + completion * output_price
        return total / 1_000_000

    def call_cost(self, call: LlmCall) -> float | None:
        """Cost of one recorded call (a ``PriceFn`` for the score stage)."""
        return self.cost_usd(
            call.model, call.prompt_tokens, call.completion_tokens, call.cached_tokens
        )


def cost_usd(
    prices: Mapping[str, Mapping[str, float]],
    model: str,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cached_tokens: int | None = 0,
) -> float | None:
    """One-shot form of :meth:`PriceTable.cost_usd` over ``settings.llm.prices``."""
    return PriceTable(prices).cost_usd(model, prompt_tokens, completion_tokens, cached_tokens)


def call_cost(settings: Settings, call: LlmCall) -> float | None:
    """Cost of one recorded call with the price table of ``settings`` (None when unknown)."""
    return PriceTable(settings.llm.prices).call_cost(call)
