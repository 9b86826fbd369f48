"""The built site in a real browser (Debian's chromium through Playwright), from file://.

Few tests, one browser and one demo build per module: the recorded demo day through
``run --source`` with the local scorer, then ``arxivfilter site``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from arxivfilter.cli import main
from tests.web.browser import Watch, chromium

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "2025-12-16.jsonl"
HOSTILE = ROOT / "tests" / "fixtures" / "site" / "hostile.jsonl"

pytestmark = pytest.mark.slow
expect = pytest.importorskip("playwright.sync_api").expect


def _build(work: Path, source: Path) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{work / 'af.db'}")
        mp.setenv("ARXIVFILTER_DIGESTS_DIR", str(work / "digests"))
        mp.setenv("ARXIVFILTER_RAW_DIR", str(work / "raw"))
        mp.setenv("ARXIVFILTER_LOCK_FILE", str(work / "lock"))
        mp.setenv("ARXIVFILTER_SITE_DIR", str(work / "site"))
        mp.delenv("ARXIVFILTER_CONFIG", raising=False)
        assert main(["run", "--source", str(source), "--scorer", "local"]) == 0
        assert main(["site"]) == 0
    return work / "site"


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("demo"), DEMO)


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("hostile"), HOSTILE)


@pytest.fixture(scope="module")
def browser(demo_site: Path, hostile_site: Path) -> Iterator[Any]:
    # the sites are built first: Playwright's sync API holds an event loop while it runs,
    # and ``run`` starts its own
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened: list[str] = []

    def offline(route: Any) -> None:  # no network: record where the page tried to go
        opened.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="offline")

    context.route("http://*/**", offline)
    context.route("https://*/**", offline)
    pg = context.new_page()
    pg.opened = opened
    yield pg
    context.close()


def _titles(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#results article h2").all_text_contents()]


def _query(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_search_filter_url_and_keyboard(demo_site: Path, page: Any, tmp_path: Path) -> None:
    watch = Watch(page)
    page.goto((demo_site / "llm-inference" / "index.html").as_uri())
    page.wait_for_selector("#results article")
    assert page.locator("#status").text_content() == "300 papers"

    # type a query: the list narrows and the URL carries it
    page.locator("#q").fill("cache")
    expect(page.locator("#status")).to_contain_text("match")
    after_query = page.locator("#results article").count()
    assert 0 < after_query < 300
    assert _query(page)["q"] == ["cache"]

    # a tag filter on top: every visible paper carries the tag
    page.locator("#tag").select_option("kv-cache")
    expect(page).to_have_url(re.compile(r"[?&]tag=kv-cache(&|$)"))
    cards = page.locator("#results article")
    n = cards.count()
    assert 0 < n <= after_query
    for i in range(n):
        assert "kv-cache" in cards.nth(i).locator(".tag").all_text_contents()
    titles = _titles(page)
    status = page.locator("#status").text_content()
    assert status == f"{n} of 300 papers match"

    # the URL is the view: opening it again restores the same list
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    page.wait_for_selector("#results article")
    assert page.locator("#q").input_value() == "cache"
    assert page.locator("#tag").input_value() == "kv-cache"
    assert _titles(page) == titles

    # keyboard: j/k move, / searches, o opens the current paper on arXiv
    page.locator("body").press("j")
    first = page.locator("#results article").nth(0)
    assert page.evaluate("document.activeElement.id") == first.get_attribute("id")
    if n > 1:
        page.keyboard.press("j")
        second_id = page.locator("#results article").nth(1).get_attribute("id")
        assert page.evaluate("document.activeElement.id") == second_id
        page.keyboard.press("k")
    assert page.evaluate("document.activeElement.id") == first.get_attribute("id")
    assert "current" in (first.get_attribute("class") or "")
    page.screenshot(path=str(tmp_path / "search-kv-cache.png"), full_page=False)
    assert (tmp_path / "search-kv-cache.png").stat().st_size > 1000
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.keyboard.press("Escape")
    page.keyboard.press("j")  # the search box left, j walks on from where the cursor was
    target = page.evaluate("document.activeElement.id")
    assert target == page.locator("#results article.current").get_attribute("id")
    with page.expect_navigation():
        page.keyboard.press("o")
    assert page.url == f"https://arxiv.org/abs/{target}"
    assert watch.errors == [] and watch.dialogs == []


def test_index_profile_filter_sort_permalink_phone_dark(
    demo_site: Path, page: Any, tmp_path: Path
) -> None:
    watch = Watch(page)
    index = (demo_site / "index.html").as_uri()
    page.goto(index + "?profile=llm-systems&min=40&sort=date")
    page.wait_for_selector("#results article")
    cards = page.locator("#results article")
    assert cards.count() > 0
    assert set(cards.locator(".prof").all_text_contents()) == {"llm-systems"}
    rel = [int(t.split()[-1]) for t in cards.locator(".rel").all_text_contents()]
    assert min(rel) >= 40
    # every form control has a label
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('#filters input, #filters select')]"
        ".filter(e => !e.labels || e.labels.length === 0).map(e => e.id)"
    )
    assert unlabelled == []

    # a permalink to a paper far down the list renders it and moves focus there
    page.goto((demo_site / "llm-inference" / "index.html").as_uri())
    page.wait_for_selector("#results article")
    last_id = page.evaluate(
        "(() => { const d = arxivfilterSite.ids(); return d[d.length - 1]; })()"
    )
    page.goto((demo_site / "llm-inference" / "index.html").as_uri() + "#" + last_id)
    expect(page.locator(f"article[id={last_id!r}]")).to_be_focused()

    # phone width: nothing wider than the screen; dark scheme: a dark background
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(index)
    page.wait_for_selector("#results article")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.emulate_media(color_scheme="dark")
    bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(18, 19, 23)"
    page.screenshot(path=str(tmp_path / "phone-dark.png"))
    assert watch.errors == [] and watch.dialogs == []


def test_hostile_text_renders_as_text_and_runs_nothing(
    tmp_path: Path, browser: Any, hostile_site: Path
) -> None:
    site = hostile_site
    context = browser.new_context()
    opened: list[str] = []
    context.route("**/*", lambda route: (opened.append(route.request.url), route.continue_()))
    page = context.new_page()
    watch = Watch(page)
    page.goto((site / "llm-inference" / "index.html").as_uri() + "?q=onerror")
    page.wait_for_selector("#results article")
    titles = _titles(page)
    assert titles == [
        "<img src=x onerror=alert('title')> KV cache </script><script>alert('script')</script>"
    ]
    page.locator("#q").fill("")
    expect(page.locator("#status")).to_have_text("2 papers")
    page.locator("#results details").first.click()
    results = page.locator("#results")
    assert results.locator("img, svg, iframe, script, b").count() == 0
    assert (
        page.evaluate(
            "[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
            ".some(a => a.name.startsWith('on'))).length"
        )
        == 0
    )
    hrefs = results.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith(("https://arxiv.org/", "#")) for h in hrefs)
    assert "\"><svg onload=alert('author')>" in (results.text_content() or "")
    # the CSP refuses an inline script even if one were injected
    page.evaluate(
        "(() => { const s = document.createElement('script'); s.textContent = 'alert(1)';"
        " document.body.appendChild(s); })()"
    )
    page.wait_for_timeout(100)
    assert watch.dialogs == []
    assert any("Content Security Policy" in e for e in watch.errors)
    assert all("Content Security Policy" in e for e in watch.errors)
    assert all(u.startswith("file://") for u in opened)
    page.screenshot(path=str(tmp_path / "hostile.png"))
    context.close()
