"""A stand-in for the arXiv endpoints a nightly ``arxivfilter run`` asks, as its own process
on 127.0.0.1 (tests/test_nights.py): rss.arxiv.org's feed (``/rss/<cat>+<cat>``), the export
API by id (``/api/query?id_list=...``) and the pastweek listing pages
(``/list/<cat>/pastweek``), answered from synthesized papers.

    python -m tests.arxiv_standin PAPERS CONTROL LOG PORT_FILE

``PAPERS`` is JSON ``{"days": {listing date: [paper]}, "extra": [paper]}``, a paper being
``{id, title, abstract, authors, categories, comment}`` (``extra``: known by id only).
``CONTROL`` is JSON ``{"feed": "YYYY-MM-DD", "empty": false}``, re-read on every request: the
listing the feeds hold "now" (the pastweek pages show the five listings up to it); ``empty``:
the feed of that date has no items yet. Each request is
appended to ``LOG`` as a JSON line ``{"path", "query"}``; the bound port goes to ``PORT_FILE``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

Paper = dict[str, Any]

RSS_HEAD = (
    "<?xml version='1.0' encoding='UTF-8'?>"
    '<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:atom="http://www.w3.org/2005/Atom" '
    'xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">'
)


def _pub(day: dt.date) -> str:
    return f"{day:%a, %d %b %Y} 00:00:00 -0500"


def rss(papers: list[Paper], day: dt.date, cats: list[str]) -> bytes:
    items = []
    for p in papers:
        if not set(p["categories"]) & set(cats):
            continue
        kind = "new" if p["categories"][0] in cats else "cross"
        items.append(
            f"<item><title>{escape(p['title'])}</title>"
            f"<link>https://arxiv.org/abs/{p['id']}</link>"
            f"<description>arXiv:{p['id']}v1 Announce Type: {kind} \n"
            f"Abstract: {escape(p['abstract'])}</description>"
            f'<guid isPermaLink="false">oai:arXiv.org:{p["id"]}v1</guid>'
            + "".join(f"<category>{c}</category>" for c in p["categories"])
            + f"<pubDate>{_pub(day)}</pubDate><arxiv:announce_type>{kind}</arxiv:announce_type>"
            "<dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>"
            f"<dc:creator>{escape(', '.join(p['authors']))}</dc:creator></item>"
        )
    link = f"http://rss.arxiv.org/rss/{'+'.join(cats)}"
    return (
        RSS_HEAD
        + f"<channel><title>{', '.join(cats)} updates on arXiv.org</title><link>{link}</link>"
        "<description>updates</description>"
        f"<lastBuildDate>{day:%a, %d %b %Y} 05:00:00 +0000</lastBuildDate>"
        f"<pubDate>{_pub(day)}</pubDate>" + "".join(items) + "</channel></rss>"
    ).encode()


def api(papers: list[Paper]) -> bytes:
    entries = []
    for p in papers:
        cats = "".join(
            f'<category term="{c}" scheme="http://arxiv.org/schemas/atom"/>'
            for c in p["categories"]
        )
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in p["authors"])
        comment = f"<arxiv:comment>{escape(p['comment'])}</arxiv:comment>" if p["comment"] else ""
        entries.append(
            f"<entry><id>http://arxiv.org/abs/{p['id']}v1</id>"
            "<updated>2025-12-12T10:00:00Z</updated><published>2025-12-12T10:00:00Z</published>"
            f"<title>{escape(p['title'])}</title><summary>{escape(p['abstract'])}</summary>"
            f'{authors}<link href="https://arxiv.org/abs/{p["id"]}" rel="alternate" '
            f'type="text/html"/>{comment}'
            f'<arxiv:primary_category term="{p["categories"][0]}"/>{cats}</entry>'
        )
    return (
        "<?xml version='1.0' encoding='UTF-8'?>"
        '<feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">'
        "<id>https://arxiv.org/api/x</id><title>arXiv Query</title>"
        "<updated>2025-12-19T00:00:00Z</updated>"
        f"<opensearch:totalResults>{len(entries)}</opensearch:totalResults>"
        "<opensearch:startIndex>0</opensearch:startIndex>"
        f"<opensearch:itemsPerPage>{len(entries)}</opensearch:itemsPerPage>"
        + "".join(entries)
        + "</feed>"
    ).encode()


def pastweek(days: list[tuple[dt.date, list[Paper]]], cat: str) -> bytes:
    """One page (no paging) of ``cat``'s pastweek listing: new submissions, newest day first."""
    blocks = []
    total = 0
    n = 0
    for day, papers in days:
        mine = [p for p in papers if p["categories"][0] == cat]
        total += len(mine)
        head = f"<h3>{day:%a, %d %b %Y} (showing {len(mine)} of {len(mine)} entries )</h3>"
        if not mine:
            blocks.append(f"<dl id='articles'>{head}<p>No updates for this time period.</p></dl>")
            continue
        items = []
        for p in mine:
            n += 1
            items.append(
                f"<dt><a name='item{n}'>[{n}]</a>"
                f'<a href ="/abs/{p["id"]}" title="Abstract" id="{p["id"]}">arXiv:{p["id"]}</a>'
                f' [<a href="/pdf/{p["id"]}" title="Download PDF">pdf</a>]</dt>'
                "<dd><div class='meta'><div class='list-title mathjax'>"
                f"<span class='descriptor'>Title:</span> {escape(p['title'])}</div>"
                f"<div class='list-authors'>{escape(', '.join(p['authors']))}</div>"
                "<div class='list-subjects'><span class='descriptor'>Subjects:</span> "
                f'<span class="primary-subject">Subject ({cat})</span></div></div></dd>'
            )
        blocks.append(f"<dl id='articles'>{head}{''.join(items)}</dl>")
    return (
        "<!DOCTYPE html><html lang='en'><head><title>Distributed computing</title></head><body>"
        f"<main><div id='content'><div id='dlpage'><h1>{cat} (pastweek)</h1>"
        f"<div class='paging'>Total of {total} entries </div>"
        + "".join(blocks)
        + f"<div class='paging'>Total of {total} entries </div></div></div></main></body></html>"
    ).encode()


