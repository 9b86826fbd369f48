"""Live fetch of the latest listing against respx: RSS, fill by id, archive, politeness, faults."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest
import respx

from arxivfilter import pipeline
from arxivfilter.config import load_settings
from arxivfilter.errors import UpstreamError
from arxivfilter.fetch.http import Limiter
from arxivfilter.fetch.rss import parse_rss
from tests.fakes import FakeClock, api_responder, rss_feed

NY_NOON_THANKSGIVING = dt.datetime(2024, 11, 28, 17, 0, tzinfo=dt.UTC)  # 12:00 in New York
RSS = "https://rss.arxiv.org/rss/cs.DC+cs.OS+cs.LG"
API = "https://export.arxiv.org/api/query"
LISTING = dt.date(2024, 11, 28)


def make_app(clock: FakeClock, now: dt.datetime = NY_NOON_THANKSGIVING) -> pipeline.App:
    settings = load_settings(env={})
    return pipeline.App(
        settings,
        now=lambda: now,
        arxiv_http=httpx.Client(),
        limiter=Limiter(3.0, clock=clock.clock, sleep=clock.sleep),
    )


def fetch(app: pipeline.App, **kw: object) -> pipeline.RunSummary:
    opts = pipeline.Options(categories=["cs.DC", "cs.OS", "cs.LG"], **kw)  # type: ignore[arg-type]
    return pipeline.run(app, opts, command="fetch", stages=("fetch",))


@pytest.fixture
def cs_feed(samples: Path) -> bytes:
    return (samples / "B_rss_feeds/aioarxiv_rss_2024-11-28/rss_mock_feed.cs_only.xml").read_bytes()


@pytest.fixture
def mocked(cs_feed: bytes):
    listing = parse_rss(cs_feed, RSS)
    known = {e.arxiv_id: e for e in listing.entries}
    with respx.mock(assert_all_called=False) as router:
        router.get(RSS).mock(return_value=httpx.Response(200, content=cs_feed))
        router.get(url__startswith=API).mock(side_effect=api_responder(known))
        yield router, listing


def test_latest_listing_from_rss_filled_by_id(mocked) -> None:
    """One RSS request, then the export API in batches of 200; papers of the configured categories stored."""
    router, listing = mocked
    clock = FakeClock()
    summary = fetch(make_app(clock))
    wanted = [e for e in listing.entries if {"cs.DC", "cs.OS", "cs.LG"} & set(e.categories)]
    ids = {e.arxiv_id for e in listing.entries}
    expected_requests = 1 + -(-len(ids) // 200)
    assert summary.fetch.papers == len(wanted) > 100
    assert summary.fetch.requests == expected_requests
    assert summary.fetch.dates == [LISTING]
    assert set(summary.fetch.by_type) <= {"new", "cross", "replace", "replace-cross"}
    # politeness: every request after the first waited for the 3 s gap
    assert clock.sleeps and all(s <= 3.0 for s in clock.sleeps)
    assert sum(clock.sleeps) == pytest.approx(3.0 * (expected_requests - 1))
    assert summary.fetch.waited_s == pytest.approx(sum(clock.sleeps))
    archived = sorted(Path("data/raw/2024-11-28").glob("*.json"))
    assert len(archived) == expected_requests + 1  # + complete.json
    record = json.loads(archived[0].read_text())
    assert {"url", "status_code", "headers", "fetched_at", "body"} <= set(
        record
    ) or "categories" in record


def test_archived_day_refetches_with_zero_requests(mocked) -> None:
    """With the day archived, a re-fetch asks nothing; --refresh asks again."""
    router, _ = mocked
    first = fetch(make_app(FakeClock()))
    calls = router.calls.call_count
    again = fetch(make_app(FakeClock()))
    assert router.calls.call_count == calls and again.fetch.requests == 0
    assert again.fetch.papers == first.fetch.papers and again.fetch.new_rows == 0
    refreshed = fetch(make_app(FakeClock()), refresh=True)
    assert refreshed.fetch.requests == first.fetch.requests


def test_retry_after_is_honoured(cs_feed: bytes) -> None:
    """A 503 with Retry-After is retried after exactly that wait, then succeeds."""
    clock = FakeClock()
    listing = parse_rss(cs_feed, RSS)
    with respx.mock(assert_all_called=False) as router:
        router.get(RSS).mock(
            side_effect=[
                httpx.Response(503, headers={"Retry-After": "17"}),
                httpx.Response(200, content=cs_feed),
            ]
        )
        router.get(url__startswith=API).mock(
            side_effect=api_responder({e.arxiv_id: e for e in listing.entries})
        )
        summary = fetch(make_app(clock))
    assert 17.0 in clock.sleeps
    assert summary.fetch.papers > 0


def test_503_without_retry_after_waits_at_least_30s() -> None:
    """A bare 503 is retried after the default wait (30 s or more)."""
    clock = FakeClock()
    feed = rss_feed([("2411.00001", "new", ["cs.DC"])], LISTING)
    from arxivfilter.models import Entry

    known = {
        "2411.00001": Entry(
            arxiv_id="2411.00001", version=1, title="T", abstract="A", categories=["cs.DC"]
        )
    }
    with respx.mock(assert_all_called=False) as router:
        router.get(RSS).mock(side_effect=[httpx.Response(503), httpx.Response(200, content=feed)])
        router.get(url__startswith=API).mock(side_effect=api_responder(known))
        fetch(make_app(clock))
    assert max(clock.sleeps) >= 30.0


def test_403_stops_at_once_with_exit_3() -> None:
    """arXiv blocked the client: one request, no retries, exit code 3."""
    clock = FakeClock()
    with respx.mock as router:
        route = router.get(RSS).mock(return_value=httpx.Response(403))
        with pytest.raises(UpstreamError) as info:
            fetch(make_app(clock))
    assert route.call_count == 1 and info.value.exit_code == 3
    assert "403" in str(info.value)


def test_empty_feed_on_a_weekday_is_an_outage(samples: Path) -> None:
    """An empty feed on a mailing day that is no known holiday is exit 3, not zero papers."""
    empty = (samples / "B_rss_feeds/aioarxiv_rss_2024-11-28/empty_rss_mock_feed.xml").read_bytes()
    with respx.mock as router:
        router.get(RSS).mock(return_value=httpx.Response(200, content=empty))
        with pytest.raises(UpstreamError, match="outage"):
            fetch(make_app(FakeClock()))


def test_feed_not_rebuilt_yet_is_not_taken_for_the_new_day(cs_feed: bytes) -> None:
    """Just after midnight the feed still holds yesterday's listing: an error, never a wrong date."""
    friday_early = dt.datetime(2024, 11, 29, 5, 10, tzinfo=dt.UTC)  # 00:10 in New York
    with respx.mock as router:
        router.get(RSS).mock(return_value=httpx.Response(200, content=cs_feed))
        with pytest.raises(UpstreamError, match="still holds the listing of 2024-11-28"):
            fetch(make_app(FakeClock(), now=friday_early))


