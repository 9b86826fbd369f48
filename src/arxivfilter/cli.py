"""The ``arxivfilter`` command: parses options, builds the App once, calls the library, prints.

No logic of its own: every command is a few lines over ``pipeline``, ``store`` or
``export``. Errors become one line on stderr and the exit code DESIGN.md gives.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.exceptions import Abort, TyperException

from arxivfilter import __version__, dates
from arxivfilter.errors import ArxivFilterError, InternalError, UsageError, as_error
from arxivfilter.gcpause import freeze_loaded
from arxivfilter.progress import ProgressBar


class _LazyModule:
    """A module imported on first use: ``--help`` and ``--version`` never load the pipeline,
    SQLAlchemy or alembic (#23: 1 s of CPU). Attribute writes (tests' monkeypatching) go to
    the module itself."""

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def _module(self) -> Any:
        return importlib.import_module(object.__getattribute__(self, "_name"))

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._module(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        setattr(self._module(), attr, value)

    def __delattr__(self, attr: str) -> None:
        delattr(self._module(), attr)


if TYPE_CHECKING:
    import structlog

    from arxivfilter import app as composition
    from arxivfilter import config, logs, lookups, options, pipeline, runstate
    from arxivfilter.config import Settings
    from arxivfilter.options import Options
    from arxivfilter.runs import RunSummary
else:
    # structlog (with rich's tracebacks) and the pydantic settings are 0.2 s of CPU that
    # ``--help`` and ``--version`` never use (#23)
    structlog = _LazyModule("structlog")
    config = _LazyModule("arxivfilter.config")
    logs = _LazyModule("arxivfilter.logs")
    options = _LazyModule("arxivfilter.options")
    composition = _LazyModule("arxivfilter.app")
    lookups = _LazyModule("arxivfilter.lookups")
    pipeline = _LazyModule("arxivfilter.pipeline")
    runstate = _LazyModule("arxivfilter.runstate")

cli = typer.Typer(
    name="arxivfilter",
    help="Nightly arXiv listings scored against your topic profiles, as Markdown digests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
out = Console(soft_wrap=True, highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DateOpt = Annotated[
    str | None,
    typer.Option(
        "--date",
        help="Announcement date YYYY-MM-DD (default: the latest listing arXiv has announced).",
    ),
]
ExportDateOpt = Annotated[
    str | None,
    typer.Option(
        "--date", help="Announcement date YYYY-MM-DD (default: the newest listing stored)."
    ),
]
StoredDateOpt = Annotated[
    str | None,
    typer.Option(
        "--date",
        help="Announcement date YYYY-MM-DD (default: the newest listing stored in the"
        " database; with --source, every date the source holds).",
    ),
]
FromOpt = Annotated[str | None, typer.Option("--from", help="First announcement date of a range.")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last announcement date of a range.")]
SourceOpt = Annotated[
    Path | None,
    typer.Option(
        "--source",
        help="Replay recorded data (file or folder) into the database first; no network.",
    ),
]
CatOpt = Annotated[
    str | None,
    typer.Option(
        "--categories",
        help="Comma-separated, e.g. cs.DC,cs.OS; 'all' = no filter (default: [arxiv]"
        " categories; each profile's own categories are added).",
    ),
]
ProfileOpt = Annotated[
    list[str] | None,
    typer.Option("--profile", help="Profile name; repeat for several; none = all."),
]
ScorerOpt = Annotated[
    str | None, typer.Option("--scorer", help="auto | llm | local (default: auto).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
RescoreOpt = Annotated[bool, typer.Option("--rescore", help="Judge again even when cached.")]
MaxCostOpt = Annotated[
    float | None, typer.Option("--max-cost", help="Stop starting LLM calls at this USD.")
]
RefreshOpt = Annotated[bool, typer.Option("--refresh", help="Ask arXiv again even if archived.")]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Fetch and store, then count what scoring would judge; no LLM calls, no digests.",
    ),
]


def _print_version(value: bool) -> None:
    if value:
        out.print(__version__, markup=False)
        raise typer.Exit(0)


@cli.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Nightly arXiv listings scored against your topic profiles, as Markdown digests."""


class _State:
    settings: Settings | None = None
    own_process: bool = False  # set by entry(): the console script, not a library caller


STATE = _State()


def _settings() -> Settings:
    if STATE.settings is None:
        # what loading the config logs (unknown variables, ...) goes to stderr too, never
        # into the data on stdout; the configured level and secrets apply right after
        from arxivfilter.notify.secrets import smtp_secrets, webhook_secrets

        logs.configure_logging(
            config.env_value("ARXIVFILTER_LOG_LEVEL") or "info",
            secrets=[config.env_value("OPENAI_API_KEY") or "", *smtp_secrets()],
        )
        STATE.settings = config.load_settings()
        logs.configure_logging(
            STATE.settings.log.level,
            secrets=[
                STATE.settings.llm.api_key,
                *smtp_secrets(),
                *webhook_secrets(STATE.settings),
            ],
        )
    return STATE.settings


@contextlib.contextmanager
def _rich_progress(label: str, total: int | None) -> Iterator[ProgressBar]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)

        class _Bar:
            def advance(self, n: int = 1) -> None:
                progress.advance(task, n)

        yield _Bar()


