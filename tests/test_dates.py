"""The announcement calendar (DESIGN.md, Dates; issues 9 and 12), all in America/New_York."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arxivfilter import dates
from arxivfilter.dates import (
    ARXIV_EPOCH,
    NY,
    announced_at,
    api_window_query,
    check_not_future,
    is_mailing_day,
    latest_listing,
    listing_for_submission,
    listing_midnight,
    mailings_between,
    next_mailing,
    no_mailing_reason,
    ny_today,
    parse_date,
    previous_mailing,
    submission_deadline,
    submission_window,
    windows_for_range,
)
from arxivfilter.errors import UsageError

D = date.fromisoformat
THANKSGIVING_2025 = {D("2025-11-27")}
WINTER_2025 = {D("2025-12-25"), D("2025-12-26"), D("2026-01-01")}


def ny(s: str) -> datetime:
    """An aware New York datetime from ``YYYY-MM-DD HH:MM``."""
    return datetime.fromisoformat(s).replace(tzinfo=NY)


def utc(s: str) -> datetime:
    """An aware UTC datetime from ``YYYY-MM-DD HH:MM``."""
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


# --- parse_date -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2026-02-24", "1991-08-14", "2024-02-29"])
def test_parse_date_accepts_strict_iso(value: str) -> None:
    """A strict YYYY-MM-DD on or after arXiv's first day parses to that date."""
    assert parse_date(value) == D(value)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2025-13-01", "month must be in 1..12"),
        ("2025-02-30", "day is out of range"),
        ("tomorrow", "expected YYYY-MM-DD"),
        ("2025-1-5", "expected YYYY-MM-DD"),
        ("", "expected YYYY-MM-DD"),
        ("20250105", "expected YYYY-MM-DD"),
        ("2025-01-05T00:00", "expected YYYY-MM-DD"),
        (" 2025-01-05", "expected YYYY-MM-DD"),
        ("2025-01-05\n", "expected YYYY-MM-DD"),
        ("٢٠٢٥-٠١-٠٥", "expected YYYY-MM-DD"),  # Arabic-Indic digits match \d, not [0-9]
        ("1991-08-13", "before arXiv's first announcement (1991-08-14)"),
        ("1900-01-01", "before arXiv's first announcement"),
    ],
)
def test_parse_date_rejects_with_one_clear_line(value: str, fragment: str) -> None:
    """Malformed, impossible and pre-arXiv dates raise UsageError (exit 2) in one line."""
    with pytest.raises(UsageError) as info:
        parse_date(value)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert info.value.exit_code == 2


@given(st.dates(min_value=ARXIV_EPOCH, max_value=date(9999, 12, 31)))
def test_parse_date_round_trips_isoformat(d: date) -> None:
    """Every date from arXiv's epoch on survives isoformat -> parse_date."""
    assert parse_date(d.isoformat()) == d


# --- today and the future -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "today"),
    [
        (utc("2026-01-01 03:00"), "2025-12-31"),  # 22:00 EST the evening before
        (utc("2026-01-01 05:00"), "2026-01-01"),  # 00:00 EST
        (utc("2026-07-01 03:59"), "2026-06-30"),  # 23:59 EDT
        (utc("2026-07-01 04:00"), "2026-07-01"),
        (datetime(2026, 1, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")), "2025-12-31"),
    ],
)
def test_ny_today_uses_new_york_not_utc_or_local(now: datetime, today: str) -> None:
    """Today is the date on a New York wall clock, whatever zone ``now`` is given in."""
    assert ny_today(now) == D(today)


def test_ny_today_defaults_to_the_real_clock() -> None:
    """Without ``now`` it reads the real clock in New York."""
    assert ny_today() in {datetime.now(NY).date(), (datetime.now(NY) - timedelta(minutes=1)).date()}


def test_naive_now_is_refused() -> None:
    """A naive datetime has no zone to convert from, so it is a programming error."""
    with pytest.raises(ValueError, match="timezone-aware"):
        ny_today(datetime(2026, 2, 24, 12, 0))


def test_check_not_future_accepts_today_and_past() -> None:
    """Today in New York and earlier dates pass (and are returned)."""
    now = utc("2026-02-24 04:30")  # Monday 23:30 EST
    assert check_not_future(D("2026-02-23"), now) == D("2026-02-23")
    assert check_not_future(D("2020-01-01"), now) == D("2020-01-01")


def test_check_not_future_rejects_tomorrow_in_new_york() -> None:
    """A date that is already today in UTC but tomorrow in New York is in the future."""
    now = utc("2026-02-24 04:30")  # UTC says Tuesday, New York still Monday
    with pytest.raises(UsageError) as info:
        check_not_future(D("2026-02-24"), now)
    assert str(info.value) == "2026-02-24 is in the future (today in New York is 2026-02-23)"
    assert info.value.exit_code == 2


# --- mailing days ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "holidays", "reason"),
    [
        ("2026-02-23", (), None),  # Monday
        ("2026-02-27", (), None),  # Friday
        ("2026-02-28", (), "a Saturday"),
        ("2026-03-01", (), "a Sunday"),
        ("2025-11-27", THANKSGIVING_2025, "a holiday"),
        ("2025-11-27", (), None),  # without the config list it is an ordinary Thursday
        ("2025-12-27", {D("2025-12-27")}, "a Saturday"),  # weekend wins over holiday
    ],
)
def test_no_mailing_reason(day: str, holidays: set[date], reason: str | None) -> None:
    """Weekends and configured holidays have no listing; the reason names which."""
    assert no_mailing_reason(D(day), holidays) == reason
    assert is_mailing_day(D(day), holidays) is (reason is None)


