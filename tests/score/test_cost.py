"""Token counts to dollars with the configured price table."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from arxivfilter.config import Settings
from arxivfilter.models import LlmCall
from arxivfilter.score import cost
from arxivfilter.score.cost import PriceTable

PRICES = {
    "gpt-4.1-nano": {"input": 0.10, "cached_input": 0.025, "output": 0.40},
    "gpt-4.1": {"input": 2.0, "output": 8.0},
    "local": {"input": 0.0, "output": 0.0},
}


def test_cost_counts_cached_tokens_at_their_price() -> None:
    """Cached prompt tokens are billed at cached_input, the rest at input, completion at output."""
    table = PriceTable(PRICES)
    got = table.cost_usd("gpt-4.1-nano", 1_000_000, 500_000, cached_tokens=400_000)
    assert got == pytest.approx(0.6 * 0.10 + 0.4 * 0.025 + 0.5 * 0.40)


def test_missing_cached_price_falls_back_to_input() -> None:
    """Without cached_input, cached tokens cost the input price."""
    assert PriceTable(PRICES).cost_usd("gpt-4.1", 1000, 0, cached_tokens=1000) == pytest.approx(
        0.002
    )


def test_dated_snapshot_uses_the_base_price() -> None:
    """A dated model id uses the longest configured name it extends."""
    table = PriceTable(PRICES)
    assert table.cost_usd("gpt-4.1-nano-2025-04-14", 1_000_000, 0) == pytest.approx(0.10)
    assert table.cost_usd("gpt-4.1-2025-04-14", 1_000_000, 0) == pytest.approx(2.0)


def test_unknown_model_warns_once_and_costs_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model missing from the table: None, never an error, and one warning per model."""
    monkeypatch.setattr(cost, "_warned", set())
    table = PriceTable(PRICES)
    with capture_logs() as logs:
        assert table.cost_usd("mystery-model", 100, 10) is None
        assert PriceTable(PRICES).cost_usd("mystery-model", 100, 10) is None
        assert table.cost_usd("other-model", 100, 10) is None
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e["model"] for e in warnings] == ["mystery-model", "other-model"]


def test_no_usage_is_unknown_and_free_model_is_zero() -> None:
    """A call without reported usage has no cost; a zero-priced model costs 0.0."""
    table = PriceTable(PRICES)
    assert table.cost_usd("gpt-4.1", None, None) is None
    assert table.cost_usd("local", 5000, 500) == 0.0


def test_call_cost_and_module_function() -> None:
    """``call_cost`` prices a recorded LlmCall; ``cost_usd`` takes the table directly."""
    call = LlmCall(
        model="gpt-4.1-nano",
        mode="json_schema",
        prompt_hash="h",
        status="ok",
        prompt_tokens=2000,
        completion_tokens=100,
        cached_tokens=1000,
    )
    expected = (1000 * 0.10 + 1000 * 0.025 + 100 * 0.40) / 1e6
    assert PriceTable(PRICES).call_cost(call) == pytest.approx(expected)
    assert cost.cost_usd(PRICES, "gpt-4.1-nano", 2000, 100, 1000) == pytest.approx(expected)
    settings = Settings()
    settings.llm.prices = PRICES
    assert cost.call_cost(settings, call) == pytest.approx(expected)