def test_weekend_date_is_no_announcement_and_no_request() -> None:
    """--date on a Saturday: 'no announcement', nothing stored, exit 0, no request."""
    with respx.mock as router:
        summary = fetch(make_app(FakeClock()), date=dt.date(2024, 11, 23))
        assert router.calls.call_count == 0
    assert summary.exit_code == 0 and summary.fetch.papers == 0
    assert any("no announcement on 2024-11-23 (a Saturday)" in n for n in summary.fetch.notes)


def test_capped_feed_is_fetched_per_category_and_merged() -> None:
    """A feed of exactly 2,000 items is fetched again per category and merged without duplicates."""
    cap = [(f"2411.{i:05d}", "new", ["cs.LG"]) for i in range(2000)]
    dc = [(f"2411.{i:05d}", "new", ["cs.DC"]) for i in range(2000, 2010)] + [
        ("2411.00001", "cross", ["cs.LG", "cs.DC"])
    ]
    from arxivfilter.models import Entry

    known = {
        f"2411.{i:05d}": Entry(
            arxiv_id=f"2411.{i:05d}",
            version=1,
            title="T",
            abstract="A",
            categories=["cs.DC"] if i >= 2000 else ["cs.LG"],
        )
        for i in range(2010)
    }
    base = "https://rss.arxiv.org/rss/"
    with respx.mock(assert_all_called=False) as router:
        router.get(RSS).mock(return_value=httpx.Response(200, content=rss_feed(cap, LISTING)))
        router.get(base + "cs.LG").mock(
            return_value=httpx.Response(200, content=rss_feed(cap, LISTING))
        )
        router.get(base + "cs.DC").mock(
            return_value=httpx.Response(200, content=rss_feed(dc, LISTING))
        )
        router.get(base + "cs.OS").mock(
            return_value=httpx.Response(200, content=rss_feed([], LISTING))
        )
        router.get(url__startswith=API).mock(side_effect=api_responder(known))
        summary = fetch(make_app(FakeClock()))
    assert summary.fetch.papers == 2010
