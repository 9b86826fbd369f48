"""Past days and ranges from live arXiv (respx): which source when, pastweek, API windows, OAI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from arxivfilter import pipeline
from arxivfilter.config import load_settings
from arxivfilter.errors import UpstreamError
from arxivfilter.fetch.http import Limiter
from arxivfilter.fetch.listing import parse_listing
from arxivfilter.fetch.past import set_spec
from arxivfilter.fetch.stage import choose_source
from arxivfilter.models import Entry
from tests.fakes import FakeClock, api_feed, api_responder

NY_FRIDAY_NOON = dt.datetime(2026, 1, 16, 17, 0, tzinfo=dt.UTC)
LISTING = "https://export.arxiv.org/list/cs.DC/pastweek"
API = "https://export.arxiv.org/api/query"
OAI = "https://oaipmh.arxiv.org/oai"


def make_app(clock: FakeClock, now: dt.datetime = NY_FRIDAY_NOON) -> pipeline.App:
    return pipeline.App(
        load_settings(env={}),
        now=lambda: now,
        arxiv_http=httpx.Client(),
        limiter=Limiter(3.0, clock=clock.clock, sleep=clock.sleep),
    )


def fetch(app: pipeline.App, **kw: object) -> pipeline.RunSummary:
    opts = pipeline.Options(categories=["cs.DC"], **kw)  # type: ignore[arg-type]
    return pipeline.run(app, opts, command="fetch", stages=("fetch",))


def test_source_rule_by_age() -> None:
    """RSS for the latest listing, pastweek for the four before, the API window before that."""
    holidays: set[dt.date] = set()
    now = NY_FRIDAY_NOON
    assert choose_source(dt.date(2026, 1, 16), now, holidays)[0] == "rss"
    assert choose_source(dt.date(2026, 1, 12), now, holidays)[0] == "pastweek"
    assert choose_source(dt.date(2026, 1, 9), now, holidays)[0] == "api-window"
    assert set_spec("cs.DC") == "cs:cs:DC"


def test_one_window_of_listings_behind_every_source_choice() -> None:
    """The latest listing is computed once (``fetch.stage.listings``): the window of the
    five mailings the pastweek pages hold ends with it, holidays skipped, and the source
    rule reads the same window (#20: it was computed in five places)."""
    from arxivfilter import dates
    from arxivfilter.fetch.stage import listings

    holidays = {dt.date(2026, 1, 15)}  # a Thursday with no mailing
    window = listings(NY_FRIDAY_NOON, holidays)
    assert window[-1] == dates.latest_listing(NY_FRIDAY_NOON, holidays) == dt.date(2026, 1, 16)
    assert window == [
        dt.date(2026, 1, 9),
        dt.date(2026, 1, 12),
        dt.date(2026, 1, 13),
        dt.date(2026, 1, 14),
        dt.date(2026, 1, 16),
    ]
    assert [choose_source(d, NY_FRIDAY_NOON, holidays)[0] for d in window] == [
        "pastweek",
        "pastweek",
        "pastweek",
        "pastweek",
        "rss",
    ]
    assert choose_source(dt.date(2026, 1, 8), NY_FRIDAY_NOON, holidays)[0] == "api-window"


def _known_from_listing(fixtures: Path) -> dict[str, Entry]:
    page = parse_listing((fixtures / "listing" / "cs.DC_pastweek_show2000.html").read_bytes())
    return {
        item.arxiv_id: Entry(
            arxiv_id=item.arxiv_id,
            version=1,
            title=item.title or "T",
            abstract="A",
            categories=item.categories or ["cs.DC"],
            primary_category=item.primary_category,
        )
        for item in page.items
    }


def test_pastweek_day_with_paging(fixtures: Path) -> None:
    """A past day from two pastweek pages (skip), then metadata by id; exact dates, new + cross."""
    page1 = (fixtures / "listing" / "cs.DC_pastweek_show25_skip0.html").read_bytes()
    page2 = (fixtures / "listing" / "cs.DC_pastweek_show25_skip25.html").read_bytes()
    full = parse_listing((fixtures / "listing" / "cs.DC_pastweek_show2000.html").read_bytes())
    wednesday = dt.date(2026, 1, 14)
    expected = {i.arxiv_id for i in full.days[wednesday]}

    def listing(request: httpx.Request) -> httpx.Response:
        skip = int(parse_qs(urlsplit(str(request.url)).query).get("skip", ["0"])[0])
        # the server shows 25 per page here whatever show= asks, like a capped listing
        return httpx.Response(200, content=page1 if skip == 0 else page2)

    with respx.mock(assert_all_called=False) as router:
        router.get(url__startswith=LISTING).mock(side_effect=listing)
        router.get(url__startswith=API).mock(
            side_effect=api_responder(_known_from_listing(fixtures))
        )
        summary = fetch(make_app(FakeClock()), date=wednesday)
    assert summary.fetch.papers == len(expected) > 0
    assert any("pastweek" in s for s in summary.fetch.sources)


def test_old_day_uses_the_submission_window() -> None:
    """An older day asks the export API for its submittedDate window; rows are marked approximate."""
    seen: list[str] = []
    entry = Entry(arxiv_id="2601.00042", version=1, title="T", abstract="A", categories=["cs.DC"])

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(parse_qs(urlsplit(str(request.url)).query)["search_query"][0])
        return httpx.Response(200, content=api_feed([entry]))

    with respx.mock as router:
        router.get(url__startswith=API).mock(side_effect=api)
        summary = fetch(make_app(FakeClock()), date=dt.date(2026, 1, 6))
    assert summary.fetch.papers == 1
    # Tuesday 2026-01-06: Friday 14:00 EST -> Monday 14:00 EST
    assert seen == ["(cat:cs.DC) AND submittedDate:[202601021900 TO 202601051900]"]
    from arxivfilter import export, store

    app = make_app(FakeClock())
    with app.session() as session:
        rec = export.paper_record(session, "2601.00042", detailed=True)
        assert store.newest_announcement(session) == dt.date(2026, 1, 6)
    assert rec is not None and rec["announcements"][0]["approximate"] is True


def _oai_router(
    router: respx.MockRouter, fixtures: Path, *, fail_second: bool = False
) -> respx.Route:
    pages = {
        None: (fixtures / "oai" / "chain_1.xml").read_bytes(),
        "7091883|1001": (fixtures / "oai" / "chain_2.xml").read_bytes(),
        "7091883|2001": (fixtures / "oai" / "chain_3.xml").read_bytes(),
    }

    def oai(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        token = query.get("resumptionToken", [None])[0]
        if token is None:
            assert query["set"] == ["cs:cs:DC"] and query["metadataPrefix"] == ["arXivRaw"]
            assert "until" not in query
        if fail_second and token == "7091883|1001":
            return httpx.Response(503)
        return httpx.Response(200, content=pages[token])

    return router.get(url__startswith=OAI).mock(side_effect=oai)


def test_range_harvest_follows_tokens_and_maps_versions(fixtures: Path) -> None:
    """--from/--to harvests the set from D1 without until, following tokens; rows are derived."""
    with respx.mock as router:
        route = _oai_router(router, fixtures)
        summary = fetch(
            make_app(FakeClock()), date_from=dt.date(2026, 1, 12), date_to=dt.date(2026, 1, 16)
        )
    assert route.call_count == 3
    assert summary.fetch.papers > 0
    assert all(dt.date(2026, 1, 12) <= d <= dt.date(2026, 1, 16) for d in summary.fetch.dates)


def test_interrupted_harvest_resumes_without_asking_again(fixtures: Path) -> None:
    """A harvest cut by an outage resumes from its token: archived pages are not asked for again."""
    app_settings = {"date_from": dt.date(2026, 1, 12), "date_to": dt.date(2026, 1, 16)}
    with respx.mock as router:
        _oai_router(router, fixtures, fail_second=True)
        with pytest.raises(UpstreamError):
            fetch(make_app(FakeClock()), **app_settings)
    with respx.mock as router:
        route = _oai_router(router, fixtures)
        summary = fetch(make_app(FakeClock()), **app_settings)
    assert route.call_count == 2  # pages 2 and 3 only
    with respx.mock as router:
        route = _oai_router(router, fixtures)
        again = fetch(make_app(FakeClock()), **app_settings)
    assert route.call_count == 0
    assert again.fetch.papers == summary.fetch.papers


@pytest.mark.parametrize("damaged", ["page", "progress-json", "progress-shape"])
def test_corrupt_archived_page_harvests_the_set_again(fixtures: Path, damaged: str) -> None:
    """A damaged archived OAI page or progress file (disk trouble, a hand edit) is a warning
    and a fresh harvest of that set, never a traceback or a silently short range."""
    app_settings = {"date_from": dt.date(2026, 1, 12), "date_to": dt.date(2026, 1, 16)}
    with respx.mock as router:
        _oai_router(router, fixtures)
        whole = fetch(make_app(FakeClock()), **app_settings)
    (progress,) = Path("data/raw").glob("oai-*/*/progress.json")
    pages = sorted(p for p in progress.parent.glob("*.json") if p.name != "progress.json")
    if damaged == "page":
        pages[0].write_text('{"url": "x", "status_code": 200, "bo', encoding="utf-8")
    elif damaged == "progress-json":
        progress.write_text("{not json", encoding="utf-8")
    else:
        progress.write_text('{"pages": 5, "token": null, "done": true}', encoding="utf-8")
    with respx.mock as router:
        route = _oai_router(router, fixtures)
        again = fetch(make_app(FakeClock()), **app_settings)
    assert route.call_count == 3  # the whole set again
    assert again.fetch.papers == whole.fetch.papers
    with respx.mock as router:
        route = _oai_router(router, fixtures)
        fetch(make_app(FakeClock()), **app_settings)
    assert route.call_count == 0


def test_real_arxivraw_page_through_the_harvest(samples: Path, fixtures: Path) -> None:
    """The real 387-record arXivRaw page, then an end page: versions mapped to mailings in the range."""
    real = (samples / "C_oai_pmh/arxiv-oai-harvester_arXivRaw_2016/ListRecords.xml").read_bytes()
    last = (fixtures / "oai" / "chain_3.xml").read_bytes()

    def oai(request: httpx.Request) -> httpx.Response:
        token = parse_qs(urlsplit(str(request.url)).query).get("resumptionToken", [None])[0]
        return httpx.Response(200, content=real if token is None else last)

    with respx.mock as router:
        route = router.get(url__startswith=OAI).mock(side_effect=oai)
        summary = fetch(
            make_app(FakeClock(), now=dt.datetime(2016, 10, 21, 17, 0, tzinfo=dt.UTC)),
            date_from=dt.date(2016, 10, 17),
            date_to=dt.date(2016, 10, 21),
        )
    assert route.call_count == 2
    assert summary.fetch.papers > 0
    assert set(summary.fetch.by_type) <= {"new", "cross", "replace", "replace-cross"}
    assert all(dt.date(2016, 10, 17) <= d <= dt.date(2016, 10, 21) for d in summary.fetch.dates)
