"""A site of several weekly shards in chromium: the first view loads the newest week only; a
search, a permalink and "Load older papers" bring older shards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.browser import Watch, chromium
from tests.web.test_shards_build import OLD_ID, PER_WEEK, WEEKS, _build

# ------------------------------------------------------------------ in the browser

expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(scope="module")
def weeks_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("weeks"))


@pytest.fixture(scope="module")
def browser(weeks_site: Path) -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


def _loaded(page: Any) -> list[int]:
    done, total = page.evaluate("arxivfilterSite.shards()")
    return [done, total]


@pytest.mark.slow
def test_search_finds_a_paper_in_a_shard_not_loaded_yet(weeks_site: Path, page: Any) -> None:
    watch = Watch(page)
    total = WEEKS * PER_WEEK
    page.goto((weeks_site / "llm-inference" / "index.html").as_uri())
    page.wait_for_selector("#results article")
    assert _loaded(page) == [1, WEEKS]
    assert OLD_ID not in page.evaluate("arxivfilterSite.ids()")
    expect(page.locator("#status")).to_have_text(
        f"{PER_WEEK} papers from 2025-12-08 on ({total} in all)"
    )
    page.locator("#q").fill("zymurgy")
    expect(page.locator("#status")).to_have_text(f"1 of {total} papers match")
    assert [a.get_attribute("id") for a in page.locator("#results article").all()] == [OLD_ID]
    assert _loaded(page) == [WEEKS, WEEKS]
    # the view is in the URL: opening it again finds the old paper again
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    expect(page.locator("#status")).to_have_text(f"1 of {total} papers match")
    assert watch.errors == [] and watch.dialogs == []


@pytest.mark.slow
def test_permalink_to_an_old_paper_loads_its_shard_only(weeks_site: Path, page: Any) -> None:
    watch = Watch(page)
    page.goto((weeks_site / "llm-inference" / "index.html").as_uri() + "#" + OLD_ID)
    expect(page.locator(f"article[id={OLD_ID!r}]")).to_be_focused()
    assert _loaded(page) == [2, WEEKS]  # the newest week and the paper's own
    # the index page's permalinks name the profile too
    page.goto((weeks_site / "index.html").as_uri() + f"#llm-systems:{OLD_ID}")
    expect(page.locator(f"article[id='llm-systems:{OLD_ID}']")).to_be_focused()
    assert watch.errors == [] and watch.dialogs == []


@pytest.mark.slow
def test_load_older_papers_a_date_range_and_a_filter_over_every_week(
    weeks_site: Path, page: Any
) -> None:
    watch = Watch(page)
    total = WEEKS * PER_WEEK
    page.goto((weeks_site / "llm-inference" / "index.html").as_uri())
    page.wait_for_selector("#results article")
    more = page.locator("#more")
    expect(more).to_have_text("Load older papers")
    more.click()
    expect(page.locator("#status")).to_have_text(
        f"{2 * PER_WEEK} papers from 2025-12-01 on ({total} in all)"
    )
    assert page.locator("#results article").count() == 2 * PER_WEEK
    # a date range loads only the weeks it covers
    page.goto(
        (weeks_site / "llm-inference" / "index.html").as_uri() + "?from=2025-11-10&to=2025-11-14"
    )
    expect(page.locator("#status")).to_contain_text(f"{PER_WEEK} of ")
    assert page.locator("#results article").count() == PER_WEEK
    assert _loaded(page)[0] == 2
    # a minimum relevance looks through every week
    page.goto((weeks_site / "llm-inference" / "index.html").as_uri() + "?min=0")
    expect(page.locator("#status")).to_have_text(f"{total} papers")
    assert _loaded(page) == [WEEKS, WEEKS]
    assert watch.errors == [] and watch.dialogs == []
