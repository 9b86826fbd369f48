"""The thresholded digest of one profile for one announcement date (pure rendering).

``digests/<profile>/<YYYY>/<YYYY-MM-DD>.md``: a header with the counts line, the listed
papers (relevance, hype, arxiv_id order) separated by ``---``, then the papers that were
not scored, so nothing disappears silently. Same input, same bytes.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from arxivfilter.config import Profile
from arxivfilter.ingest import type_rank
from arxivfilter.models import REPLACEMENTS, ListedPaper
from arxivfilter.report.escape import code_span, collapse, escape_md, escape_quote, safe_url

UNTITLED = "(untitled)"


def digest_path(root: Path, profile_name: str, date: dt.date) -> Path:
    """``root/<profile>/<YYYY>/<YYYY-MM-DD>.md``."""
    return root / profile_name / f"{date:%Y}" / f"{date.isoformat()}.md"


def is_listed(paper: ListedPaper, threshold: int) -> bool:
    """The listing rule: judged ok, relevance >= threshold, and new/cross or a replacement
    whose text changed (``updated_version``) that newly reaches the threshold."""
    if paper.status != "ok" or paper.relevance is None or paper.relevance < threshold:
        return False
    if paper.announce_type not in REPLACEMENTS:
        return True
    return paper.updated_version is not None and (
        paper.previous_relevance is None or paper.previous_relevance < threshold
    )


def is_unscored(paper: ListedPaper) -> bool:
    """Scoring failed, or a paper that should have been judged was not (e.g. ``--max-cost``).

    Replacements whose text did not change need no judgement and are never reported.
    """
    if paper.status == "failed":
        return True
    if paper.status is not None:
        return False
    return paper.announce_type not in REPLACEMENTS or paper.updated_version is not None


def sort_key(paper: ListedPaper) -> tuple[int, int, int, str]:
    """Relevance desc, hype desc (None last), arxiv_id asc."""
    return (
        -(paper.relevance or 0),
        0 if paper.hype is not None else 1,
        -(paper.hype or 0),
        paper.arxiv_id,
    )


def distinct(papers: Iterable[ListedPaper]) -> list[ListedPaper]:
    """One record per arxiv_id (the strongest announcement type wins), in id order."""
    best: dict[str, ListedPaper] = {}
    for p in papers:
        cur = best.get(p.arxiv_id)
        if cur is None or type_rank(p.announce_type) < type_rank(cur.announce_type):
            best[p.arxiv_id] = p
    return [best[k] for k in sorted(best)]


def just_missed(
    papers: Iterable[ListedPaper], threshold: int, margin: int, limit: int
) -> list[ListedPaper]:
    """The best ``limit`` papers scoring in ``[threshold - margin, threshold)`` that the
    listing rule would list at a lower threshold, in digest order."""
    if margin <= 0 or limit <= 0:
        return []
    floor = max(0, threshold - margin)
    near = [
        p
        for p in distinct(papers)
        if p.relevance is not None and p.relevance < threshold and is_listed(p, floor)
    ]
    return sorted(near, key=sort_key)[:limit]


def select_listed(
    papers: Iterable[ListedPaper], threshold: int
) -> tuple[list[ListedPaper], list[ListedPaper]]:
    """``(listed, unscored)``: the papers to list in digest order, and the failed or
    missing judgements by arxiv_id. Duplicated ids count once."""
    unique = distinct(papers)
    listed = sorted((p for p in unique if is_listed(p, threshold)), key=sort_key)
    failed = [p for p in unique if is_unscored(p)]
    return listed, failed


def excerpt(text: str | None, limit: int = 200) -> str:
    """About ``limit`` characters of ``text``, cut at a word boundary, with an ellipsis."""
    s = collapse(text)
    if len(s) <= limit:
        return s
    cut = s[:limit]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    else:  # no usable word boundary (CJK, one long token): keep whole characters
        while cut and unicodedata.combining(cut[-1]):
            cut = cut[:-1]
    return cut.rstrip(" ,;:.-") + "…"


def authors_line(authors: list[str], limit: int = 3) -> str:
    """First ``limit`` authors, escaped, then "et al."."""
    names = [escape_md(a) for a in authors if collapse(a)]
    shown = ", ".join(names[:limit])
    return shown + (" et al." if len(names) > limit else "")


def title_md(paper: ListedPaper) -> str:
    """The escaped title, or a placeholder for an empty one."""
    return escape_md(paper.title, tex=True) or UNTITLED


def feedback_link(template: str, profile: str, arxiv_id: str) -> str:
    """``[report] feedback_url`` with ``{id}`` and ``{profile}`` filled in (URL-quoted)."""
    return template.replace("{id}", quote(arxiv_id, safe="")).replace(
        "{profile}", quote(profile, safe="")
    )


def like_command(profile: str, arxiv_id: str) -> str:
    """The exact command that records a like of ``arxiv_id`` for ``profile``."""
    return f"arxivfilter like {arxiv_id} --profile {profile}"


def _feedback_footer(profile: Profile, listed: list[ListedPaper]) -> list[str]:
    example = code_span(like_command(profile.name, listed[0].arxiv_id))
    return [
        "",
        f"*Liked a paper?* {example} records it and the next run learns from it (`dislike`"
        " for the opposite, `like --undo` to take it back, `arxivfilter feedback` lists them).",
    ]


def _entry(paper: ListedPaper, excerpt_chars: int, like_url: str = "") -> list[str]:
    score = f"**Relevance: {paper.relevance}/100"
    score += f" | Hype: {paper.hype}/100**" if paper.hype is not None else "**"
    reason = escape_md(paper.reason)
    lines = [f"### {title_md(paper)}", "", f"{score} — {reason}" if reason else score, ""]
    tags = " ".join(t for t in (code_span(t) for t in paper.tags) if t)
    meta = [f"Announced {paper.date.isoformat()}"]
    if paper.announce_type == "cross":
        meta.append("cross-list")
    if paper.announce_type in REPLACEMENTS and paper.updated_version is not None:
        meta.append(f"updated v{paper.updated_version}")
    meta.append(f"[abstract]({safe_url(paper.arxiv_id)})")
    meta.append(f"[PDF]({safe_url(paper.arxiv_id, 'pdf')})")
    if like_url:
        meta.append(f"[like]({like_url})")
    info = []
    authors = authors_line(paper.authors)
    if authors:
        info.append(f"Authors: {authors}")
    if tags:
        info.append(f"Tags: {tags}")
    info.append(" · ".join(meta))
    lines.append("\\\n".join(info))  # backslash hard breaks survive whitespace trimming
    tldr = escape_md(paper.tldr, tex=True)
    if tldr:
        lines += ["", f"**TL;DR**: {tldr}"]
    quote = escape_quote(excerpt(paper.abstract, excerpt_chars), tex=True)
    if quote and not _repeats(paper.tldr, paper.abstract, excerpt_chars):
        lines += ["", quote]
    return lines


def _words(text: str | None) -> list[str]:
    return re.findall(r"\w+", (text or "").lower())


def _repeats(tldr: str | None, abstract: str | None, excerpt_chars: int) -> bool:
    """True when the excerpt would mostly repeat the TL;DR (a local TL;DR taken from the
    abstract's opening): then the excerpt adds nothing and is left out."""
    said = set(_words(tldr))
    shown = _words(excerpt(abstract, excerpt_chars))
    if not said or not shown:
        return False
    return sum(w in said for w in shown) >= 0.6 * len(shown)


def _near_miss(paper: ListedPaper) -> str:
    link = f"[{title_md(paper)}]({safe_url(paper.arxiv_id)})"
    reason = escape_md(paper.reason)
    return f"- {link} ({paper.relevance}/100)" + (f" — {reason}" if reason else "")


def _tag_legend(profile: Profile, listed: list[ListedPaper]) -> list[str]:
    """Counts per tag of the listed papers, then what each of those tags means (collapsed)."""
    counts: dict[str, int] = {}
    for p in listed:
        for t in p.tags:
            counts[t] = counts.get(t, 0) + 1
    if not counts:
        return []
    order = sorted(counts, key=lambda t: (-counts[t], t))
    line = "**Tags today**: " + " · ".join(f"{code_span(t)} {counts[t]}" for t in order)
    legend = [f"{code_span(t)}: {escape_md(profile.tags[t])}" for t in order if profile.tags.get(t)]
    if not legend:
        return [line]
    body = "\\\n".join(legend)  # one paragraph, a tag a line (backslash hard breaks)
    return [line, "", "<details>", "<summary>Tag legend</summary>", "", body, "", "</details>"]


def opener(
    listed: int,
    scanned: int,
    threshold: int,
    categories: list[str] | None,
    missed: int,
    margin: int,
) -> str:
    """The line a reader reads first: what was listed, of what, from where."""
    cats = ", ".join(collapse(c) for c in categories) if categories else "all categories"
    line = (
        f"**{listed}** of **{scanned}** paper{'' if scanned == 1 else 's'} listed"
        f" (relevance ≥ {threshold}/100), scanned in {escape_md(cats)}"
    )
    if missed:
        line += f"; {missed} just missed ({max(0, threshold - margin)}–{threshold - 1})"
    return line + "."


def _unscored(paper: ListedPaper) -> str:
    if paper.status == "failed":
        why = "scoring failed: " + (escape_md(paper.error) or "no reason recorded")
    else:
        why = "not scored yet"
    url = safe_url(paper.arxiv_id)  # validates the id, which is then safe to show as is
    link = f"[arXiv:{paper.arxiv_id}]({url})"
    return f"- **{title_md(paper)}** ({link}) — {why}"


def render_digest(
    profile: Profile,
    date: dt.date,
    papers: list[ListedPaper],
    *,
    total_scanned: int,
    scorer: str,
    excerpt_chars: int = 200,
    damaged: int = 0,
    categories: list[str] | None = None,
    missed_margin: int = 10,
    missed_max: int = 5,
    feedback_url: str = "",
) -> str:
    """The digest Markdown of ``profile`` for announcement ``date`` (``papers``: every
    distinct paper of the day with its judgement; the rule picks what is listed).

    ``categories``: what the day scanned (None = all); the next ``missed_max`` papers within
    ``missed_margin`` below the threshold are listed, collapsed, under "Just missed".
    ``feedback_url``: ``[report] feedback_url``, a link per listed paper (none when empty);
    a digest that lists papers ends with the ``arxivfilter like`` command."""
    listed, failed = select_listed(papers, profile.threshold)
    missed = just_missed(papers, profile.threshold, missed_margin, missed_max)
    counts = opener(
        len(listed), total_scanned, profile.threshold, categories, len(missed), missed_margin
    )
    lines = _header(profile, date, counts, scorer, listed)
    lines += _warnings(damaged, len(failed))
    for paper in listed:
        lines += ["", "---", ""]
        url = feedback_link(feedback_url, profile.name, paper.arxiv_id) if feedback_url else ""
        lines += _entry(paper, excerpt_chars, url)
    if missed:
        lines += _just_missed_section(missed, profile.threshold, missed_margin)
    if failed:
        lines += ["", "---", "", f"## Not scored ({len(failed)})", ""]
        lines += [_unscored(p) for p in failed]
    if listed:
        lines += _feedback_footer(profile, listed)
    return "\n".join(lines) + "\n"


def _header(
    profile: Profile, date: dt.date, counts: str, scorer: str, listed: list[ListedPaper]
) -> list[str]:
    """The title, the counts line, the profile's description, the local-scorer note and the
    tag legend, one blank line between them."""
    lines = [f"# {escape_md(profile.name)}: arXiv digest for {date.isoformat()}", ""]
    lines += [counts, ""]
    description = escape_quote(profile.description)
    if description:
        lines += [description, ""]
    if scorer == "local":
        lines += ["*Scored offline by the local scorer: relevance only, no hype scores.*", ""]
    legend = _tag_legend(profile, listed)
    if legend:
        lines += [*legend, ""]
    if lines[-1] == "":
        lines.pop()
    return lines


def _warnings(damaged: int, failed: int) -> list[str]:
    """What the reader should know before the papers: damaged source records, unscored papers."""
    lines: list[str] = []
    if damaged:
        some = "1 source record was" if damaged == 1 else f"{damaged} source records were"
        lines += ["", f"**Incomplete:** {some} damaged and could not be read."]
    if failed:
        some = "1 paper was" if failed == 1 else f"{failed} papers were"
        lines += ["", f"{some} not scored; see the end of this digest."]
    return lines


def _just_missed_section(missed: list[ListedPaper], threshold: int, margin: int) -> list[str]:
    """The papers just below the threshold, collapsed in a ``<details>`` block."""
    floor = max(0, threshold - margin)
    lines = ["", "---", "", "<details>"]
    lines += [
        f"<summary>Just missed: {len(missed)} paper{'' if len(missed) == 1 else 's'}"
        f" scoring {floor}–{threshold - 1} (lower the threshold to list them)"
        "</summary>",
        "",
    ]
    lines += [_near_miss(p) for p in missed]
    lines += ["", "</details>"]
    return lines
