"""The running log ``digests/<profile>/README.md``: one section per announcement date.

In the style of the popular daily paper lists: a header with shields.io badges (papers
listed, latest listing, categories), then the days newest first, each paper a bullet with
its tags as code spans and its title linked to arXiv, its TL;DR quoted beneath.

Each day sits between two HTML comment markers that carry its date and paper count, so
:func:`update_log` can replace one day and recompute the header from the text alone.
Escaped text never starts a line, so no title can forge a marker.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from arxivfilter.config import Profile
from arxivfilter.models import ListedPaper
from arxivfilter.report.digest import excerpt, select_listed, title_md
from arxivfilter.report.escape import code_span, collapse, escape_md, escape_quote, safe_url

_START = "<!-- arxivfilter:day {date} papers={n} -->"
_END = "<!-- arxivfilter:end {date} -->"
_SECTION = re.compile(
    r"^<!-- arxivfilter:day (\d{4}-\d{2}-\d{2}) papers=(\d+) -->\n"
    r".*?^<!-- arxivfilter:end \1 -->$",
    re.MULTILINE | re.DOTALL,
)
_BADGE = "https://img.shields.io/badge/{label}-{message}-{color}"


def badge_url(label: str, message: str, color: str) -> str:
    """A shields.io static badge URL (dashes and underscores doubled, then URL-escaped)."""

    def part(s: str) -> str:
        return quote(collapse(s).replace("-", "--").replace("_", "__"), safe="")

    return _BADGE.format(label=part(label), message=part(message), color=part(color))


def _badge(label: str, message: str, color: str) -> str:
    return f"![{escape_md(f'{label}: {message}')}]({badge_url(label, message, color)})"


def _bullet(paper: ListedPaper) -> str:
    tags = " ".join(t for t in (code_span(t) for t in paper.tags) if t)
    head = f"- {tags} " if tags else "- "
    extra = f" · updated v{paper.updated_version}" if paper.updated_version is not None else ""
    link = f"[{title_md(paper)}]({safe_url(paper.arxiv_id)})"
    summary = paper.tldr or paper.reason or excerpt(paper.abstract)
    tldr = escape_md(summary, tex=True) or "–"
    return f"{head}{link} ({paper.relevance}/100){extra}\n  > **TL;DR**: {tldr}"


def render_section(profile: Profile, date: dt.date, papers: Iterable[ListedPaper]) -> str:
    """One day's section with its markers; ``""`` when the day has no paper at all. A day
    whose papers all score below the threshold says so (it was read, nothing made the cut)."""
    papers = list(papers)
    if not papers:
        return ""
    listed, _ = select_listed(papers, profile.threshold)
    day = date.isoformat()
    n = len({p.arxiv_id for p in papers})
    body = [_bullet(p) for p in listed] or [
        f"Nothing at or above {profile.threshold}/100 among {n} paper{'' if n == 1 else 's'}."
    ]
    lines = [
        _START.format(date=day, n=len(listed)),
        f"## [{day}]({date:%Y}/{day}.md)",
        "",
        *body,
        "",
        _END.format(date=day),
    ]
    return "\n".join(lines)


def parse_sections(text: str | None) -> dict[dt.date, tuple[int, str]]:
    """The day sections of an existing log: date -> (paper count, section text)."""
    found: dict[dt.date, tuple[int, str]] = {}
    for m in _SECTION.finditer(text or ""):
        try:
            day = dt.date.fromisoformat(m.group(1))
        except ValueError:
            continue
        found[day] = (int(m.group(2)), m.group(0))
    return found


def _assemble(
    profile: Profile, sections: Mapping[dt.date, tuple[int, str]], categories: list[str]
) -> str:
    total = sum(n for n, _ in sections.values())
    latest = max(sections).isoformat() if sections else "none"
    cats = ", ".join(collapse(c) for c in categories if collapse(c)) or "all"
    lines = [
        f"# {escape_md(profile.name)}: daily arXiv papers",
        "",
        " ".join(
            [
                _badge("papers listed", str(total), "blue"),
                _badge("latest listing", latest, "green"),
                _badge("categories", cats, "orange"),
            ]
        ),
        "",
    ]
    description = escape_quote(profile.description)
    if description:
        lines += [description, ""]
    lines.append(
        f"Papers scoring at least {profile.threshold}/100 for this profile, newest day first;"
        " each date links to that day's full digest."
    )
    for day in sorted(sections, reverse=True):
        lines += ["", sections[day][1]]
    return "\n".join(lines) + "\n"


def render_log(
    profile: Profile,
    sections: Mapping[dt.date, list[ListedPaper]],
    *,
    categories: list[str],
) -> str:
    """The whole log from every day's papers (days with nothing listed get no section)."""
    blocks: dict[dt.date, tuple[int, str]] = {}
    for day, papers in sections.items():
        block = render_section(profile, day, papers)
        if block:
            blocks[day] = (len(select_listed(papers, profile.threshold)[0]), block)
    return _assemble(profile, blocks, categories)


def update_log(
    existing: str | None,
    profile: Profile,
    date: dt.date,
    listed: list[ListedPaper],
    *,
    categories: list[str],
) -> str:
    """``existing`` with ``date``'s section replaced (removed when nothing is listed) and
    the header recomputed; equals :func:`render_log` over the same days."""
    blocks = parse_sections(existing)
    blocks.pop(date, None)
    block = render_section(profile, date, listed)
    if block:
        blocks[date] = (len(select_listed(listed, profile.threshold)[0]), block)
    return _assemble(profile, blocks, categories)
