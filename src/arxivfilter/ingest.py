"""The ingest rules: how descriptions of a paper become its record and its listing rows.

Pure functions on the records of :mod:`arxivfilter.models` (no database, no clock, no
network), used by ``fetch`` (completing a listing with export-API metadata), ``store``
(folding a listing into the stored paper, the rows of a listing) and ``report`` (which of
a day's rows a paper is listed under):

* :func:`merge` -- the one rule that combines two descriptions of one paper;
* :func:`fold` -- that rule applied to a stored paper, with its withdrawn flag and text hash;
* :func:`is_withdrawn` -- the withdrawn-comment rule;
* :func:`row_type`, :func:`listed_categories` -- the rows one listing makes;
* :func:`first_listing`, :func:`supersedes` -- the daily dumps' first-listing rule;
* :func:`type_rank`, :func:`strongest` -- the announcement-type rank
  (new > cross > replace > replace-cross, the order of ``models.ANNOUNCE_TYPES``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from arxivfilter.models import ANNOUNCE_TYPES, REPLACEMENTS, Entry, PaperRecord, utcnow
from arxivfilter.text import text_hash

WITHDRAWN = re.compile(
    r"\b(this (paper|submission|article) (has been|is) withdrawn|withdrawn)\b", re.I
)
#: the paper's own fields, the ones two descriptions of it can disagree on (not its id)
RECORD_FIELDS: tuple[str, ...] = tuple(n for n in PaperRecord.model_fields if n != "arxiv_id")
#: where the export API (by id) knows better than a listing: its lists are full and ordered
CATALOGUE = frozenset({"authors", "categories", "primary_category"})
#: a publication date filled in alone is not an update of the stored paper
_NOT_AN_UPDATE = frozenset({"published"})


def is_withdrawn(comment: str | None) -> bool:
    """Whether an arXiv comment says the paper is withdrawn."""
    return bool(comment and WITHDRAWN.search(comment))


# --------------------------------------------------------------------------- announcement types


def type_rank(announce_type: str | None) -> int:
    """0 for new, 1 cross, 2 replace, 3 replace-cross; anything else ranks last."""
    if announce_type in ANNOUNCE_TYPES:
        return ANNOUNCE_TYPES.index(announce_type)
    return len(ANNOUNCE_TYPES)


def strongest(types: Iterable[str]) -> str:
    """The strongest of a paper's announcement types (a day's rows: what it is listed as)."""
    return min(types, key=type_rank)


def is_replacement(announce_type: str | None) -> bool:
    return announce_type in REPLACEMENTS


def row_type(entry: Entry, category: str, primary: str | None) -> str:
    """new/cross (or replace/replace-cross) of one (paper, category) listing."""
    own = category == primary
    if entry.is_replacement:
        return "replace" if own else "replace-cross"
    return "new" if own else "cross"


def listed_categories(entry: Entry, categories: Sequence[str] | None) -> list[str]:
    """The configured categories this entry carries (all of them when ``categories`` is None)."""
    if categories is None:
        return list(entry.categories)
    wanted = set(categories)
    return [c for c in entry.categories if c in wanted]


# --------------------------------------------------------------------------- the merge rule


def is_newer(incoming: PaperRecord, stored: Any) -> bool:
    """Whether ``incoming`` describes a later version than ``stored`` (an unversioned
    description never is; any version is newer than none)."""
    if incoming.version is None:
        return False
    return stored.version is None or incoming.version > stored.version


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def merge(
    base: Any, incoming: PaperRecord, *, leads: bool, authority: bool = False
) -> dict[str, Any]:
    """The changes that fold ``incoming`` into ``base``: the one rule for two descriptions
    of one paper, field by field over :data:`RECORD_FIELDS`.

    * A field ``incoming`` leaves empty never changes.
    * ``leads`` (a newer version of the paper): its values win, except the publication
      date (the first version's), which it only fills in.
    * ``authority`` (the export API completing a listing): its :data:`CATALOGUE` fields win;
      its categories come first, then the ones only ``base`` lists.
    * Otherwise ``incoming`` only fills what ``base`` lacks.

    ``base`` is any object with the record's fields (an entry, a stored paper).
    """
    changes: dict[str, Any] = {}
    for name in RECORD_FIELDS:
        value = getattr(incoming, name)
        if _empty(value):
            continue
        current = getattr(base, name)
        if name == "categories" and authority and not leads:
            value = list(dict.fromkeys([*value, *current]))
        wins = (
            (leads and name not in _NOT_AN_UPDATE)
            or (authority and name in CATALOGUE)
            or _empty(current)
        )
        if wins and value != current:
            changes[name] = list(value) if isinstance(value, list) else value
    return changes


def fill_from(entry: Entry, meta: PaperRecord) -> Entry:
    """``entry`` (from a listing) completed with what ``meta`` (export API, by id) knows."""
    return entry.model_copy(update=merge(entry, meta, leads=False, authority=True))


def fold(paper: Any, entry: Entry) -> bool:
    """Fold ``entry`` into the stored ``paper`` (an ORM row or its stand-in) in place: a newer
    version replaces its text, an older or equal one only fills what is missing (:func:`merge`).
    True when the paper changed (then ``modified_at`` is set)."""
    newer = is_newer(entry, paper)
    changes = merge(paper, entry, leads=newer)
    withdrawn = is_withdrawn(entry.comment)
    if withdrawn and not paper.withdrawn and (newer or entry.version == paper.version):
        changes["withdrawn"] = True
    for name, value in changes.items():
        setattr(paper, name, value)
    new_hash = text_hash(paper.title, paper.abstract)
    if (paper.title or paper.abstract) and new_hash != paper.text_hash:
        # a stale hash is mended even when nothing else changed; a paper restored from the
        # committed state without its text (state.py) keeps the hash it was judged under
        paper.text_hash = new_hash
    changed = newer or bool(changes.keys() - _NOT_AN_UPDATE)
    if changed:
        paper.modified_at = utcnow()
    return changed


def paper_columns(entry: Entry, thash: str) -> dict[str, Any]:
    """The columns of a new paper from its entry (``created_at`` and ``modified_at`` aside)."""
    values = entry.model_dump(include={"arxiv_id", *RECORD_FIELDS})
    if values["primary_category"] is None and entry.categories:
        values["primary_category"] = entry.categories[0]
    return {**values, "withdrawn": is_withdrawn(entry.comment), "text_hash": thash}


# --------------------------------------------------------------------------- daily dumps


def is_dump_listing(entry: Entry) -> bool:
    """A line of the daily JSONL dumps, which repeat a paper on later days (no types)."""
    return entry.source == "jsonl" and entry.announce_type is None


def first_listing(
    date: dt.date, categories: Sequence[str], listed: Iterable[tuple[dt.date, str]]
) -> list[str]:
    """The categories in which a dump's listing on ``date`` is the paper's first, given the
    (date, category) rows it ``listed`` already: per category only the earliest listing is
    an announcement, and a category a later day adds (a new cross-list) counts."""
    earlier = {c for d, c in listed if d < date}
    return [c for c in categories if c not in earlier]


def supersedes(
    date: dt.date, categories: Iterable[str], row_date: dt.date, row_category: str, source: str
) -> bool:
    """Whether a dump's first listing on ``date`` in ``categories`` replaces a listing row:
    a dump row of the same category on a later date (stored before this earlier one
    arrived), so the rows end the same whatever order the days are replayed in."""
    return source == "jsonl" and row_date > date and row_category in set(categories)
