"""``arxivfilter site``: the static web page, written from the database alone.

Layout of the output folder (``[site] dir``, ``ARXIVFILTER_SITE_DIR``, default ``site/``)::

    index.html              every profile's papers at once, with a profile filter
    <profile>/index.html    one page per profile; a paper's permalink is <profile>/#<arxiv_id>
    data/<profile>.js       the profile's judged papers (JSON, safely encoded, in a .js file)
    assets/app.js, style.css, minisearch.js (+ its licence)

Everything rendered derives from the database: the only date shown is the newest
announcement, papers are sorted by (date, relevance, id), JSON keys are sorted, so the same
papers and judgements give byte-identical files. Files are written atomically and only when
they change (``report.write``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Profile, Settings
from arxivfilter.errors import UsageError
from arxivfilter.report.escape import collapse
from arxivfilter.report.write import write_atomic
from arxivfilter.text import parse_arxiv_id

log = structlog.get_logger(__name__)

MINISEARCH_VERSION = "7.2.0"
ASSETS = ("app.js", "style.css", "minisearch.js", "minisearch.LICENSE.txt")
# Scripts and styles come from the site's own files only; nothing else may load at all.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'"
)
# A profile name becomes a folder and a URL segment: keep it to these characters.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# JSON that stays inert inside a <script> element, an HTML attribute or a JS file: no
# '<' (so no '</script>' or '<!--'), no '>' or '&', and no U+2028/U+2029.
_JSON_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028"}
_JSON_UNSAFE["\u2029"] = "\\u2029"
_JSON_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")


@dataclass
class SiteResult:
    folder: Path
    newest: dt.date | None = None
    papers: dict[str, int] = field(default_factory=dict)  # profile -> papers on its page
    changed: list[Path] = field(default_factory=list)
    unchanged: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "newest": self.newest.isoformat() if self.newest else None,
            "papers": self.papers,
            "written": [str(p) for p in self.changed],
            "unchanged": self.unchanged,
        }


def permalink(site_url: str, profile: str, arxiv_id: str) -> str:
    """A paper's anchor on its profile's page: ``<site_url>/<profile>/#<arxiv_id>``."""
    return f"{site_url.rstrip('/')}/{quote(profile)}/#{quote(arxiv_id, safe='/.')}"


