"""The run record: every command that fetches, scores or evaluates leaves one ``runs`` row;
and what a run returns (:class:`RunSummary`, its exit code from :func:`outcome`).

:func:`recorded` opens the row, and closes it when the work raises: a domain error with
its exit code, a database error as exit 5, anything else as a crash (exit 70, traceback
kept, secrets masked), Ctrl-C as ``interrupted`` (130). The caller closes a run that went
through with :meth:`RunRecord.finish`. ``runs`` lists the rows for the CLI.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.exc import DatabaseError

from arxivfilter import store
from arxivfilter.app import App
from arxivfilter.errors import ArxivFilterError, InternalError, StorageError, as_error
from arxivfilter.fetch.stage import FetchSummary
from arxivfilter.logs import MASKER, SecretMasker
from arxivfilter.notify.deliver import NotifyResult
from arxivfilter.options import Options
from arxivfilter.report.outputs import ReportResult
from arxivfilter.score.stage import ScoreCounts

log = structlog.get_logger(__name__)

# --------------------------------------------------------------------------- the record

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
        row_id: int | None = self.row.id
        return row_id

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


# --------------------------------------------------------------------------- the result


@dataclass
class RunSummary:
    fetch: FetchSummary
    score: ScoreCounts
    report: ReportResult | None
    exit_code: int
    wall_s: float
    run_id: int | None = None
    message: str | None = None
    stages: tuple[str, ...] = ("fetch", "score", "report")
    dry_run: bool = False  # score counts are a plan: "unscored" = would be judged
    notify: NotifyResult | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "stages": list(self.stages),
            "dry_run": self.dry_run,
            "exit_code": self.exit_code,
            "wall_s": round(self.wall_s, 2),
            "fetch": self.fetch.as_dict(),
            "score": self.score.as_dict(),
            "report": self.report.as_dict() if self.report else None,
            "notify": self.notify.as_dict() if self.notify else None,
            "message": self.message,
        }


@dataclass
class RunProgress:
    """What the stages of one run produced so far."""

    fetch: FetchSummary = field(default_factory=FetchSummary)
    score: ScoreCounts = field(default_factory=ScoreCounts)
    report: ReportResult | None = None
    notify: NotifyResult | None = None
    days: list[dt.date] = field(default_factory=list)

    def so_far(self) -> tuple[dict[str, Any], float | None, Sequence[dt.date]]:
        counts = {"fetch": self.fetch.as_dict(), "score": self.score.as_dict()}
        return counts, self.score.cost_usd or None, self.fetch.dates

    def summary(
        self,
        outcome: tuple[int, str | None],
        wall_s: float,
        run_id: int | None,
        stages: tuple[str, ...],
        *,
        dry_run: bool,
    ) -> RunSummary:
        """The run's summary: what the stages produced, with its exit code and message."""
        exit_code, message = outcome
        return RunSummary(
            self.fetch,
            self.score,
            self.report,
            exit_code,
            wall_s,
            run_id,
            message,
            stages,
            dry_run=dry_run,
            notify=self.notify,
        )


def outcome(opts: Options, done: RunProgress, auto_notify: bool) -> tuple[int, str | None]:
    """The run's exit code and the message that explains it."""
    scounts, n_damaged = done.score, sum(done.fetch.damaged.values())
    exit_code = 1 if (scounts.failed or (scounts.unscored and not opts.dry_run) or n_damaged) else 0
    message = None
    if n_damaged:
        message = (
            f"{n_damaged} damaged source record{'s' if n_damaged != 1 else ''} skipped "
            "(not valid JSON: a file cut mid-record?); the day may be incomplete"
        )
    elif scounts.unscored and not opts.dry_run:
        message = f"{scounts.unscored} papers left unscored: --max-cost reached"
    elif scounts.failed:
        message = f"{scounts.failed} papers failed to score (listed in the digest's failed section)"
    nres = done.notify
    if nres is not None and nres.exit_code:
        # within `run` a delivery problem is exit 1: the outputs (and the ledger) are
        # written and must be committed; `notify` alone gives the precise code
        exit_code = max(exit_code, 1) if auto_notify else nres.exit_code
        message = "; ".join(m for m in (message, f"notify: {nres.message}") if m)
    return exit_code, message
