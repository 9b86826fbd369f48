"""The report stage: from the database to digests, running logs and feeds on disk.

For each profile and date: every distinct paper announced that day in the configured
categories, with the profile's judgement of its current text, rendered by ``digest``,
``log`` and ``feed`` and written atomically by ``write``. Nothing here reads the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Profile, Settings
from arxivfilter.ingest import is_replacement, strongest
from arxivfilter.models import Judgement, ListedPaper
from arxivfilter.report.atom import render_feed
from arxivfilter.report.digest import digest_path, render_digest, select_listed
from arxivfilter.report.running_log import (
    log_start,
    month_intact,
    month_path,
    render_log,
    render_month,
)
from arxivfilter.report.write import write_atomic


@dataclass
class ReportResult:
    changed: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    listed: dict[str, int] = field(default_factory=dict)  # "profile date" -> papers listed

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": [str(p) for p in self.changed],
            "unchanged": len(self.unchanged),
            "listed": self.listed,
        }

    def note(self, path: Path, changed: bool) -> None:
        (self.changed if changed else self.unchanged).append(path)


def _pick(
    judgements: Sequence[Judgement], text_hash: str, profile: Profile, scorer: str
) -> Judgement | None:
    """The profile's judgement of this text: the configured scorer's newest, else any newest."""
    fitting = [
        j for j in judgements if j.text_hash == text_hash and j.profile_hash == profile.content_hash
    ]
    if not fitting:
        return None
    return max(fitting, key=lambda j: (j.scorer == scorer, j.id or 0))


def _judgements(session: Session, ids: Sequence[str], profile: str) -> dict[str, list[Judgement]]:
    return store.judgements_by_paper(session, ids, profile)


def listed_papers(
    session: Session,
    profile: Profile,
    date: dt.date,
    categories: Sequence[str] | None,
    scorer: str,
    *,
    ids: set[str] | None = None,
) -> list[ListedPaper]:
    """Every distinct paper of ``date`` (or those of ``ids``) with its judgement for ``profile``."""
    day = store.papers_on(session, date, categories, ids=ids)
    judged = _judgements(session, [p.arxiv_id for p, _ in day], profile.name)
    replaced = [p.arxiv_id for p, rows in day if is_replacement(strongest(r.type for r in rows))]
    before = store.previous_text_hashes(session, replaced, date) if replaced else {}
    out: list[ListedPaper] = []
    for paper, rows in day:
        mine = judged.get(paper.arxiv_id, [])
        updated: int | None = None
        previous: int | None = None
        if paper.arxiv_id in replaced:
            prev_hash = before.get(paper.arxiv_id)
            if prev_hash is None or prev_hash != rows[0].text_hash:
                updated = max((r.version or 0) for r in rows) or paper.version
            if prev_hash is not None:
                prev = _pick(mine, prev_hash, profile, scorer)
                previous = prev.relevance if prev and prev.status == "ok" else None
        out.append(
            ListedPaper(
                paper,
                date,
                announce_type=strongest(r.type for r in rows),
                updated_version=updated,
                previous_relevance=previous,
                judgement=_pick(mine, paper.text_hash, profile, scorer),
            )
        )
    return out


def feed_papers_of(
    session: Session,
    profile: Profile,
    newest: dt.date,
    days: int,
    categories: Sequence[str] | None,
    scorer: str,
) -> list[ListedPaper]:
    """The judged papers of the ``days`` days up to ``newest`` that may be listed (feed input)."""
    candidates = store.listing_candidates(
        session,
        profile.name,
        profile.threshold,
        date_from=newest - dt.timedelta(days=days - 1),
        date_to=newest,
        categories=categories,
    )
    recent: list[ListedPaper] = []
    for d in sorted(candidates):
        recent.extend(listed_papers(session, profile, d, categories, scorer, ids=candidates[d]))
    return recent


def _log_days(
    session: Session,
    profile: Profile,
    days: Sequence[dt.date],
    categories: Sequence[str] | None,
    scorer: str,
) -> dict[dt.date, list[ListedPaper]]:
    """The papers of ``days`` that may be listed (one candidates query, then those only)."""
    if not days:
        return {}
    candidates = store.listing_candidates(
        session,
        profile.name,
        profile.threshold,
        date_from=min(days),
        date_to=max(days),
        categories=categories,
    )
    out: dict[dt.date, list[ListedPaper]] = {}
    for d in days:
        ids = candidates.get(d)
        out[d] = listed_papers(session, profile, d, categories, scorer, ids=ids) if ids else []
    return out


def write_log(
    session: Session,
    root: Path,
    profile: Profile,
    day_list: Sequence[dt.date],
    *,
    categories: Sequence[str] | None,
    labels: list[str],
    scorer: str,
    weeks: int,
    result: ReportResult,
) -> None:
    """The running log README (the latest ``weeks`` weeks) and the monthly archive pages,
    from the database alone: the pages of this run's months are rendered again, and so is
    any page that is missing or was changed by hand; the README always is."""
    # only days the profile was scored on (a profile added today has no past to show)
    judged = store.judged_dates(session, profile.name, categories)
    if not judged:
        return

    def counts(days: Sequence[dt.date]) -> dict[dt.date, int]:
        """Papers scanned on each of ``days`` (one query over their range, never the history)."""
        if not days:
            return {}
        found = store.paper_counts(session, categories, date_from=min(days), date_to=max(days))
        return {d: found[d] for d in days if d in found}

    newest = max(judged)
    months = sorted({(d.year, d.month) for d in judged}, reverse=True)
    touched = {(d.year, d.month) for d in day_list}
    for month in months:
        path = month_path(root, profile.name, month)
        if month not in touched:
            try:
                current = path.read_text(encoding="utf-8") if path.is_file() else None
            except (OSError, UnicodeDecodeError):
                current = None
            if month_intact(current, month):
                continue
        days = sorted(d for d in judged if (d.year, d.month) == month)
        sections = _log_days(session, profile, days, categories, scorer)
        text = render_month(profile, month, sections, scanned=counts(days))
        result.note(path, write_atomic(path, text))
    recent = sorted(d for d in judged if d >= log_start(newest, weeks))
    scanned = counts(recent)
    readme = render_log(
        profile,
        _log_days(session, profile, recent, categories, scorer),
        categories=labels,
        months=months,
        scanned=scanned,
        weeks=weeks,
        latest=newest,
    )
    path = root / profile.name / "README.md"
    result.note(path, write_atomic(path, readme))


_REPO = re.compile(r"github\.com[:/]+([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


def repository() -> str:
    """The GitHub repository (owner/name) this installation publishes from: the Action's
    ``GITHUB_REPOSITORY``, else the ``origin`` remote of a checkout in the working directory."""
    from arxivfilter.config import env_value

    named = env_value("GITHUB_REPOSITORY")
    if named and re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", named):
        return named
    try:
        text = Path(".git/config").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == '[remote "origin"]' and line.startswith("url"):
            m = _REPO.search(line.partition("=")[2].strip())
            return m.group(1) if m else ""
    return ""


def _digest_scorer(papers: Sequence[ListedPaper], default: str) -> str:
    kinds = {p.scorer for p in papers if p.scorer}
    if kinds == {"local"}:
        return "local"
    if kinds:
        return "llm"
    return default


def write_reports(
    session: Session,
    settings: Settings,
    profiles: Sequence[Profile],
    day_list: Sequence[dt.date],
    *,
    categories: Sequence[str] | None,
    scorer: str,
    damaged: Mapping[dt.date, int] | None = None,
) -> ReportResult:
    """Digests for ``day_list``, then each profile's running log and feed.

    ``damaged``: source records of a date that could not be read (the digest says so)."""
    root = Path(settings.report.digests_dir)
    result = ReportResult()
    base = list(categories) if categories is not None else None
    for profile in profiles:
        scope = profile.scope(base)  # the configured categories and the profile's own
        newest = store.newest_announcement(session, scope)  # the feeds' window ends here
        for date in sorted(set(day_list)):
            broken = (damaged or {}).get(date, 0)
            _write_digest(session, settings, profile, date, scope, scorer, broken, result)
        write_log(
            session,
            root,
            profile,
            day_list,
            categories=scope,
            labels=list(scope) if scope is not None else ["all"],
            scorer=scorer,
            weeks=settings.report.log_weeks,
            result=result,
        )
        if newest is not None:
            _write_feed(session, settings, profile, newest, scope, scorer, result)
    return result


def _write_digest(
    session: Session,
    settings: Settings,
    profile: Profile,
    date: dt.date,
    categories: list[str] | None,
    scorer: str,
    damaged: int,
    result: ReportResult,
) -> None:
    """The profile's digest of ``date`` (none for a date without papers), and its count."""
    papers = listed_papers(session, profile, date, categories, scorer)
    if not papers:
        return
    text = render_digest(
        profile,
        date,
        papers,
        total_scanned=len(papers),
        scorer=_digest_scorer(papers, scorer),
        excerpt_chars=settings.report.excerpt_chars,
        damaged=damaged,
        categories=categories,
        missed_margin=settings.report.just_missed_margin,
        missed_max=settings.report.just_missed_max,
        feedback_url=settings.report.feedback_url,
    )
    path = digest_path(Path(settings.report.digests_dir), profile.name, date)
    result.note(path, write_atomic(path, text))
    listed, _failed = select_listed(papers, profile.threshold)
    result.listed[f"{profile.name} {date.isoformat()}"] = len(listed)


def _write_feed(
    session: Session,
    settings: Settings,
    profile: Profile,
    newest: dt.date,
    categories: list[str] | None,
    scorer: str,
    result: ReportResult,
) -> None:
    """The profile's Atom feed: its listed papers of the ``feed_days`` days up to ``newest``."""
    days = settings.report.feed_days
    recent = feed_papers_of(session, profile, newest, days, categories, scorer)
    feed = render_feed(
        profile,
        recent,
        newest=newest,
        days=days,
        site_url=settings.report.site_url,
        repository=repository(),
        digests_path=settings.report.digests_dir,
    )
    feed_path = Path(settings.report.digests_dir) / profile.name / "feed.xml"
    result.note(feed_path, write_atomic(feed_path, feed))
