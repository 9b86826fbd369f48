"""Model prices: the maintained catalogue of ``genai-prices`` plus ``[llm.prices]`` overrides.

Prices are USD per million tokens. A model's rates are looked up, in order:

1. ``[llm.prices."MODEL"]`` in the config file (``input``, ``cached_input``, ``output``; for
   the batch and flex tiers ``batch_input`` ... ``flex_output``, each falling back to the
   standard key of the same table): for Azure deployment names, local servers (set them to
   0), or a price the catalogue has wrong;
2. the catalogue that ships inside the ``genai-prices`` wheel (read offline, never updated
   over the network), for the provider of the base URL (OpenAI when none is set, Azure for
   ``*.openai.azure.com``), or ``[llm] price_provider`` when set; ``[llm] price_model``
   names the catalogue's model when the served name differs (an Azure deployment).

For a base URL the catalogue does not know (a local server, a proxy) the catalogue is
searched by model name across providers (a local name such as ``llama3.1:8b`` matches
nothing, so it has no price unless the config gives one). Reported ``prompt_tokens`` include the cached ones (OpenAI's
convention). Batch (``processing: batch``) and flex (``service_tier: flex``) rates are the
catalogue's variants; a model with no such variant is counted at its standard rate (an upper
bound, with one warning), because the catalogue is the only source that knows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import httpx
import structlog

from arxivfilter.config import Settings
from arxivfilter.errors import UsageError
from arxivfilter.models import LlmCall

log = structlog.get_logger(__name__)

Tier = Literal["standard", "flex", "batch"]
TIERS: tuple[Tier, ...] = ("standard", "flex", "batch")
RATE_KEYS = ("input", "cached_input", "output")
_CONTEXT: dict[Tier, dict[str, str] | None] = {
    "standard": None,
    "flex": {"service_tier": "flex"},
    "batch": {"processing": "batch"},
}
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Rates:
    """USD per million tokens of one model at one tier, and where they come from."""

    input: float
    cached_input: float
    output: float
    source: str  # "config" | "genai-prices X.Y.Z"

    def cost_usd(
        self, prompt_tokens: int | None, completion_tokens: int | None, cached_tokens: int | None
    ) -> float:
        prompt = max(prompt_tokens or 0, 0)
        cached = min(max(cached_tokens or 0, 0), prompt)
        completion = max(completion_tokens or 0, 0)
        total = (
            (prompt - cached) * self.input + cached * self.cached_input + completion * self.output
        )
        return total / 1_000_000


def tier_of(settings: Settings) -> Tier:
    """The tier the configured calls are billed at: batch mode, else the service tier."""
    if settings.llm.mode == "batch":
        return "batch"
    return "flex" if settings.llm.service_tier == "flex" else "standard"


def provider_for(base_url: str | None) -> tuple[str | None, str | None]:
    """(provider id, provider API URL) to look the catalogue up with; None: search by model."""
    if not base_url:
        return "openai", None
    host = (httpx.URL(base_url).host or "").lower()
    if host == "api.openai.com":
        return "openai", None
    if host.endswith(".openai.azure.com") or host.endswith(".cognitiveservices.azure.com"):
        return "azure", None
    return None, None


def _catalogue_version() -> str:
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


def _mtok(value: Any) -> float:
    """A catalogue price (Decimal, or tiered prices whose base applies) as a float."""
    if value is None:
        return 0.0
    if isinstance(value, Decimal | int | float):
        return float(value)
    base = getattr(value, "base", None)
    return float(base) if base is not None else 0.0


class Prices:
    """Rates by (model, tier); ``cost_usd`` is None for a model with no price anywhere."""

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, float]] | None = None,
        *,
        provider: str | None = "openai",
        price_model: str | None = None,
        tier: Tier = "standard",
        catalogue: bool = True,
    ) -> None:
        self._overrides = {m: dict(t) for m, t in (overrides or {}).items()}
        self._provider = provider
        self._price_model = price_model or None
        self.tier: Tier = tier
        self._catalogue = catalogue
        self._cache: dict[tuple[str, Tier], Rates | None] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Prices:
        llm = settings.llm
        provider = llm.price_provider or provider_for(llm.base_url)[0]
        return cls(
            llm.prices,
            provider=provider,
            price_model=llm.price_model,
            tier=tier_of(settings),
        )

    # ------------------------------------------------------------------ lookup

    def rates(self, model: str, tier: Tier | None = None) -> Rates | None:
        tier = tier or self.tier
        key = (model, tier)
        if key not in self._cache:
            self._cache[key] = self._override(model, tier) or self._from_catalogue(model, tier)
        return self._cache[key]

    def _override(self, model: str, tier: Tier) -> Rates | None:
        table = self._overrides.get(model)
        if table is None:  # the longest key the model extends (gpt-4.1-2025-04-14)
            stems = [k for k in self._overrides if model.startswith(k + "-")]
            table = self._overrides[max(stems, key=len)] if stems else None
        if table is None:
            return None
        values: list[float] = []
        for k in RATE_KEYS:
            standard = table.get(k, table.get("input", 0.0) if k == "cached_input" else 0.0)
            values.append(table.get(f"{tier}_{k}", standard) if tier != "standard" else standard)
        return Rates(input=values[0], cached_input=values[1], output=values[2], source="config")

    def _from_catalogue(self, model: str, tier: Tier) -> Rates | None:
        if not self._catalogue:
            return None
        from genai_prices import Usage, calc_price

        ref = self._price_model or model
        now = dt.datetime.now(dt.UTC)
        usage = Usage(input_tokens=1_000_000, output_tokens=0)
        try:
            standard = calc_price(
                usage, ref, provider_id=self._provider, genai_request_timestamp=now
            )
            chosen = standard
            context = _CONTEXT[tier]
            if context is not None:
                chosen = calc_price(
                    usage,
                    ref,
                    provider_id=self._provider,
                    genai_request_timestamp=now,
                    price_context=context,
                )
        except LookupError:
            return None
        price = chosen.model_price
        same = context is not None and chosen.total_price == standard.total_price
        if same and (ref, tier) not in _warned:
            _warned.add((ref, tier))
            log.warning(
                "no price of this tier for the model: counted at its standard price",
                model=ref,
                tier=tier,
            )
        input_rate = _mtok(price.input_mtok)
        cached = price.cache_read_mtok
        return Rates(
            input=input_rate,
            cached_input=input_rate if cached is None else _mtok(cached),
            output=_mtok(price.output_mtok),
            source=_catalogue_version(),
        )

    # ------------------------------------------------------------------ costs

    def cost_usd(
        self,
        model: str,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        cached_tokens: int | None = 0,
        *,
        tier: Tier | None = None,
    ) -> float | None:
        """Cost of one call (or of summed calls); None when the model has no price or no usage."""
        rates = self.rates(model, tier)
        if rates is None:
            if (model, "any") not in _warned:
                _warned.add((model, "any"))
                log.warning("no price for this model: its cost is unknown", model=model)
            return None
        if prompt_tokens is None and completion_tokens is None:
            return None
        return rates.cost_usd(prompt_tokens, completion_tokens, cached_tokens)

    def call_cost(self, call: LlmCall) -> float | None:
        """Cost of one recorded call (a ``PriceFn`` for the score stage)."""
        return self.cost_usd(
            call.model, call.prompt_tokens, call.completion_tokens, call.cached_tokens
        )


def require_price(settings: Settings, max_cost: float) -> None:
    """A spending limit needs a price: exit 2 naming the model when it has none."""
    if max_cost <= 0:
        return
    prices = Prices.from_settings(settings)
    model, tier = settings.llm.model, prices.tier
    if prices.rates(model, tier) is not None:
        return
    where = settings.llm.base_url or "api.openai.com"
    raise UsageError(
        f"--max-cost / [llm] max_cost needs a price for model {model!r} ({tier} tier at "
        f"{where}) and there is none: add [llm.prices.{model!r}] input/cached_input/output (USD per million tokens) "
        "to the config file, or set [llm] price_model / price_provider to a priced model"
    )
