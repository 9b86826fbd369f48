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
import hashlib
import html
import importlib.util
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import structlog
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Profile, Settings, load_profiles, profile_paths
from arxivfilter.errors import UsageError
from arxivfilter.gcpause import paused_gc
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
    text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    for bad, escaped in _JSON_UNSAFE.items():  # str.replace: far faster than re.sub here
        if bad in text:
            text = text.replace(bad, escaped)
    return text


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
    # str.isprintable is False for every character _UNCLEAN matches (and a few more, which
    # collapse then leaves alone): one C-speed check for the common case
    if text.isprintable() and text[0] != " " and text[-1] != " " and "  " not in text:
        return text
    if text[0] == " " or text[-1] == " " or "  " in text or _UNCLEAN.search(text):
        return collapse(text)
    return text


def clean_all(texts: list[str]) -> list[str]:
    """:func:`clean` of each string, with one C-speed check of them all for the common case
    where none would change (nothing unprintable, no space at an end or twice)."""
    if "".join(texts).isprintable():
        spaced = "\x00".join(texts)
        if not (
            "  " in spaced
            or " \x00" in spaced
            or "\x00 " in spaced
            or spaced[:1] == " "
            or spaced[-1:] == " "
        ):
            return texts
    return [clean(t) for t in texts]


def _paper_part(paper: store.PeriodPaper, day: dt.date) -> dict[str, Any]:
    """A paper's text record (the id is valid: :func:`_valid_id` chose the papers)."""
    title, abstract, category, *authors = clean_all(
        [paper.title, paper.abstract, paper.primary_category or "", *paper.authors]
    )
    rec: dict[str, Any] = {
        "id": paper.arxiv_id,
        "t": title,
        "a": [a for a in authors if a],
        "x": abstract,
        "d": day.isoformat(),
    }
    if paper.version is not None:
        rec["v"] = paper.version
    if category:
        rec["c"] = category
    return rec


def _judged(arxiv_id: str, judgement: store.JudgementRow) -> dict[str, Any]:
    """A profile's judgement of a paper: the fields its page adds to the paper's text."""
    tldr, reason, *tags = clean_all([judgement.tldr or "", judgement.reason or "", *judgement.tags])
    rec: dict[str, Any] = {
        "id": arxiv_id,
        "r": judgement.relevance if judgement.relevance is not None else 0,
        "g": [t for t in tags if t],
    }
    if judgement.hype is not None:
        rec["h"] = judgement.hype
    if tldr:
        rec["s"] = tldr
    if reason:
        rec["w"] = reason
    return rec


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
{_header(kind, heading, intro, nav, newest, count)}
<main>
{_filters(kind, tags, profiles)}
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


