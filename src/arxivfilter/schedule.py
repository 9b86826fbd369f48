"""``arxivfilter schedule``: APScheduler 3.x in the foreground, one run at a time.

A cron trigger in ``[schedule] timezone`` (America/New_York) after the RSS feeds are
rebuilt; ``coalesce`` plus a misfire grace time means a machine that slept through the
run time catches up once when it wakes.

The scheduler's thread only says "due"; the run itself happens in the main thread, so
SIGTERM stops it exactly as Ctrl-C stops ``arxivfilter run``: the signal raises
:class:`Terminated` (a KeyboardInterrupt) wherever the run is, the run is recorded
``interrupted`` and the command exits 130. Idle, the first SIGTERM/SIGINT stops the
scheduler (exit 0). Further signals while stopping are logged and ignored, so the
run's record is always closed.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from arxivfilter.config import Settings
from arxivfilter.errors import ConfigError

log = structlog.get_logger(__name__)

if TYPE_CHECKING:
    # APScheduler 3.x ships no types: the part of CronTrigger used here, typed.
    class _TypedCronTrigger:
        timezone: dt.tzinfo

        def __init__(self, **fields: Any) -> None: ...

        def get_next_fire_time(
            self, previous_fire_time: dt.datetime | None, now: dt.datetime
        ) -> dt.datetime | None: ...

else:
    _TypedCronTrigger = CronTrigger

JOB_ID = "arxivfilter-run"


class DstSafeCronTrigger(_TypedCronTrigger):
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


def make_trigger(settings: Settings) -> DstSafeCronTrigger:
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


def build_scheduler(
    settings: Settings, job: Callable[[], Any], scheduler: BaseScheduler | None = None
) -> BaseScheduler:
    """A (background) scheduler with the nightly job: one instance at a time, coalesced,
    with a grace time."""
    trigger = make_trigger(settings)
    sched = scheduler or BackgroundScheduler(timezone=ZoneInfo(settings.schedule.timezone))
    sched.add_job(
        job,
        trigger,
        id=JOB_ID,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=settings.schedule.misfire_grace_seconds,
        replace_existing=True,
    )

    def _missed(_event: JobExecutionEvent) -> None:
        log.warning("scheduled run missed (beyond the misfire grace time)")

    sched.add_listener(_missed, EVENT_JOB_MISSED)
    return sched


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread: stops a run as Ctrl-C does (exit 130)."""


def serve(
    settings: Settings,
    job: Callable[[], Any],
    *,
    scheduler: BaseScheduler | None = None,
    ready: Callable[[], None] | None = None,
) -> int:
    """Run ``job`` in the main thread each time the cron fires, until SIGINT/SIGTERM.

    Returns 0 after a stop while idle; a signal during a run raises :class:`Terminated`
    (or KeyboardInterrupt) out of the job, after the job's own clean-up. ``scheduler`` and
    ``ready`` are for tests (a scheduler whose trigger fires now; called once listening).
    """
    due = threading.Event()
    sched = build_scheduler(settings, due.set, scheduler)

    def _ignore(signum: int, _frame: object) -> None:
        log.warning("already stopping", signal=signal.Signals(signum).name)

    def _stop(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _ignore)  # the clean-up below must not be cut short
        log.info("stopping the scheduler", signal=name)
        raise Terminated(name) if signum == signal.SIGTERM else KeyboardInterrupt(name)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    try:
        sched.start()
        when = next_run(settings)
        log.info(
            "scheduler started",
            cron=settings.schedule.cron,
            timezone=settings.schedule.timezone,
            next_run=when.isoformat() if when else None,
        )
        if ready is not None:
            ready()
        while True:
            try:
                while not due.wait(1.0):
                    pass
            except KeyboardInterrupt:  # idle: a clean stop
                return 0
            due.clear()
            code = job()
            nxt = sched.get_job(JOB_ID)
            when_s = nxt.next_run_time.isoformat() if nxt and nxt.next_run_time else None
            if code:
                log.error("scheduled run finished with an error", exit_code=code, next_run=when_s)
            else:
                log.info("scheduled run finished", exit_code=code, next_run=when_s)
    finally:
        # signals stay ignored (SIG_IGN, which outlives the interpreter's own clean-up, where
        # Python handlers are reset): the command is ending; a late one must not cut it short
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        if sched.running:
            sched.shutdown(wait=False)