def test_previous_and_next_mailing_skip_weekends_and_holidays() -> None:
    """Neighbours are strictly before/after and skip weekends and holidays."""
    assert previous_mailing(D("2026-02-23")) == D("2026-02-20")  # Monday -> Friday
    assert previous_mailing(D("2026-02-24")) == D("2026-02-23")
    assert previous_mailing(D("2026-02-22")) == D("2026-02-20")  # from a Sunday
    assert next_mailing(D("2026-02-20")) == D("2026-02-23")  # Friday -> Monday
    assert next_mailing(D("2026-02-21")) == D("2026-02-23")
    assert next_mailing(D("2025-11-26"), THANKSGIVING_2025) == D("2025-11-28")
    assert previous_mailing(D("2025-11-28"), THANKSGIVING_2025) == D("2025-11-26")
    assert next_mailing(D("2025-12-24"), WINTER_2025) == D("2025-12-29")
    assert previous_mailing(D("2026-01-02"), WINTER_2025) == D("2025-12-31")


def test_mailings_between_is_inclusive_and_ordered() -> None:
    """Both ends count when they are mailing days; weekends and holidays drop out."""
    got = mailings_between(D("2025-12-20"), D("2026-01-05"), WINTER_2025)
    assert got == [
        D("2025-12-22"), D("2025-12-23"), D("2025-12-24"), D("2025-12-29"),
        D("2025-12-30"), D("2025-12-31"), D("2026-01-02"), D("2026-01-05"),
    ]  # fmt: skip
    assert mailings_between(D("2026-02-23"), D("2026-02-23")) == [D("2026-02-23")]
    assert mailings_between(D("2026-02-21"), D("2026-02-22")) == []
    assert mailings_between(D("2026-02-24"), D("2026-02-23")) == []


def test_holidays_may_be_any_iterable_even_a_generator() -> None:
    """A one-shot generator of holidays is read once and still applies everywhere."""
    gen = (d for d in sorted(WINTER_2025))
    assert mailings_between(D("2025-12-24"), D("2025-12-29"), gen) == [
        D("2025-12-24"),
        D("2025-12-29"),
    ]
    gen = (d for d in sorted(WINTER_2025))
    assert api_window_query(D("2025-12-29"), gen) == "submittedDate:[202512231900 TO 202512261900]"