def _header(
    kind: str,
    heading: str,
    intro: str,
    nav: Sequence[tuple[str, str, bool]],
    newest: dt.date | None,
    count: int,
) -> str:
    """The page's heading, the profiles' navigation, what the page shows and how much."""
    current_attr = ' aria-current="page"'
    nav_items = "".join(
        f'<li><a href="{_e(href)}"{current_attr if current else ""}>{_e(label)}</a></li>'
        for label, href, current in nav
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
    return f"""<header>
<h1>{_e(heading)}</h1>
<nav aria-label="Profiles"><ul>{nav_items}</ul></nav>
{intro_html}
<p class="summary">{count} judged papers, {newest_text}.</p>
</header>"""


def _filters(kind: str, tags: Sequence[str], profiles: Sequence[str]) -> str:
    """The search and filter form (a profile choice on the index only)."""
    tag_options = "".join(f'<option value="{_e(t)}">{_e(t)}</option>' for t in tags)
    profile_field = ""
    if kind == "index":
        options = "".join(f'<option value="{_e(p)}">{_e(p)}</option>' for p in profiles)
        profile_field = (
            '<div class="field"><label for="profile">Profile</label>'
            f'<select id="profile" name="profile"><option value="">all</option>{options}</select>'
            "</div>"
        )
    return f"""<form id="filters" role="search" aria-label="Search and filter the papers">
<div class="field wide"><label for="q">Search</label><input id="q" name="q" type="search" autocomplete="off" spellcheck="false" placeholder="title, authors, abstract, TL;DR" aria-describedby="keys"></div>
<div class="field"><label for="tag">Tag</label><select id="tag" name="tag"><option value="">any</option>{tag_options}</select></div>
{profile_field}<div class="field"><label for="from">From</label><input id="from" name="from" type="date"></div>
<div class="field"><label for="to">To</label><input id="to" name="to" type="date"></div>
<div class="field"><label for="min">Min. relevance</label><input id="min" name="min" type="number" min="0" max="100" step="1" inputmode="numeric"></div>
<div class="field"><label for="sort">Sort by</label><select id="sort" name="sort"><option value="relevance">relevance</option><option value="date">date</option></select></div>
<div class="field"><button type="reset" id="clear">Clear</button></div>
</form>"""


def _like_hint(kind: str, profiles: Sequence[str]) -> str:
    """How to like a paper (the local scorer learns from it): the exact command."""
    name = profiles[0] if kind == "profile" and profiles else "NAME"
    return (
        '<p id="like-hint" class="keys">Liked a paper? Teach the local scorer: '
        f"<code>arxivfilter like ID --profile {_e(name)}</code> (ID: the paper's arXiv id, the "
        "anchor of its permalink; <code>dislike</code> for the opposite).</p>"
    )


# ---------------------------------------------------------------------------- data files
# A paper's text (the same for every profile) and a profile's judgement of it live in
# different files, so the abstracts are written and loaded once however many profiles there
# are. Both are cut into shards by the week (Monday) of the paper's first date.

FORMAT = "2"  # of the data files; part of every shard's signature
_SHARD_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.js$")


def shard_key(day: dt.date) -> str:
    """The shard a date belongs to: the Monday of its week, ``YYYY-MM-DD``."""
    return (day - dt.timedelta(days=day.weekday())).isoformat()


def _data_js(payload: dict[str, Any]) -> str:
    return (
        "// Generated by arxivfilter site: data only.\n"
        f"(globalThis.arxivfilterData = globalThis.arxivfilterData || []).push({safe_json(payload)});\n"
    )


def _code_hash() -> str:
    """This module's and the escaping's source: a change to how a record is written makes
    every shard's signature new, so the next build rewrites them all."""
    h = hashlib.sha256()
    for mod in (__name__, "arxivfilter.report.escape"):
        spec = importlib.util.find_spec(mod)
        if spec is not None and spec.origin:
            h.update(Path(spec.origin).read_bytes())
    return h.hexdigest()[:12]


_CODE = _code_hash()


def _sig(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, (FORMAT, _CODE, *parts))).encode()).hexdigest()[:16]


_NEW_ID = re.compile(r"\d{4}\.\d{4,5}", re.ASCII)


def _valid_id(arxiv_id: str) -> bool:
    if _NEW_ID.fullmatch(arxiv_id):
        return True
    try:
        ident, _ = parse_arxiv_id(arxiv_id)
    except ValueError:
        return False
    return ident == arxiv_id


def best_judgements(
    keys: Sequence[store.JudgementKey], text_hashes: dict[str, str], scorer: str
) -> dict[str, store.JudgementKey]:
    """For each paper, the judgement of its current text: the configured scorer's newest,
    else any newest (as the digests pick)."""
    best: dict[str, store.JudgementKey] = {}
    for j in keys:
        if text_hashes.get(j.arxiv_id) != j.text_hash:
            continue
        held = best.get(j.arxiv_id)
        if held is None or (j.scorer == scorer, j.id) > (held.scorer == scorer, held.id):
            best[j.arxiv_id] = j
    return best


def _order(day: dt.date, relevance: int, arxiv_id: str) -> tuple[int, int, str]:
    """Newest date first, then highest relevance, then id."""
    return (-day.toordinal(), -relevance, arxiv_id)


@dataclass
class _Shard:
    key: str
    papers: list[store.PaperKey] = field(default_factory=list)  # sorted by id
    judged: dict[str, list[tuple[store.PaperKey, store.JudgementKey]]] = field(default_factory=dict)


