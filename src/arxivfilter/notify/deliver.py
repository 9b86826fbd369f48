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

    def stop_channel(self, error: str, code: int) -> None:
        """Record what stopped a whole channel (or the run) and its exit code."""
        self.errors.append(error)
        self.fatal_code = max(self.fatal_code, code)

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


def oldest_to_send(
    session: Session, settings: Settings, categories: Sequence[str] | None
) -> dt.date | None:
    """The oldest date ``run`` delivers: ``[notify] max_age_days`` before the newest stored
    listing (None: nothing stored), so a backfill does not mail history."""
    newest = store.newest_announcement(session, categories)
    return None if newest is None else newest - dt.timedelta(days=settings.notify.max_age_days)


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
        result.stop_channel(f"[notify] names unknown profile {missing[0]!r}", 2)
        return result
    ledger_path = _restore_ledger(session, cfg.ledger_file)
    email = _email_channel(settings, all_targets, env, smtp_factory, result)
    own_http = http is None
    run = _Run(
        session=session,
        settings=settings,
        day=DayPapers(session, profiles, categories, scorer),
        email=email,
        client=http or httpx.Client(timeout=httpx.Timeout(cfg.timeout_seconds)),
        pacer=_Pacer(cfg.min_interval_seconds, sleep, clock),
        run_id=run_id,
        env=env,
        sleep=sleep,
        now=now or (lambda: dt.datetime.now(dt.UTC)),
        result=result,
    )
    try:
        for date in sorted(set(day_list)):
            for target in all_targets:
                result.deliveries.append(_deliver_one(run, target, date, oldest))
    finally:
        email.close()
        if own_http:
            run.client.close()
        _save_ledger(session, ledger_path)
    return result


@dataclass
class _EmailChannel:
    """E-mail in one run: the SMTP settings, the sender opened at the first send, why it stopped."""

    config: SmtpConfig | None
    factory: SmtpFactory
    stop: str | None = None  # why e-mail stopped (no more SMTP sends this run)
    sender: SmtpSender | None = None

    def open(self) -> tuple[SmtpSender, SmtpConfig]:
        assert self.config is not None
        if self.sender is None:
            self.sender = self.factory(self.config)
        return self.sender, self.config

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()


@dataclass
class _Run:
    """What every delivery of one ``deliver`` call shares."""

    session: Session
    settings: Settings
    day: DayPapers
    email: _EmailChannel
    client: httpx.Client
    pacer: _Pacer
    run_id: int | None
    env: Mapping[str, str]
    sleep: Callable[[float], None]
    now: Callable[[], dt.datetime]
    result: NotifyResult


def _restore_ledger(session: Session, ledger_file: str | None) -> Path | None:
    """Merge the committed ledger file into the database; its path, if one is configured."""
    ledger_path = Path(ledger_file) if ledger_file else None
    if ledger_path is not None:
        restored = store.restore_ledger(session, read_ledger(ledger_path))
        if restored:
            log.info("delivery ledger merged from its committed file", rows=restored)
    return ledger_path


def _save_ledger(session: Session, ledger_path: Path | None) -> None:
    """Write the database's ledger back to its file (when there is something to write)."""
    if ledger_path is not None:
        rows = store.ledger(session)
        if rows or ledger_path.exists():
            write_ledger(ledger_path, rows)


def _email_channel(
    settings: Settings,
    all_targets: Sequence[Target],
    env: Mapping[str, str],
    smtp_factory: SmtpFactory | None,
    result: NotifyResult,
) -> _EmailChannel:
    """E-mail's SMTP settings, read only when someone subscribes; unusable ones stop e-mail."""
    email = _EmailChannel(None, smtp_factory or _default_smtp(settings))
    if any(t.recipient.channel == "email" for t in all_targets):
        try:
            email.config = smtp_config(env)
        except ArxivFilterError as exc:
            email.stop = str(exc)
            result.stop_channel(email.stop, 2)
    return email


def _deliver_one(run: _Run, target: Target, date: dt.date, oldest: dt.date | None) -> Delivery:
    """One recipient's delivery for one date: skipped, or sent on its channel."""
    rec = target.recipient
    if oldest is not None and date < oldest:
        return Delivery(rec.key, rec.channel, date, "too_old")
    row = store.ledger_entry(run.session, rec.key, date, rec.channel)
    if row is not None and row.status == "sent":
        return Delivery(
            rec.key, rec.channel, date, "already_sent", row.papers, message_id=row.message_id
        )
    selection = run.day.select(rec, date)
    if selection.count == 0 and not run.settings.notify.send_empty:
        return Delivery(rec.key, rec.channel, date, "nothing_matched")
    if rec.channel != "email":
        return _send_webhook(run, target, selection)
    email = run.email
    if email.stop is not None:
        return Delivery(rec.key, rec.channel, date, "not_tried", selection.count, email.stop)
    delivery, stop = _send_email(run, rec, selection)
    if stop is not None:
        email.stop = stop.args[0]
        run.result.stop_channel(email.stop, stop.exit_code)
    return delivery


def _default_smtp(settings: Settings) -> SmtpFactory:
    def build(config: SmtpConfig) -> SmtpSender:
        return SmtpSender(
            config,
            timeout=settings.notify.timeout_seconds,
            deadline=settings.notify.send_deadline_seconds,
        )

    return build


def _send_email(
    run: _Run, rec: Recipient, selection: Selection
) -> tuple[Delivery, SmtpFatal | None]:
    smtp, smtp_cfg = run.email.open()
    session, settings = run.session, run.settings
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
        run_id=run.run_id,
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
    msg = build_message(selection, ctx, message_id=claim.message_id, now=run.now())
    run.pacer.wait("email")
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


def _send_webhook(run: _Run, target: Target, selection: Selection) -> Delivery:
    session, settings = run.session, run.settings
    rec = target.recipient
    date, n = selection.date, selection.count
    url = (env_value(target.url_env, run.env) or "").strip()
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
        run_id=run.run_id,
    )
    if claim is None:
        return Delivery(rec.key, rec.channel, date, "already_sent", n)
    build = slack_payload if rec.channel == "slack" else discord_payload
    payload = build(
        selection, site_url=settings.report.site_url, max_papers=settings.notify.max_papers
    )
    run.pacer.wait(rec.key)
    try:
        remote_id = post_webhook(
            run.client,
            rec.channel,
            url,
            payload,
            retry_after_max=settings.notify.retry_after_max_seconds,
            sleep=run.sleep,
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
