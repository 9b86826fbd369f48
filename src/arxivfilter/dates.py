"""arXiv's announcement calendar (DESIGN.md, Dates), in America/New_York, never local time.

A *listing date* ``d`` is the date arXiv prints on a listing: a weekday that is not a
holiday (holidays are keyed by listing date and come from config). Listing ``d`` is
announced at 20:00 New York time on the calendar day before ``d`` and holds what was
submitted after the deadline of the previous listing up to 14:00 New York time on the
last weekday before ``d`` (its *deadline*). Example: Tuesday 2026-02-24 was announced
Monday 2026-02-23 20:00 and holds ``submittedDate:[202602201900 TO 202602231900]``
(Friday 14:00 EST to Monday 14:00 EST, in GMT).

A holiday skips a listing, never a deadline's weekday: the listing after a holiday covers
the holiday's submissions too (Thursday 2025-11-27 off: Friday's listing holds Tuesday
14:00 to Thursday 14:00). Daylight saving moves the GMT hour (19:00 in winter, 18:00 in
summer); every datetime here is aware, so the shift follows from zoneinfo.

All functions are pure; ``now`` is an injectable aware datetime (default: the real clock)
and ``holidays`` an iterable of ``datetime.date``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from arxivfilter.errors import UsageError

NY = ZoneInfo("America/New_York")
ARXIV_EPOCH = date(1991, 8, 14)
DEADLINE = time(14, 0)  # submissions close at 14:00 New York time on the announcing day
ANNOUNCE = time(20, 0)  # listings go out at 20:00 New York time the evening before

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ONE_DAY = timedelta(days=1)
# Longest run of non-mailing days we accept before calling the holiday list broken.
_MAX_GAP = 366

Holidays = Iterable[date]


def parse_date(value: str) -> date:
    """Parse a strict ``YYYY-MM-DD`` (UsageError otherwise, or before arXiv existed)."""
    if not _DATE_RE.fullmatch(value or ""):
        raise UsageError(f"invalid date {value!r}: expected YYYY-MM-DD, e.g. 2026-02-24")
    try:
        d = date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"invalid date {value!r}: {exc}") from None
    if d < ARXIV_EPOCH:
        raise UsageError(f"{d} is before arXiv's first announcement ({ARXIV_EPOCH})")
    return d


def check_range(date_from: date | None, date_to: date | None) -> None:
    """``--from`` after ``--to`` is a UsageError (exit 2); either may be open."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise UsageError(f"--from {date_from} is after --to {date_to}")


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(tz=NY)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now


def ny_today(now: datetime | None = None) -> date:
    """Today's date in New York (not the machine's local date)."""
    return _now(now).astimezone(NY).date()


def check_not_future(d: date, now: datetime | None = None) -> date:
    """Return ``d``; UsageError when it is later than today in New York."""
    today = ny_today(now)
    if d > today:
        raise UsageError(f"{d} is in the future (today in New York is {today})")
    return d


def _holiday_set(holidays: Holidays) -> frozenset[date]:
    return holidays if isinstance(holidays, frozenset) else frozenset(holidays)


def is_mailing_day(d: date, holidays: Holidays = ()) -> bool:
    """True for Monday to Friday when ``d`` is not a holiday."""
    return d.weekday() < 5 and d not in _holiday_set(holidays)


def no_mailing_reason(d: date, holidays: Holidays = ()) -> str | None:
    """Why there is no listing on ``d`` ("a Saturday", "a holiday"), None on a mailing day."""
    if d.weekday() >= 5:
        return f"a {_DAY_NAMES[d.weekday()]}"
    if d in _holiday_set(holidays):
        return "a holiday"
    return None


def _step(d: date, step: timedelta, hs: frozenset[date]) -> date:
    cur = d
    for _ in range(_MAX_GAP):
        cur += step
        if is_mailing_day(cur, hs):
            return cur
    raise ValueError(f"no mailing day within {_MAX_GAP} days of {d}: check the holiday list")


def previous_mailing(d: date, holidays: Holidays = ()) -> date:
    """The last mailing day strictly before ``d``."""
    return _step(d, -_ONE_DAY, _holiday_set(holidays))


def next_mailing(d: date, holidays: Holidays = ()) -> date:
    """The first mailing day strictly after ``d``."""
    return _step(d, _ONE_DAY, _holiday_set(holidays))


def mailings_between(d1: date, d2: date, holidays: Holidays = ()) -> list[date]:
    """Every mailing day from ``d1`` to ``d2`` inclusive, in order (empty when d1 > d2)."""
    hs = _holiday_set(holidays)
    days = (d1 + timedelta(days=i) for i in range((d2 - d1).days + 1))
    return [d for d in days if is_mailing_day(d, hs)]


