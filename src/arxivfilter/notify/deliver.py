"""Deliver each date's chosen papers to every recipient once, against the ledger.

For each date and recipient: nothing when the ledger says sent; nothing when no paper
matches (unless ``[notify] send_empty``); else the delivery is claimed in the ledger
(committed), sent, and marked ``sent`` or ``failed`` at once. A failed or interrupted
delivery is tried again by the next run with the same Message-ID; a sent one never is.

Exit codes (DESIGN.md): 0 all delivered; 1 some delivery failed for now (retried next run);
2 a recipient the server refuses for good (bad address, dead webhook) or a configuration
error (others are still sent); 3 the SMTP server refused the login, stayed unreachable or
refused TLS (e-mail stops; webhooks still go).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from pathlib import Path
from typing import Any

import httpx
import structlog
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Profile, Settings, env_value
from arxivfilter.errors import ArxivFilterError
from arxivfilter.logs import MASKER
from arxivfilter.notify.compose import MailContext, build_message, new_message_id
from arxivfilter.notify.ledger import read_ledger, write_ledger
from arxivfilter.notify.select import DayPapers, Recipient, Selection
from arxivfilter.notify.smtp import SendFailed, SmtpConfig, SmtpFatal, SmtpSender, smtp_config
from arxivfilter.notify.webhook import discord_payload, post_webhook, slack_payload

log = structlog.get_logger(__name__)

SmtpFactory = Callable[[SmtpConfig], SmtpSender]


@dataclass
class Delivery:
    """What happened to one (recipient, date, channel)."""

    recipient: str
    channel: str
    date: dt.date
    status: (
        str  # sent | failed | bad_address | already_sent | nothing_matched | not_tried | too_old
    )
    papers: int = 0
    error: str | None = None
    message_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "channel": self.channel,
            "date": self.date.isoformat(),
            "status": self.status,
            "papers": self.papers,
            "error": self.error,
            "message_id": self.message_id,
        }


@dataclass
class NotifyResult:
    deliveries: list[Delivery] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # what stopped a whole channel
    fatal_code: int = 0

    def count(self, status: str) -> int:
        return sum(d.status == status for d in self.deliveries)

    @property
    def exit_code(self) -> int:
        if self.fatal_code == 3:
            return 3
        if self.fatal_code == 2 or self.count("bad_address"):
            return 2
        if self.count("failed") or self.count("not_tried") or self.fatal_code:
            return 1
        return 0

    @property
    def message(self) -> str | None:
        parts = list(self.errors)
        for status, words in (
            ("failed", "failed (tried again on the next run)"),
            ("bad_address", "refused for good (bad address or webhook)"),
            ("not_tried", "not tried"),
        ):
            if self.count(status):
                parts.append(f"{self.count(status)} deliveries {words}")
        return "; ".join(parts) or None

    def as_dict(self) -> dict[str, Any]:
        statuses = (
            "sent", "failed", "bad_address", "already_sent", "nothing_matched", "not_tried", "too_old",
        )  # fmt: skip
        return {
            "exit_code": self.exit_code,
            "counts": {s: self.count(s) for s in statuses},
            "errors": self.errors,
            "deliveries": [d.as_dict() for d in self.deliveries],
        }


@dataclass(frozen=True)
class Target:
    """A recipient with how to reach it."""

    recipient: Recipient
    url_env: str = ""  # webhooks: the variable holding the URL


def targets(settings: Settings) -> list[Target]:
    out = [
        Target(
            Recipient(
                key=s.address.strip(),
                channel="email",
                profiles=tuple(s.profiles),
                keywords=tuple(s.keywords),
                min_relevance=s.min_relevance,
            )
        )
        for s in settings.notify.subscribers
    ]
    out += [
        Target(
            Recipient(
                key=f"{w.kind}:{w.name}",
                channel=w.kind,
                profiles=tuple(w.profiles),
                keywords=tuple(w.keywords),
                min_relevance=w.min_relevance,
            ),
            url_env=w.url_env,
        )
        for w in settings.notify.webhooks
    ]
    return out


def unknown_profiles(settings: Settings, known: Sequence[str]) -> list[str]:
    """Profile names subscribers or webhooks ask for that do not exist."""
    names = {n for t in targets(settings) for n in t.recipient.profiles}
    return sorted(names - set(known))


class _Pacer:
    """At least ``interval`` seconds between the starts of two sends on one channel."""

    def __init__(
        self, interval: float, sleep: Callable[[float], None], clock: Callable[[], float]
    ) -> None:
        self.interval = interval
        self.sleep = sleep
        self.clock = clock
        self.last: dict[str, float] = {}

    def wait(self, channel: str) -> None:
        if channel in self.last and self.interval > 0:
            gap = self.last[channel] + self.interval - self.clock()
            if gap > 0:
                self.sleep(gap)
        self.last[channel] = self.clock()


def _valid_address(address: str) -> str | None:
    """None when ``address`` is one plain addr-spec, else why not."""
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, TypeError) as exc:
        return f"not an e-mail address ({type(exc).__name__})"
    if not parsed.domain or not parsed.username or parsed.addr_spec != address:
        return "not an e-mail address"
    return None


def deliver(
    session: Session,
    settings: Settings,
    profiles: Sequence[Profile],
    day_list: Sequence[dt.date],
    *,
    categories: Sequence[str] | None,
    scorer: str,
    run_id: int | None = None,
    oldest: dt.date | None = None,
    env: Mapping[str, str] | None = None,
    smtp_factory: SmtpFactory | None = None,
    http: httpx.Client | None = None,
    now: Callable[[], dt.datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> NotifyResult:
    """Send what each recipient has not received yet for ``day_list`` (see the module doc)."""
    env = os.environ if env is None else env
    cfg = settings.notify
    result = NotifyResult()
    all_targets = targets(settings)
    missing = unknown_profiles(settings, [p.name for p in profiles])
    if missing:
        result.errors.append(f"[notify] names unknown profile {missing[0]!r}")
        result.fatal_code = 2
        return result
    ledger_path = Path(cfg.ledger_file) if cfg.ledger_file else None
    if ledger_path is not None:
        restored = store.restore_ledger(session, read_ledger(ledger_path))
        if restored:
            log.info("delivery ledger merged from its committed file", rows=restored)
    clock_now = now or (lambda: dt.datetime.now(dt.UTC))
    pacer = _Pacer(cfg.min_interval_seconds, sleep, clock)
    day = DayPapers(session, profiles, categories, scorer)

    smtp: SmtpSender | None = None
    email_stop: str | None = None  # why e-mail stopped (no more SMTP sends this run)
    smtp_cfg: SmtpConfig | None = None
    if any(t.recipient.channel == "email" for t in all_targets):
        try:
            smtp_cfg = smtp_config(env)
        except ArxivFilterError as exc:
            email_stop = str(exc)
            result.errors.append(email_stop)
            result.fatal_code = max(result.fatal_code, 2)
    own_http = http is None
    client = http or httpx.Client(timeout=httpx.Timeout(cfg.timeout_seconds))
    try:
        for date in sorted(set(day_list)):
            for target in all_targets:
                rec = target.recipient
                if oldest is not None and date < oldest:
                    result.deliveries.append(Delivery(rec.key, rec.channel, date, "too_old"))
                    continue
                row = store.ledger_entry(session, rec.key, date, rec.channel)
                if row is not None and row.status == "sent":
                    result.deliveries.append(
                        Delivery(rec.key, rec.channel, date, "already_sent", row.papers,
                                 message_id=row.message_id)
                    )  # fmt: skip
                    continue
                selection = day.select(rec, date)
                if selection.count == 0 and not cfg.send_empty:
                    result.deliveries.append(
                        Delivery(rec.key, rec.channel, date, "nothing_matched")
                    )
                    continue
                if rec.channel == "email" and email_stop is not None:
                    result.deliveries.append(
                        Delivery(
                            rec.key, rec.channel, date, "not_tried", selection.count, email_stop
                        )
                    )
                    continue
                if rec.channel == "email":
                    assert smtp_cfg is not None
                    if smtp is None:
                        smtp = (smtp_factory or _default_smtp(settings))(smtp_cfg)
                    delivery, stop = _send_email(
                        session, smtp, smtp_cfg, settings, rec, selection, run_id, pacer, clock_now
                    )
                    if stop is not None:
                        email_stop = stop.args[0]
                        result.errors.append(email_stop)
                        result.fatal_code = max(result.fatal_code, stop.exit_code)
                else:
                    delivery = _send_webhook(
                        session, client, settings, target, selection, run_id, pacer, env, sleep
                    )
                result.deliveries.append(delivery)
    finally:
        if smtp is not None:
            smtp.close()
        if own_http:
            client.close()
        if ledger_path is not None:
            rows = store.ledger(session)
            if rows or ledger_path.exists():
                write_ledger(ledger_path, rows)
    return result


def _default_smtp(settings: Settings) -> SmtpFactory:
    def build(config: SmtpConfig) -> SmtpSender:
        return SmtpSender(
            config,
            timeout=settings.notify.timeout_seconds,
            deadline=settings.notify.send_deadline_seconds,
        )

    return build


def _send_email(
    session: Session,
    smtp: SmtpSender,
    smtp_cfg: SmtpConfig,
    settings: Settings,
    rec: Recipient,
    selection: Selection,
    run_id: int | None,
    pacer: _Pacer,
    now: Callable[[], dt.datetime],
) -> tuple[Delivery, SmtpFatal | None]:
    date, n = selection.date, selection.count
    bad = _valid_address(rec.key)
    if bad is not None:
        log.warning("not sent: bad subscriber address", recipient=rec.key, date=date.isoformat())
        return Delivery(rec.key, "email", date, "bad_address", n, bad), None
    claim = store.claim_notification(
        session,
        recipient=rec.key,
        date=date,
        channel="email",
        message_id=new_message_id(smtp_cfg.sender),
        papers=n,
        run_id=run_id,
    )
    if claim is None:
        return Delivery(rec.key, "email", date, "already_sent", n), None
    ctx = MailContext(
        sender=smtp_cfg.sender,
        recipient=rec.key,
        site_url=settings.report.site_url,
        unsubscribe=settings.notify.unsubscribe,
        max_papers=settings.notify.max_papers,
    )
    msg = build_message(selection, ctx, message_id=claim.message_id, now=now())
    pacer.wait("email")
    try:
        smtp.send(msg)
    except SendFailed as exc:
        error = MASKER.mask(str(exc))
        store.finish_notification(session, claim, status="failed", error=error)
        status = "bad_address" if exc.bad_address else "failed"
        log.warning("e-mail not sent", recipient=rec.key, date=date.isoformat(), error=error)
        return Delivery(rec.key, "email", date, status, n, error, claim.message_id), None
    except SmtpFatal as exc:
        error = MASKER.mask(str(exc))
        store.finish_notification(session, claim, status="failed", error=error)
        log.error("e-mail stopped", error=error)
        return Delivery(rec.key, "email", date, "failed", n, error, claim.message_id), exc
    store.finish_notification(session, claim, status="sent")
    log.info("e-mail sent", recipient=rec.key, date=date.isoformat(), papers=n)
    return Delivery(rec.key, "email", date, "sent", n, None, claim.message_id), None


def _send_webhook(
    session: Session,
    client: httpx.Client,
    settings: Settings,
    target: Target,
    selection: Selection,
    run_id: int | None,
    pacer: _Pacer,
    env: Mapping[str, str],
    sleep: Callable[[float], None],
) -> Delivery:
    rec = target.recipient
    date, n = selection.date, selection.count
    url = (env_value(target.url_env, env) or "").strip()
    if not url:
        error = f"{target.url_env} is not set (the {rec.channel} webhook's URL)"
        return Delivery(rec.key, rec.channel, date, "bad_address", n, error)
    claim = store.claim_notification(
        session,
        recipient=rec.key,
        date=date,
        channel=rec.channel,
        message_id=f"<{new_message_id('x@' + rec.channel)[1:-1]}>",
        papers=n,
        run_id=run_id,
    )
    if claim is None:
        return Delivery(rec.key, rec.channel, date, "already_sent", n)
    build = slack_payload if rec.channel == "slack" else discord_payload
    payload = build(
        selection, site_url=settings.report.site_url, max_papers=settings.notify.max_papers
    )
    pacer.wait(rec.key)
    try:
        remote_id = post_webhook(
            client,
            rec.channel,
            url,
            payload,
            retry_after_max=settings.notify.retry_after_max_seconds,
            sleep=sleep,
        )
    except SendFailed as exc:
        error = MASKER.mask(str(exc).replace(url, "****"))
        store.finish_notification(session, claim, status="failed", error=error)
        log.warning("webhook not sent", recipient=rec.key, date=date.isoformat(), error=error)
        status = "bad_address" if exc.bad_address else "failed"
        return Delivery(rec.key, rec.channel, date, status, n, error, claim.message_id)
    if remote_id:
        claim.message_id = f"{rec.channel}:{remote_id}"
    store.finish_notification(session, claim, status="sent")
    log.info("webhook sent", recipient=rec.key, date=date.isoformat(), papers=n)
    return Delivery(rec.key, rec.channel, date, "sent", n, None, claim.message_id)
