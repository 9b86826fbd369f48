"""A live run with the local scorer fetches the profiles' liked examples once, by id."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import httpx
import respx

from arxivfilter import pipeline
from arxivfilter.config import load_profiles, load_settings
from arxivfilter.fetch.http import Limiter
from arxivfilter.models import Entry
from arxivfilter.score.learned import profile_example_ids
from tests.fakes import FakeClock, api_feed, rss_feed

NOON = dt.datetime(2024, 11, 28, 17, 0, tzinfo=dt.UTC)
RSS = "https://rss.arxiv.org/rss/cs.DC+cs.OS+cs.LG"
API = "https://export.arxiv.org/api/query"


def test_examples_are_fetched_once_and_then_cached() -> None:
    """First live run: one request for the liked examples; later runs ask nothing more."""
    examples = sorted(profile_example_ids(load_profiles(["llm-systems"])[0]))
    assert examples
    listing = [("2411.00001", "new", ["cs.DC"]), ("2411.00002", "new", ["cs.LG"])]
    asked: list[list[str]] = []

    def api(request: httpx.Request) -> httpx.Response:
        ids = parse_qs(urlsplit(str(request.url)).query)["id_list"][0].split(",")
        asked.append(ids)
        entries = [
            Entry(
                arxiv_id=i,
                version=1,
                title=f"Serving large language models {i}",
                abstract="KV cache management and batching for LLM inference on GPUs.",
                categories=["cs.DC"],
            )
            for i in ids
        ]
        return httpx.Response(200, content=api_feed(entries))

    def app() -> pipeline.App:
        clock = FakeClock()
        return pipeline.App(
            load_settings(env={}),
            now=lambda: NOON,
            arxiv_http=httpx.Client(),
            limiter=Limiter(3.0, clock=clock.clock, sleep=clock.sleep),
        )

    opts = pipeline.Options(
        categories=["cs.DC", "cs.OS", "cs.LG"], scorer="local", profiles=["llm-systems"]
    )
    with respx.mock as router:
        router.get(RSS).mock(
            return_value=httpx.Response(200, content=rss_feed(listing, NOON.date()))
        )
        router.get(url__startswith=API).mock(side_effect=api)
        first = pipeline.run(app(), opts)
        example_requests = [ids for ids in asked if set(ids) <= set(examples)]
        assert len(example_requests) == 1 and sorted(example_requests[0]) == examples
        second = pipeline.run(app(), opts)
    assert first.exit_code == 0 and second.exit_code == 0
    assert second.fetch.requests == 0  # the day is archived, the examples are stored
    assert len([ids for ids in asked if set(ids) <= set(examples)]) == 1
    assert second.score.cached == 2
