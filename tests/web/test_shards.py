"""A site of several weekly shards: the first view loads the newest week only; a search, a
permalink and "Load older papers" bring older shards; a rebuild rewrites changed shards only.

The data: six weeks of a few papers each, written as export records and stored through
``run --source`` with the local scorer.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arxivfilter.cli import main
from tests.harness import files_under
from tests.web.browser import Watch, chromium

WEEKS = 6
PER_WEEK = 5
FIRST_MONDAY = dt.date(2025, 11, 3)
OLD_ID = "2511.90001"  # the oldest week's first paper: the only one about zymurgy


def _records(weeks: int = WEEKS) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    n = 0
    for w in range(weeks):
        for d in range(PER_WEEK):
            n += 1
            day = FIRST_MONDAY + dt.timedelta(weeks=w, days=d)
            title = (
                "Zymurgy-inspired batching for LLM serving"
                if n == 1
                else f"KV cache offloading for LLM inference, part {n}"
            )
            out.append(
                {
                    "schema": 1,
                    "arxiv_id": f"2511.9{n:04d}",
                    "version": 1,
                    "title": title,
                    "authors": [f"Author {n}"],
                    "abstract": f"We study LLM serving with a KV cache and speculative decoding ({n}).",
                    "categories": ["cs.DC"],
                    "primary_category": "cs.DC",
                    "comment": None,
                    "announcements": [
                        {"date": day.isoformat(), "category": "cs.DC", "type": "new"}
                    ],
                    "scores": {},
                }
            )
    return out


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _env(mp: pytest.MonkeyPatch, work: Path) -> None:
    mp.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{work / 'af.db'}")
    mp.setenv("ARXIVFILTER_DIGESTS_DIR", str(work / "digests"))
    mp.setenv("ARXIVFILTER_RAW_DIR", str(work / "raw"))
    mp.setenv("ARXIVFILTER_LOCK_FILE", str(work / "lock"))
    mp.setenv("ARXIVFILTER_SITE_DIR", str(work / "site"))
    mp.delenv("ARXIVFILTER_CONFIG", raising=False)


def _build(work: Path, weeks: int = WEEKS) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, work)
        source = _write(work / "weeks.jsonl", _records(weeks))
        assert main(["run", "--source", str(source), "--scorer", "local"]) == 0
        assert main(["site"]) == 0
    return work / "site"


def test_shards_and_the_first_view(tmp_path: Path) -> None:
    site = _build(tmp_path)
    shards = sorted(p.name for p in (site / "data" / "text").iterdir())
    assert len(shards) == WEEKS and shards[0] == "2025-11-03.js"
    page = (site / "llm-inference" / "index.html").read_text(encoding="utf-8")
    # the page's own script tags bring the manifest and the newest week only
    assert "data/text/2025-12-08.js" in page and "data/text/2025-12-01.js" not in page
    assert "data/p/llm-inference/shards.js" in page


def test_rebuild_rewrites_only_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = _build(tmp_path, weeks=WEEKS - 1)
    before = files_under(site)
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, tmp_path)
        # one more week arrives: the older shards are not rewritten
        source = _write(tmp_path / "all.jsonl", _records(WEEKS))
        assert main(["run", "--source", str(source), "--scorer", "local"]) == 0
        capsys.readouterr()
        assert main(["site", "--json"]) == 0
        written = {
            str(Path(w).relative_to(site)) for w in json.loads(capsys.readouterr().out)["written"]
        }
        assert written == {
            "data/text/2025-12-08.js",
            "data/p/llm-inference/2025-12-08.js",
            "data/p/llm-systems/2025-12-08.js",
            "data/p/llm-inference/shards.js",
            "data/p/llm-systems/shards.js",
            "data/state.json",
            "index.html",
            "llm-inference/index.html",
            "llm-systems/index.html",
        }
        after = files_under(site)
        old = [rel for rel in before if "data/text/" in str(rel) or "/2025-" in str(rel)]
        assert old and all(after[rel] == before[rel] for rel in old)
        assert len(after) > len(before)
        # a lost shard file is written again, the same bytes as a fresh build's
        lost = site / "data" / "text" / "2025-11-03.js"
        lost.unlink()
        assert main(["site"]) == 0
        assert lost.is_file()
        mp.setenv("ARXIVFILTER_SITE_DIR", str(tmp_path / "fresh"))
        assert main(["site"]) == 0
    assert files_under(tmp_path / "fresh") == files_under(site)


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


def test_a_change_to_the_build_code_rewrites_every_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arxivfilter.web import build

    site = _build(tmp_path, weeks=2)
    record = build._record

    def with_hint(part: dict[str, Any], judgement: Any) -> dict[str, Any]:
        return {**record(part, judgement), "hint": "like"}

    # a new field in the records comes with new code, hence a new code hash
    monkeypatch.setattr(build, "_record", with_hint)
    monkeypatch.setattr(build, "_CODE", "changed")
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, tmp_path)
        assert main(["site"]) == 0
    for shard in (site / "data" / "p" / "llm-inference").glob("2025-*.js"):
        assert '"hint":"like"' in shard.read_text(encoding="utf-8"), shard
