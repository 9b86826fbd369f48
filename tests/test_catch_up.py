"""Which listings a run without --date fetches (dates.catch_up): every one since the
newest stored, back as far as the pastweek listing reaches, holidays skipped."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from arxivfilter import dates, pipeline, store
from arxivfilter.config import load_settings
from arxivfilter.errors import UpstreamError
from arxivfilter.fetch import stage as fetch_stage
from arxivfilter.fetch.day import FetchResult
from arxivfilter.models import Entry

D = dt.date
HOLIDAYS = {D(2025, 12, 25), D(2026, 1, 1)}


def test_window_is_five_mailings_oldest_first_skipping_holidays() -> None:
    window = dates.recent_mailings(D(2025, 12, 30), 5, HOLIDAYS)
    assert window == [
        D(2025, 12, 23),
        D(2025, 12, 24),
        D(2025, 12, 26),
        D(2025, 12, 29),
        D(2025, 12, 30),
    ]


def test_nothing_stored_fetches_the_latest_only() -> None:
    window = dates.recent_mailings(D(2026, 2, 24), 5)
    assert dates.catch_up(window, [], None) == [D(2026, 2, 24)]


def test_a_dropped_night_is_caught_up() -> None:
    """Stored up to Friday; Monday's run was dropped; Tuesday's run fetches both."""
    window = dates.recent_mailings(D(2026, 2, 24), 5)
    stored = [D(2026, 2, 18), D(2026, 2, 19), D(2026, 2, 20)]
    assert dates.catch_up(window, stored, D(2026, 2, 10)) == [D(2026, 2, 23), D(2026, 2, 24)]


def test_up_to_date_is_nothing() -> None:
    window = dates.recent_mailings(D(2026, 2, 24), 5)
    assert dates.catch_up(window, window, D(2026, 1, 5)) == []


def test_a_long_gap_reaches_back_five_mailings_only() -> None:
    window = dates.recent_mailings(D(2026, 2, 24), 5)
    assert dates.catch_up(window, [], D(2025, 12, 1)) == window


def test_nothing_before_the_database_starts() -> None:
    """A database started on Thursday (first run: the latest only) fetches no earlier day."""
    window = dates.recent_mailings(D(2026, 2, 24), 5)
    stored = [D(2026, 2, 19)]
    assert dates.catch_up(window, stored, D(2026, 2, 19)) == [
        D(2026, 2, 20),
        D(2026, 2, 23),
        D(2026, 2, 24),
    ]


def test_a_day_that_failed_between_stored_ones_is_fetched_again() -> None:
    window = dates.recent_mailings(D(2026, 2, 24), 5)
    stored = [D(2026, 2, 18), D(2026, 2, 20), D(2026, 2, 23), D(2026, 2, 24)]
    assert dates.catch_up(window, stored, D(2026, 1, 5)) == [D(2026, 2, 19)]


# --------------------------------------------------------------------------- through run


NOW = dt.datetime(2026, 2, 24, 6, 0, tzinfo=dt.UTC)  # 01:00 in New York, a Tuesday


def _entry(day: dt.date) -> Entry:
    return Entry(
        arxiv_id=f"2602.{day.day:05d}",
        version=1,
        title=f"Paper of {day}",
        abstract="An abstract.",
        categories=["cs.DC"],
        primary_category="cs.DC",
        announce_date=day,
        announce_type="new",
    )


def _app(tmp_path) -> pipeline.App:  # type: ignore[no-untyped-def]
    settings = load_settings(
        env={"ARXIVFILTER_DB_URL": f"sqlite:///{tmp_path / 'c.db'}", "ARXIVFILTER_STATE_DIR": ""}
    )
    return pipeline.App(settings, now=lambda: NOW)


def test_run_fetches_the_missed_listings_oldest_first(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Stored up to Thursday; Friday's and Monday's nights were dropped: Tuesday's run
    fetches Friday, Monday and Tuesday (pastweek, then RSS), and a second run nothing."""
    asked: list[dt.date] = []
    fail: set[dt.date] = set()

    def fake_fetch_live(settings, client, date, categories, **kw):  # type: ignore[no-untyped-def]
        asked.append(date)
        if date in fail:
            raise UpstreamError(f"the feed still holds an older listing, not {date}", url=None)
        return FetchResult(date=date, entries=[_entry(date)], source="fake")

    monkeypatch.setattr(fetch_stage, "fetch_live", fake_fetch_live)
    app = _app(tmp_path)
    with Session(app.engine) as s:
        store.store_entries(s, [_entry(D(2026, 2, 19))], categories=None)
    summary = pipeline.run(app, pipeline.Options(categories=["cs.DC"]), stages=("fetch",))
    assert asked == [D(2026, 2, 20), D(2026, 2, 23), D(2026, 2, 24)]
    assert summary.fetch.dates == asked

    asked.clear()
    again = pipeline.run(app, pipeline.Options(categories=["cs.DC"]), stages=("fetch",))
    assert asked == [] and again.fetch.papers == 0  # nothing new: no request at all
    app.close()


def test_a_feed_not_rebuilt_yet_keeps_the_days_before_it(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The latest feed still holds the listing before: the missed day before it is stored
    and the run exits 3; the next run fetches only the latest."""
    asked: list[dt.date] = []
    fail = {D(2026, 2, 24)}

    def fake_fetch_live(settings, client, date, categories, **kw):  # type: ignore[no-untyped-def]
        asked.append(date)
        if date in fail:
            raise UpstreamError(f"the feed still holds an older listing, not {date}", url=None)
        return FetchResult(date=date, entries=[_entry(date)], source="fake")

    monkeypatch.setattr(fetch_stage, "fetch_live", fake_fetch_live)
    app = _app(tmp_path)
    with Session(app.engine) as s:
        store.store_entries(s, [_entry(D(2026, 2, 20))], categories=None)
    with pytest.raises(UpstreamError):
        pipeline.run(app, pipeline.Options(categories=["cs.DC"]), stages=("fetch",))
    assert asked == [D(2026, 2, 23), D(2026, 2, 24)]
    with Session(app.engine) as s:
        assert D(2026, 2, 23) in store.announcement_dates(s)
    asked.clear()
    fail.clear()
    pipeline.run(app, pipeline.Options(categories=["cs.DC"]), stages=("fetch",))
    assert asked == [D(2026, 2, 24)]
    app.close()


def test_a_holiday_night_fetches_nothing(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Thanksgiving (Thursday 2026-11-26, a shipped holiday) removes Friday's listing: the
    Friday night run finds Thursday's listing stored and fetches nothing (no outage)."""
    asked: list[dt.date] = []

    def fake_fetch_live(settings, client, date, categories, **kw):  # type: ignore[no-untyped-def]
        asked.append(date)
        return FetchResult(date=date, entries=[_entry(date)], source="fake")

    monkeypatch.setattr(fetch_stage, "fetch_live", fake_fetch_live)
    settings = load_settings(
        env={"ARXIVFILTER_DB_URL": f"sqlite:///{tmp_path / 'h.db'}", "ARXIVFILTER_STATE_DIR": ""}
    )
    assert D(2026, 11, 27) in settings.holiday_dates
    friday = dt.datetime(2026, 11, 27, 6, 0, tzinfo=dt.UTC)
    app = pipeline.App(settings, now=lambda: friday)
    with Session(app.engine) as s:
        store.store_entries(s, [_entry(D(2026, 11, 26))], categories=None)
    summary = pipeline.run(app, pipeline.Options(categories=["cs.DC"]), stages=("fetch",))
    assert asked == [] and summary.fetch.dates == [D(2026, 11, 26)]
    app.close()
