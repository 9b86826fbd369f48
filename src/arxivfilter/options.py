"""What a command asked for: :class:`Options` (the CLI fills it from its flags), and the
rules that turn flags into categories, profiles and a date scope."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from arxivfilter.config import Profile, Settings, load_profiles
from arxivfilter.errors import UsageError


@dataclass
class Options:
    """What a command asked for (the CLI fills this from its options)."""

    date: dt.date | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    source: Path | None = None
    categories: list[str] | None = None  # None = no category filter ("all")
    profiles: list[str] = field(default_factory=list)
    scorer: str | None = None  # auto | llm | local (None = config)
    rescore: bool = False
    max_cost: float | None = None
    refresh: bool = False
    dry_run: bool = False
    collect_only: bool = False  # batch mode: store finished batches' results, submit nothing

    @property
    def ranged(self) -> bool:
        """``--from`` or ``--to`` given."""
        return self.date_from is not None or self.date_to is not None

    def covers(self, d: dt.date) -> bool:
        """``d`` is the ``--date``, or inside ``--from``/``--to`` (no date given: every date)."""
        if self.date is not None:
            return d == self.date
        if self.date_from is not None and d < self.date_from:
            return False
        return not (self.date_to is not None and d > self.date_to)

    def span(self) -> str:
        """The dates asked for, as a summary prints them."""
        if self.date is not None:
            return self.date.isoformat()
        return f"{self.date_from or '…'} .. {self.date_to or '…'}"


def configured_categories(settings: Settings, value: str | None) -> list[str] | None:
    """``--categories`` (comma-separated; ``all`` = no filter), defaulting to the config."""
    if value is None:
        return list(settings.arxiv.categories)
    if value.strip().lower() == "all":
        return None
    from arxivfilter.taxonomy import canonical_categories

    cats = canonical_categories(c for c in value.split(",") if c.strip())
    if not cats:
        raise UsageError(f"--categories: {value!r} names no arXiv category (e.g. cs.DC)")
    return cats


def fetch_scope(categories: list[str] | None, profiles: Sequence[Profile]) -> list[str] | None:
    """What a run fetches: the configured (or given) categories and every profile's own, once."""
    scope = categories
    for prof in profiles:
        scope = prof.scope(scope)
    return scope


def resolve_profiles(opts: Options, settings: Settings | None = None) -> list[Profile]:
    """The profiles a command works on; ``[report] threshold``, when set, replaces each one's."""
    profiles = load_profiles(opts.profiles or None)
    threshold = settings.report.threshold if settings is not None else None
    if threshold is None:
        return profiles
    return [dataclasses.replace(p, threshold=threshold) for p in profiles]