def _app() -> composition.App:
    settings = _settings()
    app = composition.App(settings, progress=_rich_progress if sys.stderr.isatty() else None)
    if STATE.own_process:  # what the imports built lives until the process ends
        freeze_loaded()
    return app


def _date(value: str | None, name: str = "--date") -> dt.date | None:
    if value is None:
        return None
    try:
        return dates.parse_date(value)
    except UsageError as exc:
        raise UsageError(f"{name}: {exc}") from None


def _options(
    *,
    date: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    source: Path | None = None,
    categories: str | None = None,
    profiles: list[str] | None = None,
    scorer: str | None = None,
    **extra: Any,
) -> Options:
    settings = _settings()
    d, d1, d2 = _date(date), _date(date_from, "--from"), _date(date_to, "--to")
    if d is not None and (d1 is not None or d2 is not None):
        raise UsageError("give either --date or --from/--to, not both")
    dates.check_range(d1, d2)
    if scorer is not None and scorer not in ("auto", "llm", "local"):
        raise UsageError(f"--scorer: {scorer!r} is not one of auto, llm, local")
    if source is not None and not source.exists():
        raise UsageError(f"--source: {source} does not exist")
    return options.Options(
        date=d,
        date_from=d1,
        date_to=d2,
        source=source,
        categories=options.configured_categories(settings, categories),
        profiles=list(profiles or []),
        scorer=scorer,
        **extra,
    )


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, sort_keys=False, default=str) + "\n")


_Rows = list[tuple[str, str]]


def _fetch_rows(summary: RunSummary) -> _Rows:
    f = summary.fetch
    rows: _Rows = [("dates", ", ".join(d.isoformat() for d in f.dates) or "-")]
    if "fetch" in summary.stages:
        types = ", ".join(f"{k} {v}" for k, v in sorted(f.by_type.items())) or "-"
        rows += [
            ("papers fetched", f"{f.papers} ({types})"),
            (
                "stored",
                f"{f.new_papers} new papers, {f.updated_papers} updated, {f.new_rows} new listings",
            ),
            ("requests to arXiv", f"{f.requests} ({f.waited_s:.1f} s waiting on politeness)"),
        ]
        rows += [("source", src) for src in f.sources]
        rows += [("note", note) for note in f.notes]
    if f.damaged:
        rows.append(("damaged records", f"{sum(f.damaged.values())} skipped (see attention)"))
    return rows


def _score_rows(summary: RunSummary) -> _Rows:
    s = summary.score
    if "score" not in summary.stages:
        return []
    if summary.dry_run:
        made = f"{s.unscored} would be made, {s.cached} cached; no LLM call, no digest written"
        return [("judgements (dry run)", made)]
    rows: _Rows = [
        (
            "judgements",
            f"{s.judged} made, {s.cached} cached, {s.failed} failed, {s.unscored} unscored",
        )
    ]
    if s.prefiltered:
        rows.append(("prefilter", f"{s.prefiltered} judged locally only"))
    if s.pending or s.batches_open:
        rows.append(
            (
                "pending",
                f"{s.pending} papers in {s.batches_open} open batches (collected by the next run"
                " or `arxivfilter batches`)",
            )
        )
    rows.append(
        (
            "LLM calls",
            f"{s.calls} ({s.prompt_tokens} prompt + {s.completion_tokens} completion tokens)",
        )
    )
    rows.append(("cost", "unknown" if s.cost_unknown and not s.cost_usd else f"${s.cost_usd:.4f}"))
    return rows


