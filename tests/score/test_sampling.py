"""Temperature, seed, reasoning models and flex processing in the requests we send."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from arxivfilter.config import LlmSettings
from arxivfilter.score.prompt import load_templates, prompt_settings_hash
from arxivfilter.score.sampling import is_reasoning_model, key_fields, request_fields
from tests.score.test_llm import BASE, GOOD, PROFILE, Harness, error, paper, reply, settings


@pytest.fixture
def api() -> Any:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


def sent(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(c.request.content) for c in route.calls]


def test_default_request_is_temperature_0_with_a_seed(api: Any) -> None:
    """By default every call asks for temperature 0 and seed 0 (repeatable answers)."""
    route = api.post("/chat/completions").mock(side_effect=[reply(GOOD)])
    Harness(settings()).run([paper(1)])
    [body] = sent(route)
    assert (body["temperature"], body["seed"]) == (0.0, 0)
    assert "reasoning_effort" not in body and "max_completion_tokens" not in body
    assert "service_tier" not in body and "max_tokens" not in body


@pytest.mark.parametrize("model", ["o3", "o4-mini", "gpt-5", "gpt-5-nano", "openai/o1-mini"])
def test_reasoning_model_gets_effort_and_completion_cap_not_temperature(
    api: Any, model: str
) -> None:
    """A reasoning model refuses temperature: it gets reasoning_effort and max_completion_tokens."""
    route = api.post("/chat/completions").mock(side_effect=[reply(GOOD)])
    Harness(settings(model=model, max_completion_tokens=2000)).run([paper(1)])
    [body] = sent(route)
    assert "temperature" not in body and "max_tokens" not in body
    assert body["reasoning_effort"] == "low"
    assert body["max_completion_tokens"] == 2000
    assert body["seed"] == 0


def test_reasoning_detection_and_its_override() -> None:
    for model in ("gpt-4.1-nano", "gpt-4o-mini", "gpt-5-chat-latest", "llama3.1:8b", "ollama"):
        assert not is_reasoning_model(LlmSettings(model=model)), model
    assert is_reasoning_model(LlmSettings(model="my-deploy", reasoning="true"))
    assert not is_reasoning_model(LlmSettings(model="o3", reasoning="false"))
    assert request_fields(LlmSettings(model="o3", reasoning_effort="")) == {"seed": 0}
    assert request_fields(LlmSettings(model="x", max_completion_tokens=300))["max_tokens"] == 300


def test_defaults_keep_the_prompt_hash_and_changes_re_score() -> None:
    """Defaults leave the cache key as before; a different temperature or seed is a new key."""
    templates = load_templates()
    before = prompt_settings_hash(templates, abstract_chars=3000, papers_per_call=1)
    assert key_fields(LlmSettings()) == {}
    assert key_fields(LlmSettings(service_tier="flex")) == {}  # same answers, same key
    assert key_fields(LlmSettings(model="o3")) == {}
    assert (
        prompt_settings_hash(
            templates, abstract_chars=3000, papers_per_call=1, sampling=key_fields(LlmSettings())
        )
        == before
    )
    for changed in (
        LlmSettings(temperature=0.7),
        LlmSettings(seed=42),
        LlmSettings(model="o3", reasoning_effort="high"),
    ):
        fields = key_fields(changed)
        assert fields
        assert (
            prompt_settings_hash(templates, abstract_chars=3000, papers_per_call=1, sampling=fields)
            != before
        )
    h = Harness(settings(temperature=0.5))
    assert h.scorer.prompt_hash(PROFILE) != Harness(settings()).scorer.prompt_hash(PROFILE)


def test_flex_sends_the_tier_and_retries_resource_unavailable(api: Any) -> None:
    """Flex: service_tier=flex on every call; its 429 "Resource Unavailable" is retried with
    backoff (not the quota stop), and the paper is judged once capacity is back."""
    unavailable = error(
        429, "Resource Unavailable: flex capacity is exhausted", "resource_unavailable"
    )
    route = api.post("/chat/completions").mock(side_effect=[unavailable, unavailable, reply(GOOD)])
    h = Harness(settings(model="o4-mini", service_tier="flex", retry_attempts=4))
    sink = h.run([paper(1)])
    assert sink.results["2501.00001"].status == "ok"
    assert [b["service_tier"] for b in sent(route)] == ["flex"] * 3
    assert len(h.sleeps) == 2
    assert [c.status for c in sink.calls] == ["error", "error", "ok"]
