"""``arxivfilter schedule``: APScheduler 3.x in the foreground, one run at a time.

A cron trigger in ``[schedule] timezone`` (America/New_York) after the RSS feeds are
rebuilt; ``coalesce`` plus a misfire grace time means a machine that slept through the
run time catches up once when it wakes; SIGINT/SIGTERM shut the scheduler down cleanly.
"""

from __future__ import annotations

import datetime as dt
import signal
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger

from arxivfilter.config import Settings
from arxivfilter.errors import ConfigError

log = structlog.get_logger(__name__)

JOB_ID = "arxivfilter-run"


class DstSafeCronTrigger(CronTrigger):
    """CronTrigger that does not skip the first day after a daylight-saving change.

    APScheduler 3.x steps days by adding 24 hours, so a next fire time computed before the
    spring change lands an hour late on the next day and moves on a whole day: the Monday
    00:30 run after the March change would be skipped (agronholm/apscheduler#529, #606).
    Each local day between the start and the library's answer is checked again from its
    own midnight, where the offset is right.
    """

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        nxt = super().get_next_fire_time(previous_fire_time, now)
        if nxt is None:
            return None
        tz = self.timezone
        start = previous_fire_time + dt.timedelta(microseconds=1) if previous_fire_time else now
        start = max(start, now)
        day = start.astimezone(tz).date()
        while day < nxt.astimezone(tz).date():
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
            candidate = super().get_next_fire_time(None, max(midnight, start))
            if candidate is not None and start <= candidate < nxt:
                return candidate
            day += dt.timedelta(days=1)
        return nxt


def make_trigger(settings: Settings) -> CronTrigger:
    """The cron trigger of ``[schedule]``; a bad expression or zone is a config error (exit 2)."""
    try:
        tz = ZoneInfo(settings.schedule.timezone)
        fields = settings.schedule.cron.split()
        if len(fields) != 5:
            raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
        minute, hour, day, month, day_of_week = fields
        return DstSafeCronTrigger(
            minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=tz
        )
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"[schedule] cron {settings.schedule.cron!r} / timezone: {exc}") from None


def next_run(settings: Settings, now: dt.datetime | None = None) -> dt.datetime | None:
    trigger = make_trigger(settings)
    now = now or dt.datetime.now(ZoneInfo(settings.schedule.timezone))
    return trigger.get_next_fire_time(None, now)


def build_scheduler(settings: Settings, job: Callable[[], Any]) -> BlockingScheduler:
    """A scheduler with the nightly job: one instance at a time, coalesced, with a grace time."""
    trigger = make_trigger(settings)
    scheduler = BlockingScheduler(timezone=ZoneInfo(settings.schedule.timezone))
    scheduler.add_job(
        job,
        trigger,
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=settings.schedule.misfire_grace_seconds,
        replace_existing=True,
    )

    def _report(event: JobExecutionEvent) -> None:
        nxt = scheduler.get_job(JOB_ID)
        when = nxt.next_run_time.isoformat() if nxt and nxt.next_run_time else None
        if event.code == EVENT_JOB_MISSED:
            log.warning("scheduled run missed (beyond the misfire grace time)", next_run=when)
        elif event.exception is not None:
            log.error("scheduled run failed", error=str(event.exception), next_run=when)
        elif event.retval:
            log.error("scheduled run finished with an error", exit_code=event.retval, next_run=when)
        else:
            log.info("scheduled run finished", exit_code=event.retval, next_run=when)

    scheduler.add_listener(_report, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    return scheduler


def serve(settings: Settings, job: Callable[[], Any]) -> None:
    """Run until SIGINT/SIGTERM; logs the next run time at start and after each run."""
    scheduler = build_scheduler(settings, job)

    def _stop(signum: int, _frame: object) -> None:
        log.info("stopping the scheduler", signal=signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    when = next_run(settings)
    log.info(
        "scheduler started",
        cron=settings.schedule.cron,
        timezone=settings.schedule.timezone,
        next_run=when.isoformat() if when else None,
    )
    scheduler.start()
