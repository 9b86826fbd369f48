"""Slack and Discord incoming webhooks (respx): payloads, escaping of hostile titles,
Retry-After, dead webhooks, and the same ledger as e-mail."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import respx
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Settings, load_profiles
from arxivfilter.notify.deliver import NotifyResult, deliver
from tests.notify.conftest import DAY, add_papers, write_config

SLACK = "https://hooks.slack.com/services/T000/B000/SECRETHOOK1"
DISCORD = "https://discord.com/api/webhooks/123/SECRETHOOK2"
CONFIG = """
[[notify.webhooks]]
name = "team"
kind = "slack"
url_env = "SLACK_WEBHOOK_URL"
profiles = ["llm-inference"]

[[notify.webhooks]]
name = "lab"
kind = "discord"
url_env = "DISCORD_WEBHOOK_URL"
profiles = ["llm-inference"]
"""
ENV = {"SLACK_WEBHOOK_URL": SLACK, "DISCORD_WEBHOOK_URL": DISCORD}


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    add_papers(sqlite_url)
    return write_config(tmp_path / "config.toml", CONFIG, sqlite_url)


def run(settings: Settings, env: dict[str, str], sleeps: list[float] | None = None) -> NotifyResult:
    engine = store.make_engine(settings.storage.db_url)
    try:
        with Session(engine, expire_on_commit=False) as session, httpx.Client() as http:
            return deliver(
                session,
                settings,
                load_profiles(),
                [DAY],
                categories=None,
                scorer="local",
                env=env,
                http=http,
                sleep=(sleeps.append if sleeps is not None else lambda _s: None),
            )
    finally:
        engine.dispose()


def _ok_discord(request: httpx.Request) -> httpx.Response:
    assert request.url.params["wait"] == "true"
    return httpx.Response(200, json={"id": "998877"})


@respx.mock
def test_slack_and_discord_get_one_message_each_escaped(settings: Settings) -> None:
    slack = respx.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
    discord = respx.post(url__startswith=DISCORD).mock(side_effect=_ok_discord)
    result = run(settings, ENV)
    assert result.exit_code == 0, result.as_dict()
    assert slack.call_count == 1 and discord.call_count == 1
    body = json.loads(slack.calls[0].request.content)
    blob = json.dumps(body)
    assert "arXiv 2025-12-16: 3 papers (llm-inference)" in body["text"]
    # a title cannot mention the channel or open a link of its own
    assert "<!channel>" not in blob and "<img" not in blob and "&lt;!channel&gt;" in blob
    assert "<https://arxiv.org/abs/2512.00001|Paged KV cache for serving>" in blob
    assert body["unfurl_links"] is False
    dbody = json.loads(discord.calls[0].request.content)
    assert dbody["allowed_mentions"] == {"parse": []}
    assert len(dbody["content"]) <= 2000
    assert "\\@everyone" in dbody["content"] and "\\<img" in dbody["content"]
    assert "(<https://arxiv.org/abs/2512.00003>)" in dbody["content"]
    engine = store.make_engine(settings.storage.db_url)
    with Session(engine) as session:
        rows = {(r.recipient, r.channel): r for r in store.ledger(session)}
    engine.dispose()
    assert rows[("slack:team", "slack")].status == "sent"
    assert rows[("discord:lab", "discord")].message_id == "discord:998877"
    # the URLs are secrets: in no ledger row
    assert "SECRETHOOK" not in repr([r.model_dump() for r in rows.values()])
    again = run(settings, ENV)
    assert again.count("already_sent") == 2 and slack.call_count == 1 and discord.call_count == 1


@respx.mock
def test_429_retry_after_is_honoured(settings: Settings) -> None:
    slack = respx.post(SLACK).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, text="rate_limited"),
            httpx.Response(200, text="ok"),
        ]
    )
    respx.post(url__startswith=DISCORD).mock(
        side_effect=[
            httpx.Response(429, json={"retry_after": 1.5, "global": False}),
            httpx.Response(200, json={"id": "1"}),
        ]
    )
    sleeps: list[float] = []
    result = run(settings, ENV, sleeps)
    assert result.exit_code == 0, result.as_dict()
    assert slack.call_count == 2
    assert 7.0 in sleeps and 1.5 in sleeps


@respx.mock
def test_a_long_retry_after_fails_now_and_is_retried_next_run(settings: Settings) -> None:
    """A Retry-After beyond [notify] retry_after_max_seconds is not waited out: the
    delivery fails (exit 1) and the next run sends it."""
    slack = respx.post(SLACK).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "3600"}), httpx.Response(200)]
    )
    respx.post(url__startswith=DISCORD).mock(side_effect=_ok_discord)
    sleeps: list[float] = []
    first = run(settings, ENV, sleeps)
    assert first.exit_code == 1 and slack.call_count == 1 and 3600 not in sleeps
    second = run(settings, ENV)
    assert second.exit_code == 0 and second.count("sent") == 1 and slack.call_count == 2


@respx.mock
def test_dead_webhook_is_exit_2_others_still_sent(settings: Settings) -> None:
    respx.post(SLACK).mock(return_value=httpx.Response(404, text="no_service"))
    discord = respx.post(url__startswith=DISCORD).mock(side_effect=_ok_discord)
    result = run(settings, ENV)
    assert result.exit_code == 2
    assert discord.call_count == 1
    bad = next(d for d in result.deliveries if d.channel == "slack")
    assert bad.status == "bad_address" and "404" in (bad.error or "")
    assert "SECRETHOOK" not in str(result.as_dict())


@respx.mock
def test_server_errors_and_network_errors_are_bounded(settings: Settings) -> None:
    slack = respx.post(SLACK).mock(side_effect=httpx.ConnectError("boom"))
    respx.post(url__startswith=DISCORD).mock(return_value=httpx.Response(503))
    result = run(settings, ENV)
    assert result.exit_code == 1
    assert slack.call_count == 3
    assert result.count("failed") == 2


def test_missing_url_variable_is_exit_2(settings: Settings) -> None:
    result = run(settings, {"DISCORD_WEBHOOK_URL": ""})
    assert result.exit_code == 2
    assert all(d.status == "bad_address" for d in result.deliveries)
    assert "SLACK_WEBHOOK_URL is not set" in str(result.as_dict())


def test_plain_http_webhook_is_refused(settings: Settings) -> None:
    result = run(
        settings, {"SLACK_WEBHOOK_URL": "http://hooks.example/x", "DISCORD_WEBHOOK_URL": ""}
    )
    slack = next(d for d in result.deliveries if d.channel == "slack")
    assert slack.status == "bad_address" and "https" in (slack.error or "")
