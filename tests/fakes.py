"""Small builders for arXiv responses the samples lack, and a fake clock for politeness tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import httpx

from arxivfilter.models import Entry, JudgementResult, PaperText


class FakeClock:
    """A monotonic clock and sleep that only move when slept: records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def api_entry_xml(e: Entry) -> str:
    cats = "".join(
        f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>' for c in e.categories
    )
    authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in e.authors)
    primary = e.primary_category or (e.categories[0] if e.categories else "cs.LG")
    comment = f"<arxiv:comment>{escape(e.comment)}</arxiv:comment>" if e.comment else ""
    return (
        f"<entry><id>http://arxiv.org/abs/{e.arxiv_id}v{e.version or 1}</id>"
        f"<updated>2024-11-27T10:00:00Z</updated><published>2024-11-26T10:00:00Z</published>"
        f"<title>{escape(e.title)}</title><summary>{escape(e.abstract)}</summary>{authors}"
        f'<link href="https://arxiv.org/abs/{e.arxiv_id}" rel="alternate" type="text/html"/>'
        f'{comment}<arxiv:primary_category term="{primary}"/>{cats}</entry>'
    )


def api_feed(entries: Iterable[Entry]) -> bytes:
    items = list(entries)
    body = (
        "<?xml version='1.0' encoding='UTF-8'?>"
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">'
        "<id>https://arxiv.org/api/x</id><title>arXiv Query</title><updated>2024-11-28T00:00:00Z</updated>"
        f"<opensearch:totalResults>{len(items)}</opensearch:totalResults>"
        "<opensearch:startIndex>0</opensearch:startIndex>"
        f"<opensearch:itemsPerPage>{len(items)}</opensearch:itemsPerPage>"
        + "".join(api_entry_xml(e) for e in items)
        + "</feed>"
    )
    return body.encode()


def api_responder(known: dict[str, Entry], *, primary: dict[str, str] | None = None):
    """A respx side effect answering ``id_list`` queries from ``known`` entries."""

    def respond(request: httpx.Request) -> httpx.Response:
        query = parse_qs(urlsplit(str(request.url)).query)
        ids = query.get("id_list", [""])[0].split(",")
        found = []
        for i in ids:
            if i in known:
                e = known[i]
                if primary and i in primary:
                    e = e.model_copy(update={"primary_category": primary[i]})
                found.append(e)
        return httpx.Response(
            200, content=api_feed(found), headers={"content-type": "application/atom+xml"}
        )

    return respond


def rss_feed(
    items: Iterable[tuple[str, str, list[str]]], pub: dt.date, *, title: str = "cs updates"
) -> bytes:
    """An rss.arxiv.org feed: items are (id, announce_type, categories)."""
    parts = []
    for arxiv_id, kind, cats in items:
        cat_xml = "".join(f"<category>{c}</category>" for c in cats)
        parts.append(
            f"<item><title>Paper {arxiv_id}</title><link>https://arxiv.org/abs/{arxiv_id}</link>"
            f"<description>arXiv:{arxiv_id}v1 Announce Type: {kind} \nAbstract: About {arxiv_id}.</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v1</guid>{cat_xml}'
            f"<pubDate>{pub:%a, %d %b %Y} 00:00:00 -0500</pubDate>"
            f"<arxiv:announce_type>{kind}</arxiv:announce_type>"
            f"<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>"
            f"<dc:creator>Ada Lovelace, Alan Turing</dc:creator></item>"
        )
    body = (
        "<?xml version='1.0' encoding='UTF-8'?>"
        '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">'
        f"<channel><title>{title}</title><link>http://rss.arxiv.org/rss/cs</link><description>d</description>"
        f"<lastBuildDate>{pub:%a, %d %b %Y} 05:00:00 +0000</lastBuildDate>"
        f"<pubDate>{pub:%a, %d %b %Y} 00:00:00 -0500</pubDate>"
        + "".join(parts)
        + "</channel></rss>"
    )
    return body.encode()


class LocalSink:
    """Collects judgements as the pipeline's sink would, for the local scorer (no LLM calls)."""

    def __init__(self) -> None:
        self.got: list[tuple[PaperText, JudgementResult]] = []

    def judgement(self, paper: PaperText, result: JudgementResult) -> None:
        self.got.append((paper, result))

    def llm_call(self, call: object) -> None:  # pragma: no cover - never called
        raise AssertionError("the local scorer makes no LLM calls")

    def may_start_call(self) -> bool:  # pragma: no cover - never called
        return True