class Standin:
    def __init__(self, papers: Path, control: Path, log: Path) -> None:
        raw = json.loads(papers.read_text(encoding="utf-8"))
        self.days = {dt.date.fromisoformat(k): v for k, v in raw["days"].items()}
        self.by_id = {p["id"]: p for ps in [*self.days.values(), raw["extra"]] for p in ps}
        self.control = control
        self.log = log

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, str, bytes]:
        control = json.loads(self.control.read_text(encoding="utf-8"))
        feed = dt.date.fromisoformat(control["feed"])
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] == "rss":
            items = [] if control.get("empty") else self.days.get(feed, [])
            body = rss(items, feed, parts[1].split("+"))
            return 200, "application/rss+xml", body
        if parts == ["api", "query"] and "id_list" in query:
            ids = query["id_list"][0].split(",")
            return 200, "application/atom+xml", api([self.by_id[i] for i in ids if i in self.by_id])
        if len(parts) == 3 and parts[0] == "list" and parts[2] == "pastweek":
            shown = sorted((d for d in self.days if d <= feed), reverse=True)[:5]
            return 200, "text/html", pastweek([(d, self.days[d]) for d in shown], parts[1])
        return 404, "text/plain", b"not found"


def main(argv: list[str]) -> None:
    papers, control, log, port_file = (Path(a) for a in argv)
    standin = Standin(papers, control, log)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            with standin.log.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"path": url.path, "query": query}) + "\n")
            status, ctype, body = standin.answer(url.path, query)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]), encoding="utf-8")
    tmp.replace(port_file)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
