"""The read-only side commands as library functions: ``export``, ``show``, ``runs``,
``profiles`` (and the newest stored listing ``notify`` defaults to). The CLI only parses
flags and prints what these return."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from arxivfilter import runs, store
from arxivfilter.app import App
from arxivfilter.config import Settings, load_profile, profile_paths
from arxivfilter.errors import ArxivFilterError, UsageError
from arxivfilter.options import Options


def newest_listing(app: App, categories: list[str] | None) -> dt.date | None:
    """The newest announcement date stored for ``categories`` (None: nothing stored)."""
    with app.session() as session:
        return store.newest_announcement(session, categories)


def require_database(settings: Settings) -> None:
    """Reading must never create a database: a SQLite file that is not there is exit 2."""
    db_file = store.sqlite_file(settings.storage.db_url)
    if db_file is not None and not db_file.is_file():
        raise UsageError(
            f"the database {db_file} does not exist (set ARXIVFILTER_DB_URL, or run "
            "`arxivfilter fetch` first)"
        )


@dataclass
class Export:
    """``export``'s JSON lines, and the date it defaulted to (no date given)."""

    lines: list[str]
    date: dt.date | None
    no_listing: bool = False  # no date given and the database holds no listing

    @property
    def text(self) -> str:
        return "".join(line + "\n" for line in self.lines)


def export_lines(app: App, opts: Options) -> Export:
    """One JSON line per distinct paper announced on the options' date(s), sorted by id
    (no date given: the newest stored listing)."""
    from arxivfilter.export import export_records

    date = opts.date
    no_listing = False
    with app.session() as session:
        if date is None and not opts.ranged:
            date = store.newest_announcement(session, opts.categories)
            no_listing = date is None
        lines = [
            json.dumps(rec, ensure_ascii=False)
            for rec in export_records(
                session,
                opts.categories,
                date=date,
                date_from=opts.date_from,
                date_to=opts.date_to,
                profiles=opts.profiles or None,
            )
        ]
    return Export(lines, date, no_listing)


def write_file(path: Path, text: str) -> None:
    """``-o FILE``: written atomically (a reader never sees half a file)."""
    from arxivfilter.report.write import write_atomic

    write_atomic(path, text)


def paper(app: App, arxiv_id: str) -> dict[str, Any] | None:
    """``show``: one paper with its announcements and judgements (None: not stored)."""
    from arxivfilter.export import paper_record

    with app.session() as session:
        return paper_record(session, arxiv_id, detailed=True)


def recent_runs(app: App, limit: int) -> list[Any]:
    """``runs``: the newest ``limit`` run rows, newest first."""
    return runs.recent(app, limit)


def run_record(row: Any) -> dict[str, Any]:
    """One run row as ``runs --json`` prints it."""
    return runs.as_dict(row)


@dataclass
class ProfileList:
    """``profiles``: each valid profile's summary, and one line per invalid one."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def profile_list() -> ProfileList:
    """Every profile file, validated (its liked-example ids and files included)."""
    from arxivfilter.score.learned import profile_example_ids

    found = ProfileList()
    for path in profile_paths().values():
        try:
            p = load_profile(path)
            examples = profile_example_ids(p)
            found.rows.append(
                {
                    "name": p.name,
                    "threshold": p.threshold,
                    "tags": list(p.tags),
                    "examples": len(examples),
                    "path": str(path),
                    "description": p.description,
                }
            )
        except ArxivFilterError as exc:
            found.errors.append(str(exc))
    return found
