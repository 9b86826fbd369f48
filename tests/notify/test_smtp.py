"""Delivery by e-mail against a real SMTP server (aiosmtpd in its own process): plain,
AUTH over STARTTLS, implicit TLS, refused logins, bad addresses, a server that disconnects
mid-message, one that never answers; what it received is parsed with ``email``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Settings, load_profiles
from arxivfilter.notify.deliver import NotifyResult, deliver
from tests.notify.conftest import DAY, SUBSCRIBERS, add_papers, write_config

PASSWORD = "pw-SECRETSMTP-4711"


def run(settings: Settings, env: dict[str, str], days: list[dt.date] | None = None) -> NotifyResult:
    engine = store.make_engine(settings.storage.db_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return deliver(
                session,
                settings,
                load_profiles(),
                days or [DAY],
                categories=None,
                scorer="local",
                env=env,
            )
    finally:
        engine.dispose()


def ledger(settings: Settings) -> dict[str, tuple[str, str]]:
    engine = store.make_engine(settings.storage.db_url)
    with Session(engine) as session:
        rows = {r.recipient: (r.status, r.message_id) for r in store.ledger(session)}
    engine.dispose()
    return rows


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str) -> Settings:
    add_papers(sqlite_url)
    return write_config(tmp_path / "config.toml", SUBSCRIBERS, sqlite_url)


def by_recipient(server) -> dict[str, object]:
    return {str(m["To"]): m for m in server.messages()}


def test_one_message_per_subscriber_with_both_parts(smtp, settings: Settings) -> None:
    """Each subscriber with a match gets one message (text + HTML, the headers the issue
    asks for); the one whose keywords match nothing gets none; a re-run sends nothing."""
    server = smtp()
    result = run(settings, server.env())
    assert result.exit_code == 0, result.as_dict()
    got = by_recipient(server)
    assert sorted(got) == ["ada@example.org", "bob@example.org", "carol@example.org"]
    ada = got["ada@example.org"]
    assert ada["Subject"] == "arXiv 2025-12-16: 3 papers (llm-inference)"
    assert ada["List-Unsubscribe"] == "<mailto:digest@example.org?subject=unsubscribe>"
    assert ada["Auto-Submitted"] == "auto-generated"
    assert ada["Message-ID"] == ledger(settings)["ada@example.org"][1]
    text = ada.get_body(("plain",)).get_content()
    html = ada.get_body(("html",)).get_content()
    assert "1. Paged KV cache for serving" in text
    assert "https://arxiv.org/abs/2512.00001" in text and "https://arxiv.org/pdf/2512.00001" in text
    assert 'href="https://arxiv.org/abs/2512.00003"' in html
    assert "<style" not in html and 'style="' in html  # CSS inlined
    # bob: his minimum relevance across two profiles, each paper once
    bob = got["bob@example.org"]
    assert bob["Subject"] == "arXiv 2025-12-16: 3 papers (llm-systems, llm-inference)"
    bob_text = bob.get_body(("plain",)).get_content()
    assert bob_text.index("2512.00005") < bob_text.index("2512.00001")
    assert "2512.00003" not in bob_text
    carol = got["carol@example.org"].get_body(("plain",)).get_content()
    assert "Speculative decoding at scale" in carol and "2512.00001" not in carol
    assert [e["rcpt_tos"] for e in server.envelopes()] and all(
        e["mail_from"] == "digest@example.org" for e in server.envelopes()
    )
    again = run(settings, server.env())
    assert again.exit_code == 0
    assert again.count("already_sent") == 3 and again.count("sent") == 0
    assert len(server.messages()) == 3


def test_hostile_title_is_text_in_html_and_plain(smtp, settings: Settings) -> None:
    """A title carrying markup is escaped in the HTML part (no tag, no script) and shown
    as typed in the text part."""
    server = smtp()
    run(settings, server.env())
    ada = by_recipient(server)["ada@example.org"]
    html = ada.get_body(("html",)).get_content()
    assert "<img" not in html and "<script" not in html and "</script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html
    text = ada.get_body(("plain",)).get_content()
    assert "<img src=x onerror=alert(1)>" in text


def test_auth_over_starttls(smtp, settings: Settings, certs, monkeypatch) -> None:
    """AUTH after STARTTLS with a certificate from a private CA (SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
    server = smtp("--auth", f"digest:{PASSWORD}", "--starttls", str(certs.cert), str(certs.key))
    env = server.env(
        ARXIVFILTER_SMTP_TLS="starttls",
        ARXIVFILTER_SMTP_USER="digest",
        ARXIVFILTER_SMTP_PASSWORD=PASSWORD,
    )
    result = run(settings, env)
    assert result.exit_code == 0, result.as_dict()
    assert len(server.messages()) == 3
    assert all(e["tls"] and e["login"] == "digest" for e in server.envelopes())


def test_implicit_tls_with_auth(smtp, settings: Settings, certs, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
    server = smtp("--auth", f"digest:{PASSWORD}", "--tls", str(certs.cert), str(certs.key))
    env = server.env(
        ARXIVFILTER_SMTP_TLS="tls",
        ARXIVFILTER_SMTP_USER="digest",
        ARXIVFILTER_SMTP_PASSWORD=PASSWORD,
    )
    result = run(settings, env)
    assert result.exit_code == 0, result.as_dict()
    assert len(server.messages()) == 3
    assert all(e["tls"] for e in server.envelopes())


def test_refused_login_is_exit_3_and_retried_next_run(
    smtp, settings: Settings, certs, monkeypatch
) -> None:
    """A wrong password stops e-mail (exit 3), nothing is received, the password is in no
    error; with the right one the next run sends every message once."""
    monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
    server = smtp("--auth", f"digest:{PASSWORD}", "--starttls", str(certs.cert), str(certs.key))
    env = server.env(
        ARXIVFILTER_SMTP_TLS="starttls",
        ARXIVFILTER_SMTP_USER="digest",
        ARXIVFILTER_SMTP_PASSWORD="wrong-password-123",
    )
    result = run(settings, env)
    assert result.exit_code == 3
    assert "refused the login" in (result.message or "")
    assert "wrong-password-123" not in str(result.as_dict())
    assert server.messages() == []
    env["ARXIVFILTER_SMTP_PASSWORD"] = PASSWORD
    result = run(settings, env)
    assert result.exit_code == 0, result.as_dict()
    assert sorted(str(m["To"]) for m in server.messages()) == [
        "ada@example.org", "bob@example.org", "carol@example.org",
    ]  # fmt: skip


def test_starttls_not_offered_is_refused(smtp, settings: Settings) -> None:
    """starttls mode never falls back to clear text."""
    server = smtp()
    result = run(settings, server.env(ARXIVFILTER_SMTP_TLS="starttls"))
    assert result.exit_code == 3
    assert "does not offer STARTTLS" in (result.message or "")
    assert server.messages() == []


def test_untrusted_certificate_is_refused(smtp, settings: Settings, certs) -> None:
    server = smtp("--tls", str(certs.cert), str(certs.key))
    result = run(settings, server.env(ARXIVFILTER_SMTP_TLS="tls"))
    assert result.exit_code == 3
    assert "TLS" in (result.message or "")
    assert server.messages() == []


def test_bad_address_is_exit_2_for_that_subscriber_only(smtp, settings: Settings) -> None:
    server = smtp("--reject", "ada@")
    result = run(settings, server.env())
    assert result.exit_code == 2
    statuses = {d.recipient: d.status for d in result.deliveries}
    assert statuses["ada@example.org"] == "bad_address"
    assert "550" in next(d.error for d in result.deliveries if d.recipient == "ada@example.org")
    assert sorted(str(m["To"]) for m in server.messages()) == [
        "bob@example.org",
        "carol@example.org",
    ]


def test_disconnect_mid_message_is_retried_once(smtp, settings: Settings) -> None:
    """The server drops the connection after the first message's data, before accepting
    it: that delivery fails (exit 1), the others go on a new connection, and the next run
    sends the failed one, with the same Message-ID, and nothing else again."""
    server = smtp("--drop-first", "1")
    first = run(settings, server.env())
    assert first.exit_code == 1
    failed = [d for d in first.deliveries if d.status == "failed"]
    assert len(failed) == 1 and "closed the connection" in (failed[0].error or "")
    assert len(server.messages()) == 2
    second = run(settings, server.env())
    assert second.exit_code == 0
    assert second.count("sent") == 1 and second.count("already_sent") == 2
    msgs = server.messages()
    assert sorted(str(m["To"]) for m in msgs) == [
        "ada@example.org", "bob@example.org", "carol@example.org",
    ]  # fmt: skip
    resent = next(m for m in msgs if str(m["To"]) == failed[0].recipient)
    assert resent["Message-ID"] == failed[0].message_id


def test_a_server_that_never_answers_is_cut_off(smtp, tmp_path: Path, sqlite_url: str) -> None:
    """Every wait is bounded: DATA never answered -> the send deadline ends it (failed,
    exit 1) instead of a hang."""
    add_papers(sqlite_url)
    body = 'send_deadline_seconds = 1\ntimeout_seconds = 5\n[[notify.subscribers]]\naddress = "ada@example.org"\n'
    settings = write_config(tmp_path / "c.toml", body, sqlite_url)
    server = smtp("--hang")
    result = run(settings, server.env())
    assert result.exit_code == 1
    assert result.count("failed") == 1
    assert ledger(settings)["ada@example.org"][0] == "failed"


def test_smtp_settings_missing_is_exit_2_and_nothing_claimed(settings: Settings) -> None:
    result = run(settings, {})
    assert result.exit_code == 2
    assert "ARXIVFILTER_SMTP_HOST" in (result.message or "")
    assert ledger(settings) == {}


def test_ledger_file_carries_the_ledger_to_a_fresh_database(
    smtp, settings: Settings, tmp_path: Path
) -> None:
    """A fresh runner has a new database but the committed ledger file: nothing is sent
    twice; the file's bytes are stable when nothing changed."""
    server = smtp()
    assert run(settings, server.env()).exit_code == 0
    ledger_file = Path(settings.notify.ledger_file)
    first = ledger_file.read_text()
    assert first.count('"status": "sent"') == 3
    Path(settings.storage.db_url.split("///")[1]).unlink()  # the runner starts over
    add_papers(settings.storage.db_url)
    again = run(settings, server.env())
    assert again.count("already_sent") == 3 and len(server.messages()) == 3
    assert ledger_file.read_text() == first


def test_unreadable_ledger_file_stops_delivery(smtp, settings: Settings) -> None:
    from arxivfilter.errors import StorageError

    path = Path(settings.notify.ledger_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json\n")
    server = smtp()
    with pytest.raises(StorageError, match=r"notifications\.jsonl:1"):
        run(settings, server.env())
    assert server.messages() == []


def test_send_empty_and_pacing(smtp, tmp_path: Path, sqlite_url: str) -> None:
    """send_empty mails a subscriber with no match; sends are paced min_interval apart."""
    add_papers(sqlite_url)
    body = "send_empty = true\n" + SUBSCRIBERS
    settings = write_config(tmp_path / "c.toml", body, sqlite_url)
    settings.notify.min_interval_seconds = 2.0
    server = smtp()
    now = [100.0]
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    engine = store.make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        result = deliver(
            session, settings, load_profiles(), [DAY], categories=None, scorer="local",
            env=server.env(), sleep=sleep, clock=lambda: now[0],
        )  # fmt: skip
    engine.dispose()
    assert result.count("sent") == 4
    assert sleeps == [2.0, 2.0, 2.0]
    empty = next(m for m in server.messages() if str(m["To"]) == "nobody@example.org")
    assert empty["Subject"] == "arXiv 2025-12-16: 0 papers (llm-inference)"


def test_dates_before_max_age_are_not_sent(smtp, settings: Settings) -> None:
    server = smtp()
    engine = store.make_engine(settings.storage.db_url)
    with Session(engine, expire_on_commit=False) as session:
        result = deliver(
            session, settings, load_profiles(), [DAY], categories=None, scorer="local",
            env=server.env(), oldest=DAY + dt.timedelta(days=1),
        )  # fmt: skip
    engine.dispose()
    assert result.exit_code == 0 and result.count("too_old") == 4
    assert server.messages() == []
