"""Property tests (hypothesis) over the real paths: parse -> store -> export, store -> report.

* For any title, abstract and author names (any Unicode, mojibake, TeX, controls, lone
  surrogates, Markdown and HTML), what ``export`` gives back is ``normalise`` of what a
  source held, ``normalise`` is idempotent, and the export read back is a fixed point.
* For any such text and judgement, ``report.outputs.write_reports`` writes a digest, a
  running log and a feed whose structure is exactly what the papers call for.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from sqlalchemy import Engine
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Profile, Settings
from arxivfilter.export import export_records
from arxivfilter.fetch.replay import read_source
from arxivfilter.models import Entry, Judgement
from arxivfilter.report.escape import tex_plain, xml_text
from arxivfilter.report.outputs import write_reports
from arxivfilter.report.running_log import parse_sections
from arxivfilter.text import normalise, normalise_author

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])
TRICKY = [
    "](javascript:alert(1))",
    "<script>alert(1)</script>",
    "<!-- arxivfilter:end 2000-01-01 -->",
    "| a | b |",
    "`code` ``x``",
    "$O(n^2)$",
    "$5 and $10",
    "大型语言模型",
    "WÃ¼bben",
    "Jos\\'e",
    "Przemys{\\l}aw",
    "\x00\x07\x1b",
    "\ud800",
    "e\u0301",
    "\u2028\r\n\t",
    "# h",
    "1. x",
    "- y",
    "> q",
    "***",
    "&amp;",
    "https://evil.example",
    "www.evil.example",
    "\\",
    "\u200b\ufeff",
]
TEXT = st.lists(st.one_of(st.text(), st.sampled_from(TRICKY)), max_size=6).map("".join)
NAMES = st.lists(TEXT, max_size=4)
_ids = itertools.count(1)
_days = itertools.count(0)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated database for every example (each example uses its own ids and date)."""
    path = tmp_path_factory.mktemp("props") / "props.db"
    eng = store.make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


def _next_id() -> str:
    return f"2401.{next(_ids):05d}"


def _next_day() -> dt.date:
    # 31 days apart: each example's date is the newest, alone in its feed window
    return dt.date(2000, 1, 3) + dt.timedelta(days=31 * next(_days))


# =========================================================================== export(store(x))


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(title=TEXT, abstract=TEXT, authors=NAMES)
def test_export_of_stored_is_normalised_source(
    engine: Engine, tmp_path: Path, title: str, abstract: str, authors: list[str]
) -> None:
    """export(store(read(x))) == normalise(x); normalise idempotent; the export is a fixed point."""
    pid, day = _next_id(), _next_day()
    dump = tmp_path / f"{day}.jsonl"
    record = {"id": pid, "title": title, "summary": abstract, "authors": authors}
    dump.write_text(json.dumps({**record, "categories": ["cs.DC"]}) + "\n", encoding="utf-8")
    entries = read_source(dump)
    with Session(engine) as session:
        store.store_entries(session, entries, categories=["cs.DC"])
        [out] = list(export_records(session, ["cs.DC"], date=day))

    assert out["arxiv_id"] == pid
    assert out["title"] == normalise(title)
    assert out["abstract"] == normalise(abstract)
    assert out["authors"] == [n for n in (normalise_author(a) for a in authors) if n]
    for value in (title, abstract, *authors):
        assert normalise(normalise(value)) == normalise(value)
        assert normalise_author(normalise_author(value)) == normalise_author(value)

    again = tmp_path / "export.jsonl"
    again.write_text(json.dumps(out, ensure_ascii=False) + "\n", encoding="utf-8")
    back = read_source(again)
    assert [(e.title, e.abstract, e.authors) for e in back] == [
        (out["title"], out["abstract"], out["authors"])
    ]


# =========================================================================== reports


def _walk(tokens: list[Any]) -> Iterator[Any]:
    for t in tokens:
        yield t
        if t.children:
            yield from _walk(t.children)


def _headings(tokens: list[Any], tag: str) -> list[str]:
    return [
        "".join(
            c.content for c in tokens[i + 1].children or [] if c.type in ("text", "code_inline")
        )
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.tag == tag
    ]


