"""The thresholded digest of one profile for one announcement date (pure rendering).

``digests/<profile>/<YYYY>/<YYYY-MM-DD>.md``: a header with the counts line, the listed
papers (relevance, hype, arxiv_id order) separated by ``---``, then the papers that were
not scored, so nothing disappears silently. Same input, same bytes.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from arxivfilter.config import Profile
from arxivfilter.models import ListedPaper
from arxivfilter.report.escape import code_span, collapse, escape_md, escape_quote, safe_url

_TYPE_RANK = {"new": 0, "cross": 1, "replace": 2, "replace-cross": 3}
_REPLACEMENTS = ("replace", "replace-cross")
UNTITLED = "(untitled)"


def digest_path(root: Path, profile_name: str, date: dt.date) -> Path:
    """``root/<profile>/<YYYY>/<YYYY-MM-DD>.md``."""
    return root / profile_name / f"{date:%Y}" / f"{date.isoformat()}.md"


def is_listed(paper: ListedPaper, threshold: int) -> bool:
    """The listing rule: judged ok, relevance >= threshold, and new/cross or a replacement
    whose text changed (``updated_version``) that newly reaches the threshold."""
    if paper.status != "ok" or paper.relevance is None or paper.relevance < threshold:
        return False
    if paper.announce_type not in _REPLACEMENTS:
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
    return paper.announce_type not in _REPLACEMENTS or paper.updated_version is not None


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
        if cur is None or _TYPE_RANK.get(p.announce_type, 9) < _TYPE_RANK.get(cur.announce_type, 9):
            best[p.arxiv_id] = p
    return [best[k] for k in sorted(best)]


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


def _entry(paper: ListedPaper, excerpt_chars: int) -> list[str]:
    hype = f"{paper.hype}/100" if paper.hype is not None else "–"
    score = f"**Relevance: {paper.relevance}/100 | Hype: {hype}**"
    reason = escape_md(paper.reason)
    lines = [f"### {title_md(paper)}", "", f"{score} — {reason}" if reason else score, ""]
    tags = " ".join(t for t in (code_span(t) for t in paper.tags) if t)
    meta = [f"Announced {paper.date.isoformat()}"]
    if paper.announce_type == "cross":
        meta.append("cross-list")
    if paper.announce_type in _REPLACEMENTS and paper.updated_version is not None:
        meta.append(f"updated v{paper.updated_version}")
    meta.append(f"[abstract]({safe_url(paper.arxiv_id)})")
    meta.append(f"[PDF]({safe_url(paper.arxiv_id, 'pdf')})")
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
    if quote:
        lines += ["", quote]
    return lines


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
) -> str:
    """The digest Markdown of ``profile`` for announcement ``date`` (``papers``: every
    distinct paper of the day with its judgement; the rule picks what is listed)."""
    listed, failed = select_listed(papers, profile.threshold)
    lines = [f"# {escape_md(profile.name)}: arXiv digest for {date.isoformat()}", ""]
    description = escape_quote(profile.description)
    if description:
        lines += [description, ""]
    if scorer == "local":
        lines += ["*Scored offline by the local scorer: relevance only, no hype scores.*", ""]
    lines.append(
        f"**{len(listed)}** papers above threshold ({profile.threshold}/100)"
        f" out of **{total_scanned}** total scanned."
    )
    if damaged:
        some = "1 source record was" if damaged == 1 else f"{damaged} source records were"
        lines += ["", f"**Incomplete:** {some} damaged and could not be read."]
    if failed:
        some = "1 paper was" if len(failed) == 1 else f"{len(failed)} papers were"
        lines += ["", f"{some} not scored; see the end of this digest."]
    for paper in listed:
        lines += ["", "---", ""]
        lines += _entry(paper, excerpt_chars)
    if failed:
        lines += ["", "---", "", f"## Not scored ({len(failed)})", ""]
        lines += [_unscored(p) for p in failed]
    return "\n".join(lines) + "\n"