def latest_listing(now: datetime | None = None, holidays: Holidays = ()) -> date:
    """The newest listing whose feed is live: today in New York on a mailing day, else the one before."""
    hs = _holiday_set(holidays)
    today = ny_today(now)
    return today if is_mailing_day(today, hs) else previous_mailing(today, hs)


def listing_midnight(d: date) -> datetime:
    """00:00 America/New_York on ``d``: the timestamp every rendered output uses for listing d."""
    return datetime.combine(d, time(0, 0), tzinfo=NY)


def announced_at(d: date) -> datetime:
    """20:00 New York time on the calendar day before listing ``d`` (Sunday to Thursday)."""
    return datetime.combine(d - _ONE_DAY, ANNOUNCE, tzinfo=NY)


def _announcing_day(d: date) -> date:
    """The last weekday before ``d`` (holidays do not move it)."""
    a = d - _ONE_DAY
    while a.weekday() >= 5:
        a -= _ONE_DAY
    return a


def submission_deadline(d: date, holidays: Holidays = ()) -> datetime:
    """14:00 New York time on the last weekday before listing ``d`` (aware, in New York).

    Holidays skip listings, not deadlines' weekdays, so they leave ``d``'s own deadline
    where it is; ``holidays`` is accepted so every calendar function takes the same arguments.
    """
    del holidays
    return datetime.combine(_announcing_day(d), DEADLINE, tzinfo=NY)


def submission_window(d: date, holidays: Holidays = ()) -> tuple[datetime, datetime]:
    """(start, end] in UTC of what listing ``d`` holds: previous listing's deadline to d's.

    ValueError when ``d`` is not a mailing day (callers say "no announcement on D" first).
    """
    hs = _holiday_set(holidays)
    reason = no_mailing_reason(d, hs)
    if reason is not None:
        raise ValueError(f"no announcement on {d} ({reason})")
    start = submission_deadline(previous_mailing(d, hs))
    end = submission_deadline(d)
    return start.astimezone(UTC), end.astimezone(UTC)


def api_window_query(d: date, holidays: Holidays = ()) -> str:
    """The export API's ``submittedDate:[YYYYMMDDHHMM TO YYYYMMDDHHMM]`` (GMT) for listing ``d``."""
    start, end = submission_window(d, holidays)
    return f"submittedDate:[{start:%Y%m%d%H%M} TO {end:%Y%m%d%H%M}]"


def windows_for_range(
    d1: date, d2: date, holidays: Holidays = ()
) -> dict[date, tuple[datetime, datetime]]:
    """``submission_window`` of every mailing day from ``d1`` to ``d2`` inclusive, in order."""
    hs = _holiday_set(holidays)
    return {d: submission_window(d, hs) for d in mailings_between(d1, d2, hs)}


def listing_for_submission(ts: datetime, holidays: Holidays = ()) -> date:
    """The listing announcing a version submitted at aware ``ts``: first deadline at or after ts."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("ts must be a timezone-aware datetime")
    hs = _holiday_set(holidays)
    ts_utc = ts.astimezone(UTC)
    # Listing d's deadline lies on a day before d, so d is at least the day after ts (in NY).
    d = ts.astimezone(NY).date()
    for _ in range(_MAX_GAP):
        d += _ONE_DAY
        if is_mailing_day(d, hs) and submission_deadline(d).astimezone(UTC) >= ts_utc:
            return d
    raise ValueError(f"no mailing day within {_MAX_GAP} days of {ts}: check the holiday list")


def recent_mailings(latest: date, n: int, holidays: Holidays = ()) -> list[date]:
    """The ``n`` mailings up to and including ``latest`` (a mailing day), oldest first."""
    hs = _holiday_set(holidays)
    out = [latest]
    while len(out) < n:
        out.append(previous_mailing(out[-1], hs))
    return out[::-1]


def catch_up(window: Iterable[date], stored: Iterable[date], oldest: date | None) -> list[date]:
    """The listings of ``window`` (the mailings a run can still fetch, oldest first) that a
    run without ``--date`` fetches: every one not stored yet that is later than ``oldest``
    (the oldest stored listing: nothing before where the database starts is fetched);
    with nothing stored, only the latest (the last of ``window``)."""
    days = list(window)
    if not days:
        return []
    if oldest is None:
        return [days[-1]]
    have = set(stored)
    return [d for d in days if d > oldest and d not in have]
