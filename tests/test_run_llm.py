"""The whole run over a recorded day, live fetch path and LLM both mocked with respx.

arXiv serves the real rss.arxiv.org capture of 2024-11-28 (trimmed to 60 items of the
configured categories, text unchanged) and the export API answers by id; the LLM is
:class:`tests.harness.FakeLlm`, whose judgement of a paper depends on its id only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import httpx
import pytest
import respx

from arxivfilter import app as composition
from arxivfilter import pipeline
from arxivfilter.config import load_profiles
from arxivfilter.fetch.rss import parse_rss
from arxivfilter.report.escape import escape_md
from tests.fakes import api_responder
from tests.harness import (
    LLM_CHAT,
    FakeLlm,
    api_error,
    completion,
    db_path,
    dump_tables,
    files_under,
    hype_of,
    integrity,
    llm_settings,
    make_app,
    relevance_of,
)

NOW = dt.datetime(2024, 11, 28, 17, 0, tzinfo=dt.UTC)  # 12:00 in New York
DAY = dt.date(2024, 11, 28)
CATS = ["cs.DC", "cs.OS", "cs.LG"]
RSS = "https://rss.arxiv.org/rss/cs.DC+cs.OS+cs.LG"
API = "https://export.arxiv.org/api/query"
ITEMS = 60  # about a quarter of the day's 232 papers
_ITEM = re.compile(rb"<item>.*?</item>\s*", re.DOTALL)
_MD_SPECIAL = re.compile(r"[$_*\[\]<>|`\\]")


def trimmed_feed(feed: bytes, every: int = 4) -> bytes:
    """The channel with every ``every``-th item that carries a configured category, plus each
    such item that is a cross-list or whose title holds Markdown-special characters (the
    items' text unchanged)."""
    items = list(_ITEM.finditer(feed))
    in_scope = [
        m.group(0)
        for m in items
        if {c.decode() for c in re.findall(rb"<category>([^<]+)</category>", m.group(0))}
        & set(CATS)
    ]
    chosen = []
    for n, block in enumerate(in_scope):
        title = re.search(rb"<title>(.*?)</title>", block, re.DOTALL)
        special = bool(title and _MD_SPECIAL.search(title.group(1).decode()))
        cross = b"<arxiv:announce_type>cross<" in block
        if special or cross or n % every == 0:
            chosen.append(block)
    head = feed[: items[0].start()]
    tail = feed[items[-1].end() :]
    return head + b"".join(chosen) + tail


@pytest.fixture(scope="module")
def day_feed(samples: Path) -> bytes:
    """The trimmed real feed of 2024-11-28."""
    path = samples / "B_rss_feeds/aioarxiv_rss_2024-11-28/rss_mock_feed.cs_only.xml"
    return trimmed_feed(path.read_bytes())


class Day:
    """The mocked world of one test: arXiv routes, the fake LLM, the recorded listing."""

    def __init__(self, router: respx.Router, feed: bytes, llm: FakeLlm) -> None:
        self.router = router
        self.listing = parse_rss(feed, RSS)
        self.llm = llm
        self.rss = router.get(RSS).mock(return_value=httpx.Response(200, content=feed))
        known = {e.arxiv_id: e for e in self.listing.entries}
        self.api = router.get(url__startswith=API).mock(side_effect=api_responder(known))
        self.chat = router.post(LLM_CHAT).mock(side_effect=self.llm)

    @property
    def ids(self) -> list[str]:
        return sorted(e.arxiv_id for e in self.listing.entries)

    def title(self, arxiv_id: str) -> str:
        return next(e.title for e in self.listing.entries if e.arxiv_id == arxiv_id)

    def arxiv_calls(self) -> int:
        return self.rss.call_count + self.api.call_count

    def run(self, **opts: object) -> pipeline.RunSummary:
        app = make_app(llm_settings(), now=NOW)
        try:
            return pipeline.run(app, pipeline.Options(categories=CATS, **opts))  # type: ignore[arg-type]
        finally:
            app.close()


@pytest.fixture
def world(day_feed: bytes) -> Iterator[Day]:
    with respx.mock(assert_all_called=False) as router:
        yield Day(router, day_feed, FakeLlm(tags=("serving",)))


def prose(_request: httpx.Request, _pid: str) -> httpx.Response:
    return completion("I think this paper is quite relevant to the profile.")


def digest(profile: str) -> str:
    return Path(f"digests/{profile}/2024/2024-11-28.md").read_text(encoding="utf-8")


def entries_of(md: str) -> list[tuple[int, int, str, str]]:
    """(relevance, hype, arxiv_id, heading) of each listed entry, in digest order."""
    out = []
    for block in md.split("\n---\n")[1:]:
        head = re.search(r"^### (.*)$", block, re.MULTILINE)
        score = re.search(r"\*\*Relevance: (\d+)/100 \| Hype: (\d+)/100\*\*", block)
        link = re.search(r"\[abstract\]\(https://arxiv\.org/abs/([\d.]+)", block)
        if head and score and link:
            out.append((int(score.group(1)), int(score.group(2)), link.group(1), head.group(1)))
    return out


def test_whole_day_counts_order_escaping_and_failures(world: Day) -> None:
    """Counts line, one entry per paper in relevance/hype/id order, escaped titles, failed section."""
    special = [i for i in world.ids if _MD_SPECIAL.search(world.title(i))]
    assert special, "the trimmed day keeps the titles with $...$ or _"
    failing = [i for i in world.ids if i not in special][:2]
    world.llm.faults = {i: prose for i in failing}
    for i in special:  # make sure the tricky titles are listed
        world.llm.faults[i] = lambda _r, pid: completion(
            {**world.llm.judgement(pid), "relevance": 99}
        )
    # one paper needs a retry after a 500: it still ends ok
    flaky = next(i for i in world.ids if i not in special and i not in failing)
    seen: list[str] = []

    def once_500(_request: httpx.Request, pid: str) -> httpx.Response | None:
        seen.append(pid)
        return api_error(500, "transient") if seen.count(pid) == 1 else None

    world.llm.faults[flaky] = once_500

    summary = world.run()

    assert summary.exit_code == 1 and "papers failed to score" in (summary.message or "")
    assert summary.score.failed == 2 * len(load_profiles())
    assert summary.fetch.papers == len(world.ids) >= ITEMS
    for profile in load_profiles():
        md = digest(profile.name)
        relevance = {i: relevance_of(i) for i in world.ids}
        relevance.update(dict.fromkeys(special, 99))
        want = sorted(
            (
                (relevance[i], hype_of(i), i)
                for i in world.ids
                if i not in failing and relevance[i] >= profile.threshold
            ),
            key=lambda t: (-t[0], -t[1], t[2]),
        )
        got = entries_of(md)
        assert [(r, h, i) for r, h, i, _ in got] == want
        assert any(
            line.startswith(
                f"**{len(want)}** of **{len(world.ids)}** papers listed"
                f" (relevance ≥ {profile.threshold}/100)"
            )
            for line in md.splitlines()
        )
        headings = re.findall(r"^### (.*)$", md, re.MULTILINE)
        assert len(headings) == len(set(headings)) == len(want)
        for _r, _h, pid, heading in got:
            assert heading == escape_md(world.title(pid))
        for pid in special:
            assert f"### {escape_md(world.title(pid))}" in md
            assert "$" in world.title(pid) or "_" in world.title(pid)
        tail = md.split("## Not scored (2)", 1)[1]
        for pid in failing:
            line = next(x for x in tail.splitlines() if f"arXiv:{pid}" in x)
            assert "scoring failed: invalid answer after one retry" in line
            assert pid not in {i for _, _, i, _ in got}
        assert "2 papers were not scored; see the end of this digest." in md
        log = Path(f"digests/{profile.name}/README.md").read_text(encoding="utf-8")
        assert f"<!-- arxivfilter:day 2024-11-28 papers={len(want)} -->" in log
        assert log.split("## Archive")[0].count("\n- ") == len(want)
        feed = feedparser.parse(Path(f"digests/{profile.name}/feed.xml").read_bytes())
        assert not feed.bozo and len(feed.entries) == len(want)
    tables = dump_tables(db_path(llm_settings()))
    assert len(tables["papers"]) == len(world.ids)
    assert len(tables["judgements"]) == len(world.ids) * len(load_profiles())
    assert integrity(db_path(llm_settings())) == "ok"


def test_second_run_asks_nobody_and_changes_nothing(world: Day) -> None:
    """Re-running the day: no arXiv request, no LLM call, byte-identical files and rows."""
    first = world.run()
    assert first.exit_code == 0 and first.score.judged == len(world.ids) * 2
    files = files_under(Path("digests"))
    rows = dump_tables(db_path(llm_settings()))
    arxiv, llm = world.arxiv_calls(), len(world.llm.requests)
    assert arxiv == 1 + 1  # one RSS request, one export-API batch

    second = world.run()

    assert second.exit_code == 0
    assert world.arxiv_calls() == arxiv and second.fetch.requests == 0
    assert len(world.llm.requests) == llm and second.score.calls == 0
    assert second.score.cached == len(world.ids) * 2 and second.score.judged == 0
    assert second.report is not None and second.report.changed == []
    assert files_under(Path("digests")) == files
    after = dump_tables(db_path(llm_settings()))
    for table in ("papers", "announcements", "judgements", "llm_calls", "llm_modes"):
        assert after[table] == rows[table], table
    assert len(after["runs"]) == len(rows["runs"]) + 1


def test_failures_are_retried_next_run_and_end_identical(
    world: Day, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed papers (only those) are sent again next run; the outputs then equal a clean run's."""
    failing = world.ids[:3]
    world.llm.faults = {i: prose for i in failing}
    assert world.run().exit_code == 1
    sent_before = len(world.llm.requests)
    world.llm.faults = {}

    again = world.run()

    assert again.exit_code == 0 and again.score.failed == 0
    assert sorted(world.llm.papers_sent()[sent_before:]) == sorted(failing * 2)
    assert again.score.judged == len(failing) * 2
    assert "Not scored" not in digest("llm-inference")
    resumed = files_under(Path("digests"))

    clean = tmp_path / "clean"
    clean.mkdir()
    monkeypatch.chdir(clean)
    assert world.run().exit_code == 0
    assert files_under(Path("digests")) == resumed


def test_no_local_scorer_is_built_when_the_prefilter_is_off(
    world: Day, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``[llm] prefilter = 1.0`` (the default: every paper to the LLM) the local scorer,
    which only ranks papers for the prefilter, is never built (it loads the IDF table and
    trains the learned model for nothing)."""
    built: list[str] = []
    real = composition.build_scorer

    def counting(app: pipeline.App, kind: str) -> object:
        built.append(kind)
        return real(app, kind)

    monkeypatch.setattr(composition, "build_scorer", counting)
    summary = world.run()
    assert summary.score is not None and summary.score.judged > 0
    assert built == ["llm"]
