"""fetch -> store -> score -> report (-> notify): ``run`` is the stages in order, recorded.

This module orchestrates and does nothing else: the stages' entry points are
:func:`arxivfilter.fetch.stage.fetch`, :func:`arxivfilter.score.days.score_days` and
:func:`arxivfilter.report.outputs.write_reports`; the run record is :mod:`arxivfilter.runs`,
the committed state :mod:`arxivfilter.runstate`. The CLI builds one :class:`App`
(settings, engine, HTTP clients, clock) and calls these; tests call them directly with
injected clients and clocks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Sequence

import structlog

from arxivfilter.app import App
from arxivfilter.config import Profile, load_profiles
from arxivfilter.errors import UsageError
from arxivfilter.fetch.stage import (
    days_to_work,
    ensure_examples,
    fetch,
    stored_days,
    warn_unstored,
)
from arxivfilter.notify.deliver import NotifyResult
from arxivfilter.options import Options, fetch_scope, resolve_profiles
from arxivfilter.report.outputs import ReportResult, write_reports
from arxivfilter.runs import RunProgress, RunSummary, outcome, recorded
from arxivfilter.runstate import refresh_from_state, save_state
from arxivfilter.score import days
from arxivfilter.score.stage import ScoreCounts

log = structlog.get_logger(__name__)


# --------------------------------------------------------------------------- score


def score(
    app: App,
    opts: Options,
    day_list: Sequence[dt.date],
    profiles: Sequence[Profile],
    *,
    run_id: int | None = None,
) -> ScoreCounts:
    """A judgement for every stored paper of ``day_list`` x ``profiles``."""
    kind = app.settings.resolve_scorer(opts.scorer)
    if opts.collect_only:
        return days.collect_batches(app, profiles, run_id=run_id)
    work = days.stored_work(app, profiles, day_list, opts.categories)
    if not work:
        return ScoreCounts()
    if opts.dry_run:
        return days.plan_days(app, kind, work, rescore=opts.rescore)
    if opts.source is None and (kind == "local" or app.settings.llm.prefilter < 1.0):
        # live runs only: a --source replay and eval never touch the network
        ensure_examples(app, days.examples_wanted(profiles))
    return days.score_days(
        app,
        kind,
        work,
        max_cost=opts.max_cost,
        rescore=opts.rescore,
        run_id=run_id,
        batches=profiles,
    )


# --------------------------------------------------------------------------- report


def report(
    app: App,
    opts: Options,
    day_list: Sequence[dt.date],
    profiles: Sequence[Profile],
    *,
    damaged: dict[dt.date, int] | None = None,
) -> ReportResult:
    kind = app.settings.resolve_scorer(opts.scorer)
    with app.session() as session:
        return write_reports(
            session,
            app.settings,
            profiles,
            day_list,
            categories=opts.categories,
            scorer=kind,
            damaged=damaged,
        )


# --------------------------------------------------------------------------- notify


def notify(
    app: App, opts: Options, day_list: Sequence[dt.date], *, run_id: int | None, automatic: bool
) -> NotifyResult:
    """E-mail and webhook delivery of ``day_list`` to every configured recipient, once.

    ``automatic`` (called by ``run``): dates older than ``[notify] max_age_days`` before the
    newest stored listing are not sent, so a backfill does not mail history.
    """
    from arxivfilter.notify.deliver import deliver, oldest_to_send

    kind = app.settings.resolve_scorer(opts.scorer)
    with app.session() as session:
        oldest = oldest_to_send(session, app.settings, opts.categories) if automatic else None
        return deliver(
            session,
            app.settings,
            load_profiles(None),
            day_list,
            categories=opts.categories,
            scorer=kind,
            run_id=run_id,
            oldest=oldest,
            now=app.now,
            **app.notify_hooks,
        )


def run(
    app: App,
    opts: Options,
    *,
    command: str = "run",
    stages: tuple[str, ...] = ("fetch", "score", "report"),
) -> RunSummary:
    """The whole pipeline (or some stages of it) under the run lock, recorded in ``runs``."""
    started = time.monotonic()
    if opts.max_cost is not None and opts.max_cost < 0:
        raise UsageError(f"--max-cost must be 0 or more (USD), not {opts.max_cost:g}")
    profiles = resolve_profiles(opts, app.settings)  # a fetch reads their categories, too
    # run notifies after report when recipients are configured; `notify` is that stage alone
    auto_notify = command == "run" and "report" in stages and app.settings.notify.configured
    if auto_notify:
        stages = (*stages, "notify")
    _check(app, opts, stages)
    with app.lock():
        refresh_from_state(app)
        done = RunProgress()
        with recorded(
            app,
            command,
            date_from=opts.date or opts.date_from,
            date_to=opts.date or opts.date_to,
            profiles=[p.name for p in profiles],
            abort_stale=True,
            on_failure=lambda: save_state(app, profiles, failed=True),  # keep what it paid for
        ) as record:
            record.so_far = done.so_far
            _fetch_stage(app, opts, stages, profiles, done)
            _score_stage(app, opts, stages, profiles, done, record.id)
            _output_stages(app, opts, stages, profiles, done, record.id, auto_notify)
            if done.fetch.error is not None:
                raise done.fetch.error  # a listing of the catch-up failed: the others are done
        wall = time.monotonic() - started
        summary = done.summary(
            outcome(opts, done, auto_notify), wall, record.id, stages, dry_run=opts.dry_run
        )
        cost = done.score.cost_usd or None
        record.finish(
            summary.exit_code,
            counts=summary.as_dict(),
            cost_usd=cost,
            message=summary.message,
            dates=done.days,
        )
        save_state(app, profiles)
        return summary


def _score_stage(
    app: App,
    opts: Options,
    stages: tuple[str, ...],
    profiles: Sequence[Profile],
    done: RunProgress,
    run_id: int | None,
) -> None:
    if "score" in stages and (done.days or opts.collect_only):
        done.score = score(app, opts, done.days, profiles, run_id=run_id)
        log.info("score", **done.score.as_dict())
    if done.score.extra_dates and not opts.dry_run:  # batch results for earlier dates
        done.days = sorted(set(done.days) | done.score.extra_dates)


def _output_stages(
    app: App,
    opts: Options,
    stages: tuple[str, ...],
    profiles: Sequence[Profile],
    done: RunProgress,
    run_id: int | None,
    auto_notify: bool,
) -> None:
    """report, then notify (a dry run writes and sends nothing)."""
    if not done.days or opts.dry_run:
        return
    if "report" in stages:
        damaged = {d: n for d in done.days if (n := done.fetch.damaged_on(d))}
        done.report = report(app, opts, done.days, profiles, damaged=damaged)
        log.info("report", **done.report.as_dict())
    if "notify" in stages:
        done.notify = notify(app, opts, done.days, run_id=run_id, automatic=auto_notify)
        log.info("notify", **done.notify.as_dict()["counts"])


def _check(app: App, opts: Options, stages: tuple[str, ...]) -> None:
    """What can fail before the lock is taken (exit 2): --scorer llm with no model
    configured, a cost limit on a model with no price."""
    if "score" in stages or "report" in stages:
        kind = app.settings.resolve_scorer(opts.scorer)
        if "score" in stages and kind == "llm":
            from arxivfilter.score.prices import require_price

            limit = opts.max_cost if opts.max_cost is not None else app.settings.llm.max_cost
            require_price(app.settings, limit)


def _fetch_stage(
    app: App, opts: Options, stages: tuple[str, ...], profiles: Sequence[Profile], done: RunProgress
) -> None:
    """Fetch (or, without the fetch stage, find the stored dates): ``done.days`` to work on."""
    if "fetch" in stages or opts.source is not None:
        # score/report --source: the recorded papers are staged first (no network)
        scope = fetch_scope(opts.categories, profiles)
        done.fetch = fetch(app, dataclasses.replace(opts, categories=scope))
        log.info("fetch", **done.fetch.as_dict())
        if done.fetch.catch_up and "score" in stages:
            window = done.fetch.window
            unfinished = days.unfinished_days(app, window, opts.categories, profiles)
            if unfinished - set(done.fetch.dates):
                log.info(
                    "judging what earlier runs left unjudged",
                    dates=sorted(d.isoformat() for d in unfinished),
                )
            done.fetch.dates = sorted(set(done.fetch.dates) | unfinished)
    else:
        done.fetch.dates = stored_days(app, opts)
    done.days = [] if opts.collect_only else days_to_work(app, opts, done.fetch)
    if "fetch" not in stages:
        warn_unstored(app, opts, done.days)