# --- latest listing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "holidays", "latest"),
    [
        (ny("2026-02-23 00:30"), (), "2026-02-23"),  # Monday 00:30 NY: Monday's feed is live
        (ny("2026-02-23 00:00"), (), "2026-02-23"),  # from midnight on
        (ny("2026-02-22 23:59"), (), "2026-02-20"),  # Sunday night: still Friday's
        (ny("2026-02-22 12:00"), (), "2026-02-20"),  # Sunday
        (ny("2026-02-21 12:00"), (), "2026-02-20"),  # Saturday
        (ny("2026-02-23 23:00"), (), "2026-02-23"),  # Monday evening, after the 20:00 mailing
        (utc("2026-02-23 03:00"), (), "2026-02-20"),  # Monday in UTC, Sunday 22:00 in NY
        (utc("2026-02-24 03:30"), (), "2026-02-23"),  # Tuesday in UTC, Monday 22:30 in NY
        (utc("2026-02-23 23:00"), (), "2026-02-23"),  # Monday 18:00 NY
        (ny("2025-11-27 09:00"), THANKSGIVING_2025, "2025-11-26"),  # on a holiday
        (ny("2025-11-29 09:00"), THANKSGIVING_2025, "2025-11-28"),
        (ny("2025-12-27 09:00"), WINTER_2025, "2025-12-24"),  # Saturday after two holidays
        (ny("2026-03-08 03:30"), (), "2026-03-06"),  # Sunday, just after spring-forward
        (utc("2026-11-02 04:30"), (), "2026-10-30"),  # Sunday 23:30 EST after fall-back
        (utc("2026-11-02 05:00"), (), "2026-11-02"),  # Monday 00:00 EST
    ],
)
def test_latest_listing(now: datetime, holidays: set[date], latest: str) -> None:
    """Latest is today in New York on a mailing day, else the mailing day before."""
    assert latest_listing(now, holidays) == D(latest)


def test_latest_listing_defaults_to_the_real_clock() -> None:
    """Without ``now`` it returns a mailing day no later than today in New York."""
    got = latest_listing()
    assert is_mailing_day(got)
    assert got <= ny_today() + timedelta(days=1)  # the clock may tick past midnight


@given(
    now=st.datetimes(
        min_value=datetime(2024, 1, 1),
        max_value=datetime(2028, 12, 31),
        timezones=st.timezones(),
    ),
    holidays=st.sets(st.dates(date(2024, 1, 1), date(2028, 12, 31)), max_size=40),
)
def test_latest_listing_is_the_newest_mailing_day_up_to_today(
    now: datetime, holidays: set[date]
) -> None:
    """Latest is a mailing day, not after today in New York, with no mailing day in between."""
    latest = latest_listing(now, holidays)
    today = ny_today(now)
    assert is_mailing_day(latest, holidays)
    assert latest <= today
    assert mailings_between(latest + timedelta(days=1), today, holidays) == []


# --- timestamps -------------------------------------------------------------------------------


def test_listing_midnight_is_aware_new_york_midnight() -> None:
    """Rendered timestamps are 00:00 America/New_York of the listing date, EST or EDT."""
    winter = listing_midnight(D("2026-02-24"))
    summer = listing_midnight(D("2026-07-01"))
    assert winter.tzinfo is NY
    assert winter.isoformat() == "2026-02-24T00:00:00-05:00"
    assert summer.isoformat() == "2026-07-01T00:00:00-04:00"
    assert listing_midnight(D("2026-03-08")).isoformat() == "2026-03-08T00:00:00-05:00"
    assert listing_midnight(D("2026-11-01")).isoformat() == "2026-11-01T00:00:00-04:00"


@pytest.mark.parametrize(
    ("listing", "holidays", "expected_utc"),
    [
        ("2026-02-24", (), "2026-02-24 01:00"),  # Tuesday: Monday 20:00 EST
        ("2026-02-23", (), "2026-02-23 01:00"),  # Monday: Sunday 20:00 EST
        ("2026-03-09", (), "2026-03-09 00:00"),  # Monday: Sunday 20:00 EDT, the DST day
        ("2026-11-02", (), "2026-11-02 01:00"),  # Monday: Sunday 20:00 EST, fall-back day
        ("2025-11-28", THANKSGIVING_2025, "2025-11-28 01:00"),  # Friday: Thursday evening
    ],
)
def test_announced_at_is_20h_new_york_the_evening_before(
    listing: str, holidays: set[date], expected_utc: str
) -> None:
    """A listing is announced at 20:00 New York time on the calendar day before it."""
    got = announced_at(D(listing))
    assert got.astimezone(NY).hour == 20
    assert got.astimezone(NY).date() == D(listing) - timedelta(days=1)
    assert got == utc(expected_utc)