def _output_rows(summary: RunSummary) -> _Rows:
    rows: _Rows = []
    r, n = summary.report, summary.notify
    if r is not None:
        rows.append(("files", f"{len(r.changed)} written, {len(r.unchanged)} unchanged"))
        rows += [("", str(path)) for path in r.changed[:20]]
    if n is not None:
        undelivered = n.count("failed") + n.count("bad_address") + n.count("not_tried")
        rows.append(
            (
                "notifications",
                f"{n.count('sent')} sent, {n.count('already_sent')} sent before, "
                f"{n.count('nothing_matched')} with nothing matching, {undelivered} not delivered",
            )
        )
        rows += [
            ("", f"{d.date} {d.channel} {d.recipient}: {d.error or d.status}")
            for d in n.deliveries
            if d.status in ("failed", "bad_address", "not_tried")
        ]
    return rows


def _summary_table(summary: RunSummary) -> None:
    """The human summary of a run: only the rows of the stages that ran."""
    table = Table(
        title=f"arxivfilter {' + '.join(summary.stages)} (run {summary.run_id})", show_header=False
    )
    table.add_column("what")
    table.add_column("value")
    rows = _fetch_rows(summary) + _score_rows(summary) + _output_rows(summary)
    rows.append(("wall time", f"{summary.wall_s:.1f} s"))
    if summary.message:
        rows.append(("attention", summary.message))
    for what, value in rows:
        table.add_row(what, value)
    out.print(table)


def _finish(summary: RunSummary, as_json: bool) -> None:
    if as_json:
        _print_json(summary.as_dict())
    else:
        _summary_table(summary)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


# --------------------------------------------------------------------------- commands


def _execute(command: str, stages: tuple[str, ...], as_json: bool, **flags: Any) -> None:
    """Build the options and the App, run the stages, print the summary, exit with its code."""
    opts = _options(**flags)
    run = pipeline.run  # the stages' modules imported before _app freezes what is loaded
    app = _app()
    try:
        summary = run(app, opts, command=command, stages=stages)
    finally:
        app.close()
    _finish(summary, as_json)