def safe_json(data: Any) -> str:
    """``data`` as JSON that cannot end a script element or start markup (see _JSON_UNSAFE)."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return _JSON_UNSAFE_RE.sub(lambda m: _JSON_UNSAFE[m.group(0)], text)


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# Anything ``collapse`` would change: controls, bidi controls, surrogates, any whitespace but
# a single inner space. Stored text is normalised already, so most strings skip the work.
_UNCLEAN = re.compile(
    "[\x00-\x1f\x7f-\xa0\u061c\u1680\u2000-\u200f\u2028-\u202f\u205f\u2066-\u2069"
    "\u3000\ufeff\ud800-\udfff]"
)


def clean(text: str | None) -> str:
    """:func:`report.escape.collapse` (one line, no controls or bidi overrides), fast when
    there is nothing to do."""
    if not text:
        return ""
    if text[0] == " " or text[-1] == " " or "  " in text or _UNCLEAN.search(text):
        return collapse(text)
    return text


def _paper_part(paper: store.PeriodPaper) -> dict[str, Any] | None:
    try:
        ident, _ = parse_arxiv_id(paper.arxiv_id)
    except ValueError:
        return None
    if ident != paper.arxiv_id:
        return None
    rec: dict[str, Any] = {
        "id": paper.arxiv_id,
        "t": clean(paper.title),
        "a": [a for a in (clean(a) for a in paper.authors) if a],
        "x": clean(paper.abstract),
        "d": paper.date.isoformat(),
    }
    if paper.version is not None:
        rec["v"] = paper.version
    if paper.primary_category:
        rec["c"] = clean(paper.primary_category)
    return rec


def _record(part: dict[str, Any], judgement: store.JudgementRow) -> dict[str, Any]:
    rec = dict(part)
    rec["r"] = judgement.relevance if judgement.relevance is not None else 0
    rec["g"] = [t for t in (clean(t) for t in judgement.tags) if t]
    if judgement.hype is not None:
        rec["h"] = judgement.hype
    if tldr := clean(judgement.tldr):
        rec["s"] = tldr
    if reason := clean(judgement.reason):
        rec["w"] = reason
    return rec


def profile_records(
    session: Session,
    profile: Profile,
    papers: Sequence[store.PeriodPaper],
    scorer: str,
    parts: dict[str, dict[str, Any] | None],
    min_relevance: int = 0,
) -> list[dict[str, Any]]:
    """The profile's judged papers: for each paper of the period, the judgement of its current
    text (the configured scorer's newest, else any newest, as the digests pick), newest date
    first, then highest relevance, then id."""
    best: dict[str, store.JudgementRow] = {}
    by_text = {p.arxiv_id: p.text_hash for p in papers}
    for j in store.ok_judgements(session, profile.name, profile.content_hash):
        if by_text.get(j.arxiv_id) != j.text_hash:
            continue
        held = best.get(j.arxiv_id)
        if held is None or (j.scorer == scorer, j.id) > (held.scorer == scorer, held.id):
            best[j.arxiv_id] = j
    out: list[dict[str, Any]] = []
    for p in papers:
        if p.arxiv_id not in best or (best[p.arxiv_id].relevance or 0) < min_relevance:
            continue
        if p.arxiv_id not in parts:
            parts[p.arxiv_id] = _paper_part(p)
        part = parts[p.arxiv_id]
        if part is not None:
            out.append(_record(part, best[p.arxiv_id]))
    out.sort(key=lambda r: (-dt.date.fromisoformat(r["d"]).toordinal(), -r["r"], r["id"]))
    return out


def _asset(name: str) -> str:
    return (resources.files("arxivfilter.web") / "assets" / name).read_text(encoding="utf-8")


def _page(
    *,
    title: str,
    root: str,
    scripts: Sequence[str],
    kind: str,
    heading: str,
    intro: str,
    nav: Sequence[tuple[str, str, bool]],
    tags: Sequence[str],
    profiles: Sequence[str],
    newest: dt.date | None,
    count: int,
    page_size: int,
) -> str:
    """One page: the search form, an empty result list the script fills, and help text."""
    current_attr = ' aria-current="page"'
    nav_items = "".join(
        f'<li><a href="{_e(href)}"{current_attr if current else ""}>{_e(label)}</a></li>'
        for label, href, current in nav
    )
    tag_options = "".join(f'<option value="{_e(t)}">{_e(t)}</option>' for t in tags)
    profile_field = ""
    if kind == "index":
        options = "".join(f'<option value="{_e(p)}">{_e(p)}</option>' for p in profiles)
        profile_field = (
            '<div class="field"><label for="profile">Profile</label>'
            f'<select id="profile" name="profile"><option value="">all</option>{options}</select>'
            "</div>"
        )
    newest_text = (
        f'newest listing <time datetime="{newest.isoformat()}">{newest.isoformat()}</time>'
        if newest
        else "no listing yet"
    )
    intro_html = (
        f'<details class="intro"><summary>What this profile looks for</summary><p>{_e(intro)}</p></details>'
        if kind == "profile"
        else f'<p class="intro">{_e(intro)}</p>'
    )
    script_tags = "".join(f'<script defer src="{_e(src)}"></script>' for src in scripts)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">
<meta name="referrer" content="no-referrer">
<meta name="color-scheme" content="light dark">
<title>{_e(title)}</title>
<link rel="stylesheet" href="{_e(root)}assets/style.css">
{script_tags}
</head>
<body data-page="{_e(kind)}" data-page-size="{page_size}" data-root="{_e(root)}">
<a class="skip" href="#results">Skip to the results</a>
<header>
<h1>{_e(heading)}</h1>
<nav aria-label="Profiles"><ul>{nav_items}</ul></nav>
{intro_html}
<p class="summary">{count} judged papers, {newest_text}.</p>
</header>
<main>
<form id="filters" role="search" aria-label="Search and filter the papers">
<div class="field wide"><label for="q">Search</label><input id="q" name="q" type="search" autocomplete="off" spellcheck="false" placeholder="title, authors, abstract, TL;DR" aria-describedby="keys"></div>
<div class="field"><label for="tag">Tag</label><select id="tag" name="tag"><option value="">any</option>{tag_options}</select></div>
{profile_field}<div class="field"><label for="from">From</label><input id="from" name="from" type="date"></div>
<div class="field"><label for="to">To</label><input id="to" name="to" type="date"></div>
<div class="field"><label for="min">Min. relevance</label><input id="min" name="min" type="number" min="0" max="100" step="1" inputmode="numeric"></div>
<div class="field"><label for="sort">Sort by</label><select id="sort" name="sort"><option value="relevance">relevance</option><option value="date">date</option></select></div>
<div class="field"><button type="reset" id="clear">Clear</button></div>
</form>
<p id="keys" class="keys">Keys: <kbd>/</kbd> search, <kbd>j</kbd>/<kbd>k</kbd> next/previous paper, <kbd>o</kbd> open it on arXiv, <kbd>Esc</kbd> leave the search box.</p>
{_like_hint(kind, profiles)}
<p id="status" role="status" aria-live="polite"></p>
<noscript><p>The list needs JavaScript; the Markdown digests hold the same papers.</p></noscript>
<ol id="results" class="results" aria-label="Papers"></ol>
<p><button type="button" id="more" hidden>Show more</button></p>
</main>
<footer><p>Written by arxivfilter from its database. Search by <a href="{_e(root)}assets/minisearch.LICENSE.txt">MiniSearch {MINISEARCH_VERSION}</a> (MIT).</p></footer>
</body>
</html>
"""


def _like_hint(kind: str, profiles: Sequence[str]) -> str:
    """How to like a paper (the local scorer learns from it): the exact command."""
    name = profiles[0] if kind == "profile" and profiles else "NAME"
    return (
        '<p id="like-hint" class="keys">Liked a paper? Teach the local scorer: '
        f"<code>arxivfilter like ID --profile {_e(name)}</code> (ID: the paper's arXiv id, the "
        "anchor of its permalink; <code>dislike</code> for the opposite).</p>"
    )


def _data_js(profile: str, records: list[dict[str, Any]]) -> str:
    payload = safe_json({"papers": records, "profile": profile})
    return (
        "// Generated by arxivfilter site: data only.\n"
        f"(globalThis.arxivfilterData = globalThis.arxivfilterData || []).push({payload});\n"
    )


def build_site(
    session: Session,
    settings: Settings,
    profiles: Sequence[Profile],
    categories: Sequence[str] | None,
    scorer: str,
    *,
    folder: Path | None = None,
) -> SiteResult:
    """Write the site for ``profiles`` into ``folder`` (default ``[site] dir``)."""
    out = Path(folder if folder is not None else settings.site.dir)
    for p in profiles:
        if not _SAFE_NAME.match(p.name):
            raise UsageError(
                f"profile {p.name!r}: a site page needs a name of letters, digits, '.', '_', '-'"
            )
    result = SiteResult(folder=out)
    newest = store.newest_announcement(session, categories)
    result.newest = newest
    date_from: dt.date | None = None
    if newest is not None and settings.site.days > 0:
        date_from = newest - dt.timedelta(days=settings.site.days - 1)
    papers = store.papers_in_period(session, categories, date_from=date_from, date_to=newest)
    names = sorted(p.name for p in profiles)
    by_name = {p.name: p for p in profiles}
    parts: dict[str, dict[str, Any] | None] = {}  # each paper's text cleaned once
    records = {
        name: profile_records(
            session, by_name[name], papers, scorer, parts, settings.site.min_relevance
        )
        for name in names
    }

    def put(rel: str, text: str) -> None:
        path = out / rel
        if write_atomic(path, text):
            result.changed.append(path)
        else:
            result.unchanged += 1

    for name in ASSETS:
        put(f"assets/{name}", _asset(name))
    for name in names:
        put(f"data/{name}.js", _data_js(name, records[name]))
        result.papers[name] = len(records[name])

    size = settings.site.page_size
    nav_index = ("All profiles", "index.html", True)
    all_tags: set[str] = set()
    for name in names:
        prof = by_name[name]
        tags = sorted(set(prof.tags) | {t for r in records[name] for t in r["g"]})
        all_tags.update(tags)
        nav = [("All profiles", "../index.html", False)] + [
            (n, f"../{quote(n)}/index.html", n == name) for n in names
        ]
        put(
            f"{name}/index.html",
            _page(
                title=f"{name} · arxivfilter",
                root="../",
                scripts=[
                    "../assets/minisearch.js",
                    f"../data/{quote(name)}.js",
                    "../assets/app.js",
                ],
                kind="profile",
                heading=name,
                intro=clean(prof.description),
                nav=nav,
                tags=tags,
                profiles=[name],
                newest=newest,
                count=len(records[name]),
                page_size=size,
            ),
        )
    put(
        "index.html",
        _page(
            title="arxivfilter",
            root="",
            scripts=["assets/minisearch.js"]
            + [f"data/{quote(n)}.js" for n in names]
            + ["assets/app.js"],
            kind="index",
            heading="arxivfilter",
            intro="Papers judged against each topic profile. Pick a profile, or search them all.",
            nav=[nav_index] + [(n, f"{quote(n)}/index.html", False) for n in names],
            tags=sorted(all_tags),
            profiles=names,
            newest=newest,
            count=sum(len(r) for r in records.values()),
            page_size=size,
        ),
    )
    log.info(
        "site written",
        folder=str(out),
        papers=result.papers,
        changed=len(result.changed),
    )
    return result