@pytest.mark.parametrize(
    ("listing", "deadline"),
    [
        ("2026-02-23", "2026-02-20 14:00"),  # Monday -> Friday
        ("2026-02-24", "2026-02-23 14:00"),  # Tuesday -> Monday
        ("2026-02-27", "2026-02-26 14:00"),  # Friday -> Thursday
    ],
)
def test_submission_deadline_is_14h_on_the_last_weekday_before(listing: str, deadline: str) -> None:
    """The deadline is 14:00 New York time on the announcing weekday."""
    assert submission_deadline(D(listing)) == ny(deadline)
    assert submission_deadline(D(listing)).tzinfo is NY


# --- submission windows (issue 12) ------------------------------------------------------------


def test_issue_12_worked_example() -> None:
    """Tuesday 2026-02-24, announced Monday 2026-02-23, holds Friday 14:00 to Monday 14:00 EST."""
    start, end = submission_window(D("2026-02-24"))
    assert (start, end) == (utc("2026-02-20 19:00"), utc("2026-02-23 19:00"))
    assert start.tzinfo is UTC
    assert end.tzinfo is UTC
    assert announced_at(D("2026-02-24")).astimezone(NY) == ny("2026-02-23 20:00")
    assert api_window_query(D("2026-02-24")) == "submittedDate:[202602201900 TO 202602231900]"


@pytest.mark.parametrize(
    ("listing", "holidays", "query"),
    [
        # Monday listings around spring-forward (Sunday 2026-03-08): Thursday 14:00 to Friday 14:00
        ("2026-03-02", (), "submittedDate:[202602261900 TO 202602271900]"),
        ("2026-03-09", (), "submittedDate:[202603051900 TO 202603061900]"),
        ("2026-03-16", (), "submittedDate:[202603121800 TO 202603131800]"),
        # Tuesday listing whose weekend holds the change: Friday EST to Monday EDT
        ("2026-03-10", (), "submittedDate:[202603061900 TO 202603091800]"),
        ("2025-03-11", (), "submittedDate:[202503071900 TO 202503101800]"),
        # Listing after a (configured) Monday holiday across the change: Thursday to Monday
        ("2026-03-10", {D("2026-03-09")}, "submittedDate:[202603051900 TO 202603091800]"),
        # Monday listings around fall-back (Sunday 2026-11-01)
        ("2026-10-26", (), "submittedDate:[202610221800 TO 202610231800]"),
        ("2026-11-02", (), "submittedDate:[202610291800 TO 202610301800]"),
        ("2026-11-09", (), "submittedDate:[202611051900 TO 202611061900]"),
        # Tuesday listing across fall-back: Friday EDT to Monday EST
        ("2026-11-03", (), "submittedDate:[202610301800 TO 202611021900]"),
        ("2025-11-04", (), "submittedDate:[202510311800 TO 202511031900]"),
        # Listing after a Monday holiday across fall-back
        ("2026-11-03", {D("2026-11-02")}, "submittedDate:[202610291800 TO 202611021900]"),
        # Thanksgiving 2025: Friday's listing also holds Wednesday's submissions
        ("2025-11-26", THANKSGIVING_2025, "submittedDate:[202511241900 TO 202511251900]"),
        ("2025-11-28", THANKSGIVING_2025, "submittedDate:[202511251900 TO 202511271900]"),
        # Christmas: Monday 2025-12-29 holds Tuesday 14:00 to Friday 14:00
        ("2025-12-29", WINTER_2025, "submittedDate:[202512231900 TO 202512261900]"),
        ("2026-01-02", WINTER_2025, "submittedDate:[202512301900 TO 202601011900]"),
    ],
)
def test_api_window_query_across_dst_and_holidays(
    listing: str, holidays: set[date], query: str
) -> None:
    """Daylight saving moves the GMT hour (19:00 EST, 18:00 EDT); holidays move the days."""
    assert api_window_query(D(listing), holidays) == query


@pytest.mark.parametrize(
    ("day", "reason"), [("2026-02-28", "a Saturday"), ("2025-11-27", "a holiday")]
)
def test_submission_window_refuses_days_without_a_listing(day: str, reason: str) -> None:
    """A weekend or holiday has no window; callers say "no announcement on D" first."""
    with pytest.raises(ValueError, match=f"no announcement on {day} \\({reason}\\)"):
        submission_window(D(day), THANKSGIVING_2025)


