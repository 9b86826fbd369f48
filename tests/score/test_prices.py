"""Model prices: the genai-prices catalogue (offline), config overrides, tiers, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from arxivfilter.cli import main
from arxivfilter.config import Settings, load_settings
from arxivfilter.errors import ArxivFilterError
from arxivfilter.models import LlmCall
from arxivfilter.score import prices
from arxivfilter.score.prices import Prices, provider_for, require_price, tier_of

OVERRIDES = {
    "gpt-4.1": {"input": 2.0, "output": 8.0},
    "local": {"input": 0.0, "output": 0.0},
    "my-deploy": {"input": 1.0, "cached_input": 0.5, "output": 4.0, "batch_input": 0.5},
}


def test_catalogue_prices_gpt_4_1_nano_offline() -> None:
    """The shipped catalogue has the models people use, at OpenAI's list prices."""
    rates = Prices().rates("gpt-4.1-nano")
    assert rates is not None
    assert (rates.input, rates.cached_input, rates.output) == (0.10, 0.025, 0.40)
    assert rates.source.startswith("genai-prices ")
    # a dated snapshot, and models the old three-entry table did not know
    assert Prices().rates("gpt-4.1-nano-2025-04-14") == rates
    for model in ("gpt-5-nano", "gpt-5-mini", "o4-mini", "gpt-4o"):
        assert Prices().rates(model) is not None, model


def test_cached_tokens_cost_their_price() -> None:
    got = Prices().cost_usd("gpt-4.1-nano", 1_000_000, 500_000, cached_tokens=400_000)
    assert got == pytest.approx(0.6 * 0.10 + 0.4 * 0.025 + 0.5 * 0.40)


def test_batch_tier_is_half_price() -> None:
    """Batch is counted as batch: half the input and output price."""
    standard = Prices().rates("gpt-4.1-nano")
    batch = Prices(tier="batch").rates("gpt-4.1-nano")
    assert standard is not None and batch is not None
    assert batch.input == pytest.approx(standard.input / 2)
    assert batch.output == pytest.approx(standard.output / 2)


def test_flex_tier_where_the_model_has_one_and_a_warning_where_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Flex is counted at flex rates; a model with no flex price keeps its standard one, once warned."""
    monkeypatch.setattr(prices, "_warned", set())
    std, flex = Prices().rates("gpt-5-nano"), Prices(tier="flex").rates("gpt-5-nano")
    assert std is not None and flex is not None
    assert flex.input == pytest.approx(std.input / 2)
    with capture_logs() as logs:
        nano = Prices(tier="flex").rates("gpt-4.1-nano")
        Prices(tier="flex").rates("gpt-4.1-nano")
    assert nano == Prices().rates("gpt-4.1-nano")
    assert [e["model"] for e in logs if e["log_level"] == "warning"] == ["gpt-4.1-nano"]


def test_overrides_win_and_tier_keys_fall_back() -> None:
    table = Prices(OVERRIDES)
    assert table.cost_usd("gpt-4.1", 1000, 0, cached_tokens=1000) == pytest.approx(0.002)
    assert table.cost_usd("gpt-4.1-2025-04-14", 1_000_000, 0) == pytest.approx(2.0)
    assert table.cost_usd("local", 5000, 500) == 0.0
    batch = Prices(OVERRIDES, tier="batch").rates("my-deploy")
    assert batch is not None
    assert (batch.input, batch.cached_input, batch.output, batch.source) == (
        0.5,
        0.5,
        4.0,
        "config",
    )


def test_unknown_model_warns_once_and_costs_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prices, "_warned", set())
    with capture_logs() as logs:
        assert Prices().cost_usd("mystery-model", 100, 10) is None
        assert Prices().cost_usd("mystery-model", 100, 10) is None
    assert [e["model"] for e in logs if e["log_level"] == "warning"] == ["mystery-model"]
    assert Prices().cost_usd("gpt-4.1-nano", None, None) is None


def test_provider_from_the_base_url() -> None:
    """OpenAI by default, Azure by host; another server is searched by model name, where a
    local model's name matches nothing."""
    assert provider_for("") == ("openai", None)
    assert provider_for("https://api.openai.com/v1")[0] == "openai"
    assert provider_for("https://res.openai.azure.com/openai/v1/")[0] == "azure"
    assert provider_for("http://localhost:8080/v1")[0] is None
    s = Settings()
    s.llm.base_url = "http://localhost:8080/v1"
    assert Prices.from_settings(s).rates("llama3.1:8b") is None
    assert Prices.from_settings(s).rates("gpt-4.1-nano") is not None
    s.llm.price_provider = "openai"
    assert Prices.from_settings(s).rates("gpt-4.1-nano") is not None
    # an Azure deployment named by the user, priced as the model it serves
    s = Settings()
    s.llm.base_url, s.llm.model = "https://res.openai.azure.com/openai/v1/", "nightly-nano"
    assert Prices.from_settings(s).rates("nightly-nano") is None
    s.llm.price_model = "gpt-4.1-nano"
    assert Prices.from_settings(s).rates("nightly-nano") is not None


