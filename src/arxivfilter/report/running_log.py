"""The running log: ``digests/<profile>/README.md`` (the latest weeks) and monthly archives.

In the style of the popular daily paper lists: a header with shields.io badges (papers
listed, latest listing, categories), then the days newest first, each paper a bullet with
its tags as code spans and its title linked to arXiv, its TL;DR quoted beneath, then links to
the monthly archive pages ``digests/<profile>/<YYYY>/<YYYY-MM>.md`` that hold every day.

Everything here is rendered from the database alone (``report/outputs.py`` asks it for the
days), never from the previous file, so a deleted or mangled README loses nothing, and the
same judgements render the same bytes. Each file stays small: the README holds
``[report] log_weeks`` weeks, an archive page one month (about 0.5 KB per listed paper).

Each day sits between two HTML comment markers that carry its date and paper count
(:func:`parse_sections` reads them back); an archive page ends with a marker holding the
SHA-256 of the rest, so a damaged page is detected and rebuilt. Escaped text never starts a
line, so no title can forge a marker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
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
_MONTH_END = "<!-- arxivfilter:month {month} sha256={sha} -->"
_MONTH_END_RE = re.compile(r"\n<!-- arxivfilter:month (\d{4}-\d{2}) sha256=([0-9a-f]{64}) -->\n\Z")
_BADGE = "https://img.shields.io/badge/{label}-{message}-{color}"
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

Month = tuple[int, int]  # (year, month)


def badge_url(label: str, message: str, color: str) -> str:
    """A shields.io static badge URL (dashes and underscores doubled, then URL-escaped)."""

    def part(s: str) -> str:
        return quote(collapse(s).replace("-", "--").replace("_", "__"), safe="")

    return _BADGE.format(label=part(label), message=part(message), color=part(color))


def _badge(label: str, message: str, color: str) -> str:
    return f"![{escape_md(f'{label}: {message}')}]({badge_url(label, message, color)})"


def month_path(root: Path, profile_name: str, month: Month) -> Path:
    """``root/<profile>/<YYYY>/<YYYY-MM>.md``: the archive page of one month."""
    year, mon = month
    return root / profile_name / f"{year:04d}" / f"{year:04d}-{mon:02d}.md"


def log_start(newest: dt.date, weeks: int) -> dt.date:
    """The first day the README shows: ``weeks`` weeks counted back from ``newest``."""
    return newest - dt.timedelta(days=7 * weeks - 1)


def _bullet(paper: ListedPaper) -> str:
    tags = " ".join(t for t in (code_span(t) for t in paper.tags) if t)
    head = f"- {tags} " if tags else "- "
    extra = f" · updated v{paper.updated_version}" if paper.updated_version is not None else ""
    link = f"[{title_md(paper)}]({safe_url(paper.arxiv_id)})"
    summary = paper.tldr or paper.reason or excerpt(paper.abstract)
    tldr = escape_md(summary, tex=True) or "–"
    return f"{head}{link} ({paper.relevance}/100){extra}\n  > **TL;DR**: {tldr}"


def render_section(
    profile: Profile,
    date: dt.date,
    papers: Iterable[ListedPaper],
    *,
    scanned: int | None = None,
    in_year_folder: bool = False,
) -> str:
    """One day's section with its markers; ``""`` when the day has no paper at all. A day
    whose papers all score below the threshold says so (it was read, nothing made the cut).

    ``papers``: the day's judged papers (at least those that may be listed); ``scanned``:
    how many papers the day had (default: ``papers``). ``in_year_folder``: the section is on
    an archive page, beside the day's digest.
    """
    papers = list(papers)
    n = scanned if scanned is not None else len({p.arxiv_id for p in papers})
    if not papers and not n:
        return ""
    listed, _ = select_listed(papers, profile.threshold)
    day = date.isoformat()
    link = f"{day}.md" if in_year_folder else f"{date:%Y}/{day}.md"
    body = [_bullet(p) for p in listed] or [
        f"Nothing at or above {profile.threshold}/100 among {n} paper{'' if n == 1 else 's'}."
    ]
    lines = [
        _START.format(date=day, n=len(listed)),
        f"## [{day}]({link})",
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


def _sections(
    profile: Profile,
    days: Mapping[dt.date, list[ListedPaper]],
    scanned: Mapping[dt.date, int] | None,
    *,
    in_year_folder: bool = False,
) -> tuple[int, list[str]]:
    """(papers listed, section texts newest first) of the days."""
    total = 0
    blocks: list[str] = []
    for day in sorted(days, reverse=True):
        n = (scanned or {}).get(day)
        block = render_section(profile, day, days[day], scanned=n, in_year_folder=in_year_folder)
        if block:
            total += len(select_listed(days[day], profile.threshold)[0])
            blocks.append(block)
    return total, blocks


def render_log(
    profile: Profile,
    sections: Mapping[dt.date, list[ListedPaper]],
    *,
    categories: list[str],
    months: Sequence[Month] = (),
    scanned: Mapping[dt.date, int] | None = None,
    weeks: int | None = None,
    latest: dt.date | None = None,
) -> str:
    """The README: the days of ``sections`` (the latest ``weeks`` weeks), then links to the
    archive pages of ``months``. ``latest``: the newest listing (default: the newest day)."""
    total, blocks = _sections(profile, sections, scanned)
    newest = latest or (max(sections) if sections else None)
    cats = ", ".join(collapse(c) for c in categories if collapse(c)) or "all"
    label = "papers listed" if weeks is None else f"listed in {weeks} weeks"
    lines = [
        f"# {escape_md(profile.name)}: daily arXiv papers",
        "",
        " ".join(
            [
                _badge(label, str(total), "blue"),
                _badge("latest listing", newest.isoformat() if newest else "none", "green"),
                _badge("categories", cats, "orange"),
            ]
        ),
        "",
    ]
    description = escape_quote(profile.description)
    if description:
        lines += [description, ""]
    span = "" if weeks is None else f" of the latest {weeks} week{'s' if weeks != 1 else ''}"
    lines.append(
        f"Papers scoring at least {profile.threshold}/100 for this profile{span}, newest day"
        " first; each date links to that day's full digest."
        + (" Older days are in the monthly archive below." if months else "")
    )
    for block in blocks:
        lines += ["", block]
    if months:
        lines += ["", "## Archive", ""]
        for year, mon in sorted(months, reverse=True):
            lines.append(f"- [{_MONTHS[mon - 1]} {year}]({year:04d}/{year:04d}-{mon:02d}.md)")
    return "\n".join(lines) + "\n"


def render_month(
    profile: Profile,
    month: Month,
    sections: Mapping[dt.date, list[ListedPaper]],
    *,
    scanned: Mapping[dt.date, int] | None = None,
) -> str:
    """The archive page of one month: every day of it, newest first, and a closing marker
    with the SHA-256 of the page above it (:func:`month_intact` checks it)."""
    year, mon = month
    total, blocks = _sections(profile, sections, scanned, in_year_folder=True)
    lines = [
        f"# {escape_md(profile.name)}: arXiv papers of {_MONTHS[mon - 1]} {year}",
        "",
        f"{total} paper{'' if total == 1 else 's'} scoring at least {profile.threshold}/100,"
        " newest day first; each date links to that day's full digest."
        " [Latest days](../README.md).",
    ]
    for block in blocks:
        lines += ["", block]
    body = "\n".join(lines) + "\n"
    sha = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return body + "\n" + _MONTH_END.format(month=f"{year:04d}-{mon:02d}", sha=sha) + "\n"


def month_intact(text: str | None, month: Month) -> bool:
    """True when ``text`` is an archive page of ``month`` that nobody changed since it was
    rendered (its closing marker's SHA-256 matches)."""
    if not text:
        return False
    m = _MONTH_END_RE.search(text)
    if m is None or m.group(1) != f"{month[0]:04d}-{month[1]:02d}":
        return False
    body = text[: m.start()]
    return hashlib.sha256(body.encode("utf-8")).hexdigest() == m.group(2)