def test_windows_for_range_tile_without_gaps() -> None:
    """Consecutive listings' windows meet exactly, over DST changes and holidays."""
    holidays = THANKSGIVING_2025 | WINTER_2025
    windows = windows_for_range(D("2025-10-01"), D("2026-04-30"), holidays)
    days = list(windows)
    assert days == mailings_between(D("2025-10-01"), D("2026-04-30"), holidays)
    for earlier, later in itertools.pairwise(days):
        assert windows[earlier][1] == windows[later][0]
        assert windows[later][0] < windows[later][1]
    assert windows[D("2026-02-24")] == submission_window(D("2026-02-24"))


# --- listing for a submission ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("submitted", "holidays", "listing"),
    [
        (ny("2026-02-23 14:00"), (), "2026-02-24"),  # exactly at the deadline: still in
        (ny("2026-02-23 14:00") + timedelta(seconds=1), (), "2026-02-25"),
        (ny("2026-02-20 13:59"), (), "2026-02-23"),  # Friday before 14:00 -> Monday
        (ny("2026-02-20 14:01"), (), "2026-02-24"),  # Friday after 14:00 -> Tuesday
        (ny("2026-02-21 10:00"), (), "2026-02-24"),  # Saturday -> Tuesday
        (ny("2026-02-23 00:10"), (), "2026-02-24"),
        (utc("2026-03-09 18:00"), (), "2026-03-10"),  # 14:00 EDT on the Monday after the change
        (utc("2026-03-09 18:30"), (), "2026-03-11"),  # 14:30 EDT: too late
        (utc("2026-11-02 18:30"), (), "2026-11-03"),  # 13:30 EST after fall-back
        (datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY), (), "2026-11-03"),  # repeated hour
        (ny("2025-11-26 15:00"), THANKSGIVING_2025, "2025-11-28"),  # into the holiday's listing
        (ny("2025-11-27 13:00"), THANKSGIVING_2025, "2025-11-28"),
        (ny("2025-12-24 16:00"), WINTER_2025, "2025-12-29"),
        (datetime(2026, 2, 23, 20, 0, tzinfo=ZoneInfo("Europe/Paris")), (), "2026-02-24"),
    ],
)
def test_listing_for_submission(submitted: datetime, holidays: set[date], listing: str) -> None:
    """A version goes into the first listing whose deadline is at or after its submission."""
    assert listing_for_submission(submitted, holidays) == D(listing)


def test_listing_for_submission_refuses_naive_times() -> None:
    """A naive timestamp is ambiguous, so it is refused."""
    with pytest.raises(ValueError, match="timezone-aware"):
        listing_for_submission(datetime(2026, 2, 23, 12, 0))


def test_a_holiday_list_with_no_end_is_reported() -> None:
    """A holiday list that blocks every day for a year is a config error, not a hang."""
    year = {D("2026-01-01") + timedelta(days=i) for i in range(400)}
    with pytest.raises(ValueError, match="check the holiday list"):
        next_mailing(D("2025-12-31"), year)


@given(
    ts=st.datetimes(
        min_value=datetime(2024, 2, 1),
        max_value=datetime(2028, 11, 30),
        timezones=st.timezones(),
    ),
    holidays=st.sets(st.dates(date(2024, 1, 1), date(2028, 12, 31)), max_size=40),
)
def test_every_submission_maps_to_a_mailing_day_whose_window_holds_it(
    ts: datetime, holidays: set[date]
) -> None:
    """listing_for_submission and submission_window agree for any time, zone and holidays."""
    listing = listing_for_submission(ts, holidays)
    assert is_mailing_day(listing, holidays)
    start, end = submission_window(listing, holidays)
    assert start < ts <= end
    assert listing > ts.astimezone(NY).date()
    assert announced_at(listing) > ts


def test_module_has_the_documented_constants() -> None:
    """The zone is America/New_York and arXiv's epoch is 1991-08-14."""
    assert dates.NY.key == "America/New_York"
    assert date(1991, 8, 14) == dates.ARXIV_EPOCH


def test_check_range_is_the_one_from_after_to_rule() -> None:
    from arxivfilter.errors import UsageError

    a, b = date(2025, 12, 16), date(2025, 12, 17)
    dates.check_range(a, b)
    dates.check_range(a, a)
    dates.check_range(None, a)
    dates.check_range(b, None)
    with pytest.raises(UsageError, match="--from 2025-12-17 is after --to 2025-12-16"):
        dates.check_range(b, a)
