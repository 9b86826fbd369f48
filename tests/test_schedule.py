"""The scheduler: cron in New York after the feeds are rebuilt, one run at a time, catch-up once."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from arxivfilter import schedule
from arxivfilter.config import load_settings
from arxivfilter.errors import ConfigError

NY = ZoneInfo("America/New_York")


def test_next_run_is_after_midnight_new_york_on_a_weekday() -> None:
    """Friday evening's next run is Monday 00:30 in New York, whatever the season."""
    settings = load_settings(env={})
    friday = dt.datetime(2026, 3, 6, 21, 0, tzinfo=NY)
    assert schedule.next_run(settings, friday) == dt.datetime(2026, 3, 9, 0, 30, tzinfo=NY)
    summer = dt.datetime(2026, 7, 7, 1, 0, tzinfo=NY)  # Tuesday after the run
    nxt = schedule.next_run(settings, summer)
    assert nxt is not None and nxt.astimezone(dt.UTC).hour == 4  # 00:30 EDT = 04:30 UTC


def test_job_runs_one_at_a_time_and_catches_up_once() -> None:
    """max_instances=1, coalesce, and a misfire grace time from the config."""
    settings = load_settings(env={"ARXIVFILTER_SCHEDULE__MISFIRE_GRACE_SECONDS": "3600"})
    scheduler = schedule.build_scheduler(settings, lambda: 0)
    job = scheduler.get_job(schedule.JOB_ID)
    assert job is not None
    assert job.max_instances == 1 and job.coalesce is True and job.misfire_grace_time == 3600


def test_bad_cron_is_a_config_error() -> None:
    """A cron expression APScheduler rejects is exit 2 with the key named."""
    settings = load_settings(env={"ARXIVFILTER_SCHEDULE__CRON": "every night"})
    with pytest.raises(ConfigError, match=r"\[schedule\] cron"):
        schedule.make_trigger(settings)


def test_every_weekday_across_both_daylight_saving_changes() -> None:
    """Fire times step Monday to Friday at 00:30 New York time through March and November changes."""
    settings = load_settings(env={})
    trigger = schedule.make_trigger(settings)
    for start in (
        dt.datetime(2026, 3, 2, 1, 0, tzinfo=NY),
        dt.datetime(2026, 10, 26, 1, 0, tzinfo=NY),
    ):
        fires = []
        prev = None
        now = start
        for _ in range(10):
            nxt = trigger.get_next_fire_time(prev, now)
            assert nxt is not None
            fires.append(nxt)
            prev = now = nxt
        local = [f.astimezone(NY) for f in fires]
        assert all((f.hour, f.minute) == (0, 30) for f in local)
        assert [f.weekday() for f in local] == [1, 2, 3, 4, 0, 1, 2, 3, 4, 0]
        days = [f.date() for f in local]
        assert len(set(days)) == 10
