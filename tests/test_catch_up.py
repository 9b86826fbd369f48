"""Which listings a run without --date fetches (dates.catch_up): every one since the
newest stored, back as far as the pastweek listing reaches, holidays skipped."""

from __future__ import annotations

import datetime as dt

from arxivfilter import dates

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