def test_call_cost_uses_the_settings_tier() -> None:
    call = LlmCall(
        model="gpt-4.1-nano",
        mode="json_schema",
        prompt_hash="h",
        status="ok",
        prompt_tokens=2000,
        completion_tokens=100,
        cached_tokens=1000,
    )
    s = Settings()
    assert tier_of(s) == "standard"
    expected = (1000 * 0.10 + 1000 * 0.025 + 100 * 0.40) / 1e6
    assert Prices.from_settings(s).call_cost(call) == pytest.approx(expected)
    s.llm.service_tier = "flex"
    assert tier_of(s) == "flex"


def test_price_tables_in_the_config_file_are_checked(tmp_path: Path) -> None:
    """A tier key is accepted; a misspelt key is one clear error."""
    good = tmp_path / "good.toml"
    good.write_text('[llm.prices."x"]\ninput = 1.0\nbatch_output = 2.0\n')
    assert load_settings(env={"ARXIVFILTER_CONFIG": str(good)}).llm.prices["x"] == {
        "input": 1.0,
        "batch_output": 2.0,
    }
    bad = tmp_path / "bad.toml"
    bad.write_text('[llm.prices."x"]\nbatch_in = 1.0\n')
    with pytest.raises(ArxivFilterError, match="batch_in"):
        load_settings(env={"ARXIVFILTER_CONFIG": str(bad)})


def test_require_price_names_the_model() -> None:
    s = Settings()
    s.llm.model = "my-deploy"
    require_price(s, 0.0)  # no limit: nothing to check
    with pytest.raises(ArxivFilterError, match="'my-deploy'") as info:
        require_price(s, 0.5)
    assert info.value.exit_code == 2
    s.llm.prices = OVERRIDES
    require_price(s, 0.5)


def _source(tmp: Path) -> Path:
    record = {
        "schema": 1,
        "arxiv_id": "2501.00001",
        "version": 1,
        "title": "Serving LLMs",
        "authors": ["A. Author"],
        "abstract": "We serve LLMs faster.",
        "categories": ["cs.DC"],
        "primary_category": "cs.DC",
        "comment": None,
        "announcements": [{"date": "2025-12-16", "category": "cs.DC", "type": "new"}],
        "scores": {},
    }
    path = tmp / "day.jsonl"
    path.write_text(json.dumps(record) + "\n")
    return path


@pytest.mark.parametrize("how", ["option", "config"])
def test_max_cost_with_an_unpriced_model_is_exit_2(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--max-cost` (or [llm] max_cost) with a model that has no price: exit 2 naming it,
    before anything is fetched or sent (it used to do nothing at all)."""
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("ARXIVFILTER_MODEL", "llama3.1:8b")
    args = ["run", "--source", str(_source(tmp_path)), "--scorer", "llm"]
    if how == "option":
        args += ["--max-cost", "0.05"]
    else:
        monkeypatch.setenv("ARXIVFILTER_LLM__MAX_COST", "0.05")
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [x for x in err.splitlines() if x.startswith("arxivfilter: error:")]
    assert len(lines) == 1 and "Traceback" not in err
    assert "'llama3.1:8b'" in lines[0] and "price" in lines[0]
    assert not Path("digests").exists()


def test_max_cost_with_a_priced_override_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same run with a price in the config file goes ahead (the server is down: exit 3)."""
    config = tmp_path / "af.toml"
    config.write_text('[llm.prices."llama3.1:8b"]\ninput = 0.0\noutput = 0.0\n')
    monkeypatch.setenv("ARXIVFILTER_CONFIG", str(config))
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ARXIVFILTER_MODEL", "llama3.1:8b")
    monkeypatch.setenv("ARXIVFILTER_LLM__RETRY_ATTEMPTS", "1")
    code = main(["run", "--source", str(_source(tmp_path)), "--scorer", "llm", "--max-cost", "1"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "price" not in err.split("arxivfilter: error:")[-1]