def _manifest_entry(
    shard: _Shard, rows: list[tuple[store.PaperKey, store.JudgementKey]], sig: str, tsig: str
) -> dict[str, Any]:
    ids = [p.arxiv_id for p, _ in rows]
    days = [p.date for p, _ in rows]
    return {
        "k": shard.key,
        "from": min(days).isoformat(),
        "to": max(days).isoformat(),
        "n": len(rows),
        "lo": min(ids),
        "hi": max(ids),
        "v": sig[:10],
        "tv": tsig[:10],
    }


def _read_state(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return {}
    sigs = data.get("shards")
    return {str(k): str(v) for k, v in sigs.items()} if isinstance(sigs, dict) else {}


def site_profiles(settings: Settings, names: Sequence[str] | None) -> list[Profile]:
    """The profiles a build writes: all configured ones when ``names`` is empty; else those
    named plus the configured profiles the site in ``[site] dir`` already shows, so that
    ``site --profile P`` refreshes P and leaves the others' cards, text and index entries as
    they were (the text shards are shared by every profile)."""
    if not names:
        return load_profiles(None)
    root = Path(settings.site.dir) / "data" / "p"
    shown = sorted(p.parent.name for p in root.glob("*/shards.js")) if root.is_dir() else []
    configured = profile_paths()
    others = [n for n in shown if n in configured and n not in names]
    return load_profiles([*names, *others])


@dataclass
class _Plan:
    """What a build shows, from light rows only (ids, text hashes, judgement ids): the
    papers each profile's page lists, cut into shards."""

    newest: dt.date | None
    profiles: dict[str, Profile]  # by name, in name order
    shards: dict[str, _Shard] = field(default_factory=dict)
    raw_tags: dict[str, set[str]] = field(default_factory=dict)  # tags as stored (JSON)

    @property
    def order(self) -> list[str]:
        """Shard keys, newest first."""
        return sorted(self.shards, reverse=True)


def _plan(
    session: Session,
    settings: Settings,
    profiles: Sequence[Profile],
    categories: Sequence[str] | None,
    scorer: str,
) -> _Plan:
    newest = store.newest_announcement(session, categories)
    date_from: dt.date | None = None
    if newest is not None and settings.site.days > 0:
        date_from = newest - dt.timedelta(days=settings.site.days - 1)
    keys = [
        p
        for p in store.period_paper_keys(session, categories, date_from=date_from, date_to=newest)
        if _valid_id(p.arxiv_id)
    ]
    hashes = {p.arxiv_id: p.text_hash for p in keys}
    plan = _Plan(newest, {p.name: p for p in sorted(profiles, key=lambda p: p.name)})
    shard_of: dict[dt.date, _Shard] = {}
    used: set[str] = set()
    for name, prof in plan.profiles.items():
        tags = plan.raw_tags.setdefault(name, set())
        best = best_judgements(
            store.ok_judgement_keys(session, name, prof.content_hash), hashes, scorer
        )
        for p in keys:
            j = best.get(p.arxiv_id)
            if j is None or (j.relevance or 0) < settings.site.min_relevance:
                continue
            shard = shard_of.get(p.date)
            if shard is None:
                key = shard_key(p.date)
                shard = shard_of[p.date] = plan.shards.setdefault(key, _Shard(key))
            shard.judged.setdefault(name, []).append((p, j))
            tags.add(j.tags)
            if p.arxiv_id not in used:
                used.add(p.arxiv_id)
                shard.papers.append(p)
    return plan


_STATE = "data/state.json"


class _Output:
    """The folder a build writes: every file put there, the ones that changed, and each
    shard's signature (``data/state.json``) so that an unchanged shard is not rewritten."""

    def __init__(self, folder: Path, result: SiteResult) -> None:
        self.folder = folder
        self.result = result
        self.old_state = _read_state(folder / _STATE)
        # what this build writes, and only that (site_profiles puts every profile the site
        # shows into the build, so no other profile's signatures are left to keep)
        self.state: dict[str, str] = {}
        self.written: set[Path] = set()

    def put(self, rel: str, text: str) -> None:
        path = self.folder / rel
        self.written.add(path)
        if write_atomic(path, text):
            self.result.changed.append(path)
        else:
            self.result.unchanged += 1

    def fresh(self, rel: str, sig: str) -> bool:
        """Unchanged since the last build: keep the file as it is."""
        self.state[rel] = sig
        path = self.folder / rel
        if self.old_state.get(rel) == sig and path.is_file():
            self.written.add(path)
            self.result.unchanged += 1
            return True
        return False

    def save_state(self) -> None:
        self.put(
            _STATE,
            json.dumps({"format": FORMAT, "shards": self.state}, indent=0, sort_keys=True) + "\n",
        )

    def prune(self, names: Sequence[str]) -> None:
        """Shards no longer produced (the kept period moved on), and the old one-file layout."""
        for sub in ["data/text", *(f"data/p/{n}" for n in names)]:
            folder = self.folder / sub
            if folder.is_dir():
                for f in folder.iterdir():
                    if _SHARD_FILE.match(f.name) and f not in self.written:
                        f.unlink()
        for name in names:
            (self.folder / "data" / f"{name}.js").unlink(missing_ok=True)


_Stale = tuple[str, str, _Shard]  # (file, profile or "" for the text, shard)


def _sign_shards(plan: _Plan, out: _Output) -> tuple[dict[str, list[dict[str, Any]]], list[_Stale]]:
    """Each profile's shard list (its manifest), and the shard files whose signature changed."""
    manifests: dict[str, list[dict[str, Any]]] = {name: [] for name in plan.profiles}
    stale: list[_Stale] = []
    for key in plan.order:
        shard = plan.shards[key]
        tsig = _sig(
            "text",
            *(
                f"{p.arxiv_id}|{p.version}|{p.text_hash}|{p.modified}|{p.primary_category}|{p.date}"
                for p in shard.papers
            ),
        )
        if not out.fresh(f"data/text/{key}.js", tsig):
            stale.append((f"data/text/{key}.js", "", shard))
        for name in plan.profiles:
            rows = shard.judged.get(name)
            if not rows:
                continue
            rows.sort(key=lambda pj: _order(pj[0].date, pj[1].relevance or 0, pj[0].arxiv_id))
            sig = _sig("judged", name, *(f"{p.arxiv_id}|{p.date}|{j.id}" for p, j in rows))
            manifests[name].append(_manifest_entry(shard, rows, sig, tsig))
            if not out.fresh(f"data/p/{name}/{key}.js", sig):
                stale.append((f"data/p/{name}/{key}.js", name, shard))
    return manifests, stale


def _write_shards(session: Session, stale: Sequence[_Stale], out: _Output) -> None:
    """The shards that changed: their text and judgements, read in one pass."""
    texts = store.paper_texts(
        session, {p.arxiv_id for _, n, sh in stale if not n for p in sh.papers}
    )
    judgements = store.judgement_rows(
        session, {j.id for _, name, sh in stale if name for _, j in sh.judged[name]}
    )
    for rel, name, shard in stale:
        if not name:
            recs = [
                _paper_part(texts[p.arxiv_id], p.date) for p in shard.papers if p.arxiv_id in texts
            ]
            out.put(rel, _data_js({"kind": "text", "k": shard.key, "papers": recs}))
            continue
        judged = [
            _judged(p.arxiv_id, judgements[j.id])
            for p, j in shard.judged[name]
            if j.id in judgements
        ]
        out.put(
            rel, _data_js({"kind": "judged", "k": shard.key, "papers": judged, "profile": name})
        )


def _write_manifests(plan: _Plan, manifests: dict[str, list[dict[str, Any]]], out: _Output) -> None:
    for name in plan.profiles:
        count = sum(s["n"] for s in manifests[name])
        out.result.papers[name] = count
        out.put(
            f"data/p/{name}/shards.js",
            _data_js(
                {"count": count, "kind": "shards", "profile": name, "shards": manifests[name]}
            ),
        )


def _data_scripts(
    plan: _Plan,
    manifests: dict[str, list[dict[str, Any]]],
    recent_from: str | None,
    prefix: str,
    selected: Sequence[str],
) -> list[str]:
    """The data files a page's tags load: its manifests, then the shards of the newest
    ``[site] recent_days`` (older ones load when a view needs them)."""
    srcs = [f"{prefix}data/p/{quote(n)}/shards.js" for n in selected]
    for key in plan.order:
        entries = [(n, e) for n in selected for e in manifests[n] if e["k"] == key]
        if not entries or (recent_from is not None and entries[0][1]["to"] < recent_from):
            continue
        srcs.append(f"{prefix}data/text/{key}.js")
        srcs.extend(f"{prefix}data/p/{quote(n)}/{key}.js" for n, _ in entries)
    return srcs


def _page_tags(plan: _Plan, prof: Profile) -> list[str]:
    """A profile page's tag filter: the profile's tags and every tag its judgements give."""
    judged = {
        t for raw in plan.raw_tags[prof.name] for t in (clean(str(x)) for x in store.json_list(raw))
    }
    return sorted(set(prof.tags) | (judged - {""}))


def _write_pages(
    settings: Settings,
    plan: _Plan,
    manifests: dict[str, list[dict[str, Any]]],
    out: _Output,
) -> None:
    """Each profile's page and the index of them all."""
    recent_from = None
    if plan.newest is not None and settings.site.recent_days > 0:
        recent_from = (plan.newest - dt.timedelta(days=settings.site.recent_days - 1)).isoformat()
    names = list(plan.profiles)
    all_tags: set[str] = set()
    for name, prof in plan.profiles.items():
        tags = _page_tags(plan, prof)
        all_tags.update(tags)
        nav = [("All profiles", "../index.html", False)] + [
            (n, f"../{quote(n)}/index.html", n == name) for n in names
        ]
        scripts = _data_scripts(plan, manifests, recent_from, "../", [name])
        out.put(
            f"{name}/index.html",
            _page(
                title=f"{name} · arxivfilter",
                root="../",
                scripts=["../assets/minisearch.js", *scripts, "../assets/app.js"],
                kind="profile",
                heading=name,
                intro=clean(prof.description),
                nav=nav,
                tags=tags,
                profiles=[name],
                count=out.result.papers[name],
                newest=plan.newest,
                page_size=settings.site.page_size,
            ),
        )
    scripts = _data_scripts(plan, manifests, recent_from, "", names)
    out.put(
        "index.html",
        _page(
            title="arxivfilter",
            root="",
            scripts=["assets/minisearch.js", *scripts, "assets/app.js"],
            kind="index",
            heading="arxivfilter",
            intro="Papers judged against each topic profile. Pick a profile, or search them all.",
            nav=[("All profiles", "index.html", True)]
            + [(n, f"{quote(n)}/index.html", False) for n in names],
            tags=sorted(all_tags),
            profiles=names,
            count=sum(out.result.papers.values()),
            newest=plan.newest,
            page_size=settings.site.page_size,
        ),
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
    """Write the site for ``profiles`` into ``folder`` (default ``[site] dir``).

    Incremental: light rows (ids, text hashes, judgement ids, no text) give every shard a
    signature; a shard whose signature is the one recorded in ``data/state.json`` and whose
    file exists is not read from the database or written again."""
    for prof in profiles:
        if not _SAFE_NAME.match(prof.name):
            raise UsageError(
                f"profile {prof.name!r}: a site page needs a name of letters, digits, '.', '_', '-'"
            )
    out_dir = Path(folder if folder is not None else settings.site.dir)
    with paused_gc():
        plan = _plan(session, settings, profiles, categories, scorer)
        result = SiteResult(folder=out_dir, newest=plan.newest)
        out = _Output(out_dir, result)
        for name in ASSETS:
            out.put(f"assets/{name}", _asset(name))
        manifests, stale = _sign_shards(plan, out)
        _write_shards(session, stale, out)
        _write_manifests(plan, manifests, out)
        out.save_state()
        _write_pages(settings, plan, manifests, out)
        out.prune(list(plan.profiles))
    log.info(
        "site written",
        folder=str(out_dir),
        papers=result.papers,
        changed=len(result.changed),
        shards=len(plan.shards),
    )
    return result