@cli.command()
def fetch(
    date: DateOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    source: SourceOpt = None,
    categories: CatOpt = None,
    refresh: RefreshOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch the papers announced on a date (or replay --source) into the database."""
    _execute(
        "fetch", ("fetch",), as_json, date=date, date_from=date_from, date_to=date_to,
        source=source, categories=categories, refresh=refresh,
    )  # fmt: skip


@cli.command()
def score(
    date: StoredDateOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    source: SourceOpt = None,
    profile: ProfileOpt = None,
    categories: CatOpt = None,
    scorer: ScorerOpt = None,
    rescore: RescoreOpt = False,
    max_cost: MaxCostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Judge every stored paper of a date for each profile (default: the newest stored listing)."""
    _execute(
        "score", ("score",), as_json, date=date, date_from=date_from, date_to=date_to,
        source=source, categories=categories, profiles=profile, scorer=scorer,
        rescore=rescore, max_cost=max_cost,
    )  # fmt: skip


@cli.command()
def report(
    date: StoredDateOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    source: SourceOpt = None,
    profile: ProfileOpt = None,
    categories: CatOpt = None,
    scorer: ScorerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the digests, running logs and feeds from the database alone (default: the newest
    stored listing)."""
    _execute(
        "report", ("report",), as_json, date=date, date_from=date_from, date_to=date_to,
        source=source, categories=categories, profiles=profile, scorer=scorer,
    )  # fmt: skip


@cli.command()
def batches(
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Batch mode: store the results of finished batches (waiting up to [llm]
    batch_wait_seconds) and rewrite the digests of the dates they belong to."""
    _execute(
        "batches", ("score", "report"), as_json, profiles=profile, collect_only=True
    )  # fmt: skip


@cli.command()
def run(
    date: DateOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    source: SourceOpt = None,
    profile: ProfileOpt = None,
    categories: CatOpt = None,
    scorer: ScorerOpt = None,
    rescore: RescoreOpt = False,
    max_cost: MaxCostOpt = None,
    refresh: RefreshOpt = False,
    dry_run: DryRunOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Fetch, score every profile, and write the digests: the nightly job."""
    _execute(
        "run", ("fetch", "score", "report"), as_json, date=date, date_from=date_from,
        date_to=date_to, source=source, categories=categories, profiles=profile, scorer=scorer,
        rescore=rescore, max_cost=max_cost, refresh=refresh, dry_run=dry_run,
    )  # fmt: skip


@cli.command()
def notify(
    date: DateOpt = None,
    categories: CatOpt = None,
    scorer: ScorerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """E-mail (and post to webhooks) each recipient's papers of a date, once (default: the
    newest stored listing). SMTP settings come from ARXIVFILTER_SMTP_* variables only."""
    opts = _options(date=date, categories=categories, scorer=scorer)
    app = _app()
    try:
        if not app.settings.notify.configured:
            structlog.get_logger(__name__).warning(
                "no [[notify.subscribers]] or [[notify.webhooks]] configured: nothing sent"
            )
            return
        if opts.date is None:
            opts.date = lookups.newest_listing(app, opts.categories)
            if opts.date is None:
                raise UsageError("the database holds no listing yet: fetch one first")
        summary = pipeline.run(app, opts, command="notify", stages=("notify",))
    finally:
        app.close()
    _finish(summary, as_json)


@cli.command()
def export(
    date: ExportDateOpt = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    categories: CatOpt = None,
    profile: ProfileOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="Output format: jsonl.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to FILE instead of stdout.")
    ] = None,
) -> None:
    """Write one JSON line per distinct paper announced on the date(s), sorted by id."""
    if fmt != "jsonl":
        raise UsageError(f"--format: {fmt!r} is not supported (use jsonl)")
    opts = _options(
        date=date, date_from=date_from, date_to=date_to, categories=categories, profiles=profile
    )
    lookups.require_database(_settings())
    app = _app()
    try:
        found = lookups.export_lines(app, opts)
    finally:
        app.close()
    if found.no_listing:
        err.print("arxivfilter: nothing to export: the database holds no listing")
    opts.date = found.date
    if not found.lines and (opts.date or opts.date_from or opts.date_to):
        err.print(f"arxivfilter: nothing to export: no paper stored for {_span(opts)}")
    if output is None:
        sys.stdout.write(found.text)
    else:
        lookups.write_file(output, found.text)
        err.print(f"wrote {len(found.lines)} papers to {output}")


@cli.command()
def site(
    profile: ProfileOpt = None,
    categories: CatOpt = None,
    scorer: ScorerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the static web page (one page per profile + an index) from the database alone."""
    from arxivfilter.web.build import build_site, site_profiles

    opts = _options(categories=categories, profiles=profile, scorer=scorer)
    settings = _settings()
    profiles = site_profiles(settings, opts.profiles)
    app = _app()
    try:
        with app.session() as session:
            result = build_site(
                session, settings, profiles, opts.categories, settings.resolve_scorer(scorer)
            )
    finally:
        app.close()
    if as_json:
        _print_json(result.as_dict())
        return
    counts = ", ".join(f"{name} {n}" for name, n in result.papers.items())
    newest = result.newest.isoformat() if result.newest else "none"
    out.print(
        f"site: {result.folder}/index.html ({counts}; newest listing {newest}; "
        f"{len(result.changed)} files written, {result.unchanged} unchanged)",
        markup=False,
    )


@cli.command()
def show(
    arxiv_id: Annotated[str, typer.Argument(help="arXiv id, with or without version.")],
    as_json: JsonOpt = False,
) -> None:
    """Print one paper with its announcements and judgements."""
    from arxivfilter.text import parse_arxiv_id

    try:
        pid, _ = parse_arxiv_id(arxiv_id)
    except ValueError:
        raise UsageError(f"{arxiv_id!r} is not an arXiv id") from None
    app = _app()
    try:
        rec = lookups.paper(app, pid)
    finally:
        app.close()
    if rec is None:
        raise UsageError(f"{pid} is not in the database")
    if as_json:
        _print_json(rec)
        return
    out.print(rec["title"], markup=False)
    version = f"v{rec['version']}" if rec.get("version") is not None else ""
    out.print(f"{rec['arxiv_id']}{version}  {', '.join(rec['categories'])}", markup=False)
    out.print(", ".join(rec["authors"]), markup=False)
    if rec.get("comment"):
        out.print(f"Comment: {rec['comment']}", markup=False)
    for a in rec["announcements"]:
        flags = " (approximate date)" if a.get("approximate") else ""
        out.print(f"  announced {a['date']} {a['category']} {a['type']}{flags}", markup=False)
    for name, j in rec["scores"].items():
        if j["status"] == "ok":
            out.print(
                f"  {name}: relevance {j['relevance']} hype {_dash(j['hype'])} tags {j['tags']}"
                f" [{j['scorer']} {j['model']}]",
                markup=False,
            )
            out.print(f"    {j['reason'] or ''}", markup=False)
        else:
            out.print(f"  {name}: FAILED: {j['error']}", markup=False)
    out.print("", markup=False)
    out.print(rec["abstract"], markup=False)


@cli.command()
def runs(
    limit: Annotated[int, typer.Option("--limit", help="How many runs.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List recorded runs, newest first."""
    app = _app()
    try:
        rows = lookups.recent_runs(app, limit)
    finally:
        app.close()
    if as_json:
        _print_json([lookups.run_record(r) for r in rows])
        return
    table = Table("id", "command", "status", "exit", "dates", "started (UTC)", "cost", "message")
    for run_row in rows:
        span = (
            str(run_row.date_from or "-")
            if run_row.date_from == run_row.date_to
            else f"{run_row.date_from}..{run_row.date_to}"
        )
        table.add_row(
            str(run_row.id),
            run_row.command,
            run_row.status,
            "-" if run_row.exit_code is None else str(run_row.exit_code),
            span,
            run_row.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"${run_row.cost_usd:.4f}" if run_row.cost_usd else "-",
            run_row.message or "",
        )
    out.print(table)


state_cli = typer.Typer(
    help="The committed text state a fresh machine rebuilds the database from ([state] dir).",
    no_args_is_help=True,
)
cli.add_typer(state_cli, name="state")
StateDirOpt = Annotated[
    Path | None,
    typer.Option("--dir", help="The state folder (default: [state] dir, else state/)."),
]


def _state_folder(folder: Path | None) -> Path:
    from arxivfilter import state

    return folder or state.state_dir(_settings()) or Path("state")


@state_cli.command("save")
def state_save(folder: StateDirOpt = None, as_json: JsonOpt = False) -> None:
    """Write the database's state as text (what `run` does at the end of every run)."""
    from arxivfilter import state
    from arxivfilter.config import load_profiles

    target = _state_folder(folder)
    settings = _settings()
    app = _app()
    try:
        with app.lock():
            known = load_profiles(None)
            floor = state.text_floor(settings, known)
            keep = runstate.liked_ids(known)
            result = state.save_state(app.engine, target, text_floor=floor, keep=keep)
    finally:
        app.close()
    if as_json:
        _print_json(result.as_dict())
        return
    out.print(
        f"state saved to {target}: {result.files} files ({len(result.written)} changed, "
        f"{len(result.removed)} removed), {result.papers} papers ({result.stubs} without "
        f"text), {result.judgements} judgements; largest {result.largest[0]} "
        f"({result.largest[1] / 1e6:.2f} MB)",
        markup=False,
    )


@state_cli.command("load")
def state_load(folder: StateDirOpt = None, as_json: JsonOpt = False) -> None:
    """Merge a saved state into the database (what `run` does when the database is missing
    or behind it); nothing stored is changed, so loading twice adds nothing."""
    from arxivfilter import state

    target = _state_folder(folder)
    app = _app()
    try:
        with app.lock():
            result = state.load_state(app.engine, target)
    finally:
        app.close()
    if as_json:
        _print_json(result.as_dict())
        return
    out.print(
        f"state loaded from {target}: {result.papers} papers, {result.announcements} "
        f"listing rows, {result.judgements} judgements, {result.runs} runs added",
        markup=False,
    )


@cli.command()
def profiles(as_json: JsonOpt = False) -> None:
    """List the topic profiles and validate each (liked-example ids and files included)."""
    _settings()
    found = lookups.profile_list()
    rows, bad = found.rows, found.errors
    if as_json:
        _print_json({"profiles": rows, "errors": bad})
    else:
        for r in rows:
            out.print(
                f"{r['name']}  threshold {r['threshold']}  tags {', '.join(r['tags'])}"
                + (f"  {r['examples']} liked examples" if r["examples"] else "")
                + f"  ({r['path']})",
                markup=False,
            )
        for line in bad:
            _error(line)
    if bad:
        raise typer.Exit(2)


@cli.command("config")
def config_cmd(as_json: JsonOpt = False) -> None:
    """Print the effective configuration, each value with where it came from (secrets masked)."""
    rows = config.effective_config(_settings())
    if as_json:
        _print_json([{"key": k, "value": v, "origin": o} for k, v, o in rows])
        return
    for key, value, origin in rows:
        out.print(f"{key} = {value}    # {origin}", markup=False)


@cli.command("eval")
def eval_cmd(
    labels: Annotated[Path, typer.Option("--labels", help="TSV/CSV with an arxiv_id column.")],
    source: Annotated[Path, typer.Option("--source", help="Papers to judge (any --source form).")],
    profile: Annotated[str, typer.Option("--profile", help="The profile to evaluate.")],
    scorer: ScorerOpt = None,
    categories: Annotated[
        str | None, typer.Option("--categories", help="Restrict the universe (default: all).")
    ] = None,
    date_from: FromOpt = None,
    date_to: ToOpt = None,
    by_month: Annotated[bool, typer.Option("--by-month", help="Add one row per month.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Judge the papers of a source and compare with a labelled list (ROC-AUC, AP, P/R/F1, P@k)."""
    from arxivfilter.config import load_profiles
    from arxivfilter.evaluate import run_eval

    opts = _options(
        date_from=date_from,
        date_to=date_to,
        source=source,
        categories=categories if categories is not None else "all",
        scorer=scorer,
    )
    if not labels.is_file():
        raise UsageError(f"--labels: {labels} is not a file")
    prof = load_profiles([profile])[0]
    app = _app()
    try:
        with app.lock():
            report_ = run_eval(
                app,
                labels=labels,
                source=source,
                profile=prof,
                scorer=opts.scorer,
                categories=opts.categories,
                date_from=opts.date_from,
                date_to=opts.date_to,
                by_month=by_month,
            )
    finally:
        app.close()
    if as_json:
        _print_json(report_.as_dict())
    else:
        out.print(report_.render_text(), markup=False)
    if report_.exit_code:
        raise typer.Exit(report_.exit_code)


@cli.command()
def schedule(
    profile: ProfileOpt = None,
    categories: CatOpt = None,
    scorer: ScorerOpt = None,
) -> None:
    """Run the nightly job in the foreground on the [schedule] cron (America/New_York)."""
    from arxivfilter import schedule as scheduling

    settings = _settings()
    opts = _options(categories=categories, profiles=profile, scorer=scorer)
    # what would fail every night fails now (exit 2): unknown profiles, an unusable scorer
    options.resolve_profiles(opts)
    settings.resolve_scorer(opts.scorer)

    def job() -> int:
        app = composition.App(settings)
        try:
            return pipeline.run(app, options.Options(**vars(opts))).exit_code
        except Exception as exc:  # a failed night, even a crash, never stops the scheduler
            error = failure(exc)
            structlog.get_logger(__name__).error(
                "scheduled run failed", error=str(error), exit_code=error.exit_code
            )
            return error.exit_code
        finally:
            app.close()

    raise typer.Exit(scheduling.serve(settings, job))


# --------------------------------------------------------------------------- feedback

FeedbackIds = Annotated[list[str] | None, typer.Argument(help="arXiv ids, e.g. 2506.04456.")]
OneProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", help="The profile (default: the only one configured)."),
]
UndoOpt = Annotated[bool, typer.Option("--undo", help="Remove the verdict on these papers.")]


def _verdict(ids: list[str] | None, profile: str | None, verdict: str | None) -> None:
    from arxivfilter import feedback

    prof = feedback.resolve_profile(profile)
    wanted = feedback.normalise_ids(ids or [])
    app = _app()
    try:
        with app.lock():  # never while a run trains on the file
            change = feedback.record(app.engine, prof, wanted, verdict, app.now().date())
    finally:
        app.close()
    what = "removed the verdict on" if verdict is None else f"{verdict}d"
    if change.changed:
        out.print(f"{prof.name}: {what} {', '.join(change.changed)} ({change.path})", markup=False)
    if change.unchanged:
        out.print(f"{prof.name}: unchanged {', '.join(change.unchanged)}", markup=False)


@cli.command()
def like(ids: FeedbackIds = None, profile: OneProfileOpt = None, undo: UndoOpt = False) -> None:
    """Record that you liked papers (the local scorer learns from them; --undo removes)."""
    _verdict(ids, profile, None if undo else "like")


@cli.command()
def dislike(ids: FeedbackIds = None, profile: OneProfileOpt = None, undo: UndoOpt = False) -> None:
    """Record that you disliked papers (strong negatives for the local scorer; --undo removes)."""
    _verdict(ids, profile, None if undo else "dislike")


@cli.command("feedback")
def feedback_cmd(profile: OneProfileOpt = None, as_json: JsonOpt = False) -> None:
    """List your likes and dislikes of a profile (config/profiles/NAME.feedback.tsv)."""
    from arxivfilter import feedback

    prof = feedback.resolve_profile(profile)
    verdicts = sorted(feedback.read_feedback(prof).values())
    app = _app()
    try:
        feedback.sync_engine(app.engine, prof)
    finally:
        app.close()
    if as_json:
        _print_json(
            {
                "profile": prof.name,
                "path": str(feedback.feedback_path(prof)),
                "feedback": [
                    {"arxiv_id": v.arxiv_id, "verdict": v.verdict, "date": _iso(v.date)}
                    for v in verdicts
                ],
            }
        )
        return
    for v in verdicts:
        out.print(f"{v.arxiv_id}\t{v.verdict}\t{_iso(v.date)}", markup=False)
    likes = sum(1 for v in verdicts if v.verdict == "like")
    err.print(
        f"{prof.name}: {likes} liked, {len(verdicts) - likes} disliked"
        f" ({feedback.feedback_path(prof)})",
        markup=False,
    )


def _iso(day: dt.date) -> str | None:
    return None if day == dt.date.min else day.isoformat()


@cli.command()
def version() -> None:
    """Print the version."""
    out.print(__version__, markup=False)


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """The command line: one line per error, the documented exit codes."""
    command = typer.main.get_command(cli)
    STATE.settings = None
    try:
        result = command.main(args=argv, prog_name="arxivfilter", standalone_mode=False)
        return int(result or 0)
    except TyperException as exc:  # usage errors of the (vendored) click layer
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stderr.write(ctx.get_help() + "\n")
        else:
            _error(exc.format_message())
        return 2
    except Abort:
        sys.stderr.write("arxivfilter: interrupted\n")
        return 130
    except KeyboardInterrupt:
        sys.stderr.write("arxivfilter: interrupted\n")
        return 130
    except Exception as exc:  # the one funnel: domain errors, storage (5), anything else (70)
        error = failure(exc)
        _error(str(error))
        return error.exit_code


def failure(exc: Exception) -> ArxivFilterError:
    """What an exception means for the user: its domain error with the exit code; a crash
    (exit 70) also logs its traceback at debug level (secrets masked, to stderr)."""
    error = as_error(exc)
    if isinstance(error, InternalError):
        if not structlog.is_configured():  # crashed before the settings configured logging
            logs.configure_logging(config.env_value("ARXIVFILTER_LOG_LEVEL") or "info")
        structlog.get_logger(__name__).debug(
            "internal error", error=str(error), traceback=error.traceback
        )
    return error


def _span(opts: Options) -> str:
    if opts.date is not None:
        return opts.date.isoformat()
    return f"{opts.date_from or '…'} .. {opts.date_to or '…'}"


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def _error(text: str) -> None:
    """The one line a failure prints: secrets masked, never wrapped, never a traceback."""
    from arxivfilter.logs import MASKER

    line = " ".join(MASKER.mask(text).split())
    sys.stderr.write(f"arxivfilter: error: {line}\n")


def entry() -> None:
    """The ``arxivfilter`` program (the console script, ``python -m arxivfilter.cli``):
    :func:`main` in a process of its own, which may freeze what its imports built
    (``gcpause.freeze_loaded``: a cached re-run 1.0 -> 0.8 s of CPU). A library or test
    caller of :func:`main` keeps its collector as it was."""
    STATE.own_process = True
    try:
        code = main()
    finally:  # a caller that catches the exit and calls main() again gets a plain main()
        STATE.own_process = False
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    entry()
