"""The run record: every command that fetches, scores or evaluates leaves one ``runs`` row.

:func:`recorded` opens the row, and closes it when the work raises: a domain error with
its exit code, a database error as exit 5, anything else as a crash (exit 70, traceback
kept, secrets masked), Ctrl-C as ``interrupted`` (130). The caller closes a run that went
through with :meth:`RunRecord.finish`. ``runs`` lists the rows for the CLI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import structlog
from sqlalchemy.exc import DatabaseError

from arxivfilter import store
from arxivfilter.app import App
from arxivfilter.errors import ArxivFilterError, InternalError, StorageError, as_error
from arxivfilter.logs import MASKER, SecretMasker

log = structlog.get_logger(__name__)

#: what a run has done so far: (counts, cost in USD or None, dates worked on)
Progress = Callable[[], tuple[dict[str, Any], float | None, Sequence[dt.date]]]


class RunRecord:
    """One open ``runs`` row. ``so_far`` tells what to record if the run fails."""

    def __init__(self, app: App, row: Any) -> None:
        self.app = app
        self.row = row
        self.so_far: Progress = lambda: ({}, None, ())

    @property
    def id(self) -> int | None:
        return self.row.id

    def finish(
        self,
        exit_code: int,
        *,
        counts: dict[str, Any] | None = None,
        cost_usd: float | None = None,
        message: str | None = None,
        dates: Sequence[dt.date] = (),
        status: str | None = None,
    ) -> None:
        """Close the row (``ok`` for exit 0, else ``failed`` unless ``status`` says)."""
        with self.app.session() as session:
            store.finish_run(
                session,
                self.row,
                status=status or ("ok" if exit_code == 0 else "failed"),
                exit_code=exit_code,
                counts=counts,
                cost_usd=cost_usd,
                message=message,
                dates=dates,
            )

    def fail(self, error: ArxivFilterError) -> None:
        """Close the row of a run that failed, with what it had done so far. A crash (an
        :class:`InternalError`) is ``crashed`` and keeps its traceback, secrets masked."""
        counts, cost_usd, dates = self.so_far()
        masker = SecretMasker([self.app.settings.llm.api_key, *MASKER.secrets])
        status = "failed"
        if isinstance(error, InternalError):
            status = "crashed"
            counts = {**counts, "traceback": masker.mask(error.traceback)}
        self.finish(
            error.exit_code,
            status=status,
            counts=counts,
            cost_usd=cost_usd,
            message=masker.mask(str(error)),
            dates=dates,
        )


@contextlib.contextmanager
def recorded(
    app: App,
    command: str,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    profiles: Sequence[str] = (),
    abort_stale: bool = False,
    on_failure: Callable[[], None] | None = None,
) -> Iterator[RunRecord]:
    """Open a ``runs`` row for the work of the ``with`` block; record it if the work raises
    (then ``on_failure`` runs, e.g. to save what a failed night paid for) and re-raise it as
    the error the CLI reports. ``abort_stale`` (under the run lock): rows left ``running``
    by a killed process are marked aborted first."""
    try:
        with app.session() as session:
            if abort_stale and (aborted := store.abort_stale_runs(session)):
                log.warning(
                    "marked runs left running by a killed process as aborted", count=aborted
                )
            row = store.start_run(
                session, command, date_from=date_from, date_to=date_to, profiles=profiles
            )
    except DatabaseError as exc:
        raise StorageError(f"database error: {db_message(exc)}") from None
    record = RunRecord(app, row)
    try:
        yield record
    except Exception as exc:  # domain (its code), storage (5), anything else a crash (70)
        error = as_error(exc)
        record.fail(error)
        if on_failure is not None:
            on_failure()
        if error is exc:
            raise
        raise error from exc
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM under ``schedule``
        record.finish(130, status="interrupted", message="interrupted")
        raise
    except BaseException:  # SystemExit: the process is being stopped
        record.finish(1, status="failed", message="interrupted")
        raise


def db_message(exc: DatabaseError) -> str:
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig if orig is not None else exc).split())[:300]


def recent(app: App, limit: int = 20) -> list[Any]:
    """The newest ``limit`` run rows, newest first (``arxivfilter runs``)."""
    with app.session() as session:
        return store.list_runs(session, limit)


def as_dict(r: Any) -> dict[str, Any]:
    """One run row as ``runs --json`` prints it."""
    return {
        "id": r.id,
        "command": r.command,
        "status": r.status,
        "exit_code": r.exit_code,
        "date_from": r.date_from,
        "date_to": r.date_to,
        "profiles": r.profiles,
        "started_at": r.started_at,
        "finished_at": r.finished_at,
        "cost_usd": None if r.cost_usd is None else round(r.cost_usd, 6),
        "message": r.message,
        "traceback": (r.counts or {}).get("traceback"),  # a crashed run's (exit 70)
    }