def _check_digest(md: str, listed: list[str], failed: int, scanned: int) -> None:
    tokens = MD.parse(md)
    every = list(_walk(tokens))
    kinds = [t.type for t in every]
    assert not set(kinds) & {"html_inline", "image", "table_open", "fence"}
    assert "code_block" not in kinds
    html = [t.content.strip() for t in every if t.type == "html_block"]
    details = r"</details>|<details>\n<summary>(Tag legend|Just missed: [^<>]*)</summary>"
    assert all(re.fullmatch(details, h) for h in html), html
    found = re.search(r"<summary>Just missed: (\d+) paper", md)
    missed = int(found.group(1)) if found else 0
    for t in every:
        if t.type == "link_open":
            assert re.fullmatch(r"https://arxiv\.org/(abs|pdf)/[\w./-]+", t.attrs["href"])
    assert len(_headings(tokens, "h1")) == 1
    assert _headings(tokens, "h3") == [tex_plain(t) or "(untitled)" for t in listed]
    assert len(_headings(tokens, "h2")) == (1 if failed else 0)
    assert kinds.count("hr") == len(listed) + (1 if failed else 0) + (1 if missed else 0)
    assert kinds.count("list_item_open") == failed + missed
    assert any(
        line.startswith(f"**{len(listed)}** of **{scanned}** paper") for line in md.splitlines()
    )


def _check_log(log: str, day: dt.date, listed: list[str]) -> None:
    tokens = MD.parse(log)
    every = list(_walk(tokens))
    html = [t.content.strip() for t in every if t.type in ("html_block", "html_inline")]
    # the day has papers (min_size=1), so it has a section, with nothing listed or not
    assert html == [
        f"<!-- arxivfilter:day {day} papers={len(listed)} -->",
        f"<!-- arxivfilter:end {day} -->",
    ]
    assert {d: n for d, (n, _) in parse_sections(log).items()} == {day: len(listed)}
    # one bullet per listed paper, and one link to the month's archive page
    assert [t.type for t in every].count("list_item_open") == len(listed) + 1
    for t in every:
        if t.type == "link_open":
            href = t.attrs["href"]
            assert href.startswith(("https://arxiv.org/abs/", "https://img.shields.io/")) or (
                href in (f"{day:%Y}/{day}.md", f"{day:%Y}/{day:%Y-%m}.md")
            )


ROW = st.tuples(
    TEXT,  # title
    TEXT,  # abstract
    NAMES,  # authors
    TEXT,  # tldr / reason / error
    st.lists(TEXT, max_size=2),  # tags (as a model might send them)
    st.one_of(st.integers(0, 100), st.none()),  # relevance; None = failed
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(rows=st.lists(ROW, min_size=1, max_size=3), description=TEXT)
def test_no_text_breaks_the_digest_log_or_feed(
    engine: Engine, rows: list[tuple[Any, ...]], description: str
) -> None:
    """Through store and write_reports, any text leaves each file's structure intact."""
    day = _next_day()
    name = f"p{day:%Y%m%d}"
    profile = Profile(
        name=name,
        description=normalise(description) or "x",
        threshold=50,
        tags={"serving": "serving"},
    )
    with tempfile.TemporaryDirectory() as root, Session(engine) as session:
        conf = Settings()
        conf.report.digests_dir = root
        entries = [
            Entry(
                arxiv_id=_next_id(),
                version=1,
                title=normalise(title),
                abstract=normalise(abstract),
                authors=[n for n in (normalise_author(a) for a in authors) if n],
                categories=["cs.DC"],
                announce_date=day,
                announce_type="new",
            )
            for title, abstract, authors, *_ in rows
        ]
        store.store_entries(session, entries, categories=["cs.DC"])
        listed: list[tuple[int, str, str]] = []
        failed = 0
        for entry, (_t, _a, _au, words, tags, relevance) in zip(entries, rows, strict=True):
            paper = session.get(store.Paper, entry.arxiv_id)
            assert paper is not None
            ok = relevance is not None
            store.save_judgement(
                session,
                Judgement(
                    cache_key=f"{name}-{entry.arxiv_id}",
                    arxiv_id=entry.arxiv_id,
                    profile=name,
                    scorer="llm",
                    model="m",
                    text_hash=paper.text_hash,
                    profile_hash=profile.content_hash,
                    prompt_hash="p",
                    status="ok" if ok else "failed",
                    relevance=relevance,
                    hype=relevance,
                    tags=list(tags),
                    tldr=normalise(words),  # as the score stage stores a model's text
                    reason=normalise(words),
                    error=None if ok else normalise(words),
                ),
            )
            if relevance is None:
                failed += 1
            elif relevance >= 50:
                listed.append((relevance, entry.arxiv_id, entry.title))
        listed.sort(key=lambda t: (-t[0], t[1]))
        titles = [t for _, _, t in listed]

        write_reports(session, conf, [profile], [day], categories=["cs.DC"], scorer="llm")

        folder = Path(root) / name
        md = (folder / f"{day:%Y}" / f"{day}.md").read_text(encoding="utf-8")
        _check_digest(md, titles, failed, len(rows))
        _check_log((folder / "README.md").read_text(encoding="utf-8"), day, titles)
        feed = feedparser.parse((folder / "feed.xml").read_bytes())
        assert not feed.bozo, feed.get("bozo_exception")
        assert [e.title for e in feed.entries] == [
            xml_text(tex_plain(t)) or "(untitled)" for t in titles
        ]
