"""Which papers of one announcement date a recipient gets (pure, from the database).

A recipient names profiles, optional keywords and an optional minimum relevance. A paper
is chosen when a named profile would list it (the digest's listing rule, with the
recipient's minimum in place of the profile's threshold when one is set) and, when keywords
are given, at least one keyword occurs as whole words in its title, abstract or tags
(case- and punctuation-insensitive: "KV cache" matches "KV-cache"). A paper two profiles
both list is sent once, under the first profile named.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session

from arxivfilter.config import Profile
from arxivfilter.models import ListedPaper
from arxivfilter.report.digest import is_listed, sort_key
from arxivfilter.report.outputs import listed_papers

_NON_WORD = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Recipient:
    """An e-mail subscriber or a webhook, as the selection and the ledger see it."""

    key: str  # the ledger's recipient: the address, or "slack:NAME"
    channel: str  # email | slack | discord
    profiles: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    min_relevance: int | None = None


@dataclass
class Section:
    profile: Profile
    papers: list[ListedPaper] = field(default_factory=list)


@dataclass
class Selection:
    date: dt.date
    sections: list[Section]

    @property
    def count(self) -> int:
        return sum(len(s.papers) for s in self.sections)

    @property
    def papers(self) -> list[ListedPaper]:
        return [p for s in self.sections for p in s.papers]


def _words(text: str) -> str:
    return " " + " ".join(_NON_WORD.sub(" ", text.casefold().replace("_", " ")).split()) + " "


def matches_keywords(paper: ListedPaper, keywords: Sequence[str]) -> bool:
    """True when no keywords are given, or one occurs as whole words in title/abstract/tags."""
    wanted = [w for w in (_words(k) for k in keywords) if w.strip()]
    if not wanted:
        return True
    haystack = _words(" ".join([paper.title, paper.abstract, *paper.tags]))
    return any(w in haystack for w in wanted)


def choose(
    papers_by_profile: Sequence[tuple[Profile, Sequence[ListedPaper]]], recipient: Recipient
) -> list[Section]:
    """The sections a recipient gets from each profile's papers of one day (pure)."""
    seen: set[str] = set()
    sections: list[Section] = []
    for profile, papers in papers_by_profile:
        floor = (
            recipient.min_relevance if recipient.min_relevance is not None else profile.threshold
        )
        picked = sorted(
            (
                p
                for p in papers
                if p.arxiv_id not in seen
                and is_listed(p, floor)
                and matches_keywords(p, recipient.keywords)
            ),
            key=sort_key,
        )
        seen.update(p.arxiv_id for p in picked)
        sections.append(Section(profile, picked))
    return sections


class DayPapers:
    """Each profile's papers of one date, loaded from the database once per date."""

    def __init__(
        self,
        session: Session,
        profiles: Sequence[Profile],
        categories: Sequence[str] | None,
        scorer: str,
    ) -> None:
        self._session = session
        self._profiles = {p.name: p for p in profiles}
        self._categories = categories
        self._scorer = scorer
        self._cache: dict[tuple[str, dt.date], list[ListedPaper]] = {}

    def of(self, profile: str, date: dt.date) -> tuple[Profile, list[ListedPaper]]:
        key = (profile, date)
        prof = self._profiles[profile]
        if key not in self._cache:
            self._cache[key] = listed_papers(
                self._session, prof, date, self._categories, self._scorer
            )
        return prof, self._cache[key]

    def select(self, recipient: Recipient, date: dt.date) -> Selection:
        names = recipient.profiles or tuple(self._profiles)
        return Selection(date, choose([self.of(n, date) for n in names], recipient))
