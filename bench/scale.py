"""Scale: 100,000 synthetic papers with announcements and judgements; time report and export.

    python bench/scale.py [--papers 100000] [--per-day 400] [--profiles 2] [--repeat 2]
                          [--keep DIR]

A fresh SQLite database (migrated by ``store.make_engine``) is filled through SQLAlchemy core
bulk inserts: papers with realistic lengths (title ~90 characters, abstract ~1,100, five
authors), ``--per-day`` papers per announcement date on consecutive weekdays, one
announcement row per configured category a paper carries (cs.DC / cs.OS / cs.LG), a fifth of
papers announced again later as a replacement, and for every paper and shipped profile one
``ok`` LLM judgement (tags, a TL;DR, a reason) and the ``llm_calls`` row that paid for it
(with its raw reply), as a real LLM run leaves them.

Then, for the newest date and for a date in the middle: ``report.outputs.write_reports`` (the
digest, the running log and the 30-day feed of every profile) and
``export.export_records`` (serialised to JSON lines), each timed ``--repeat`` times (best and
first). Prints the database size per 1,000 papers. Where a step is slow, ``EXPLAIN QUERY
PLAN`` of its queries is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import json
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event, text
from sqlmodel import Session

from arxivfilter import ingest, store
from arxivfilter.config import Profile, Settings, load_profiles, load_settings
from arxivfilter.export import export_records
from arxivfilter.models import Announcement, Judgement, LlmCall, Paper
from arxivfilter.report import outputs
from arxivfilter.report.atom import render_feed
from arxivfilter.report.outputs import write_reports

CATEGORIES = ["cs.DC", "cs.OS", "cs.LG"]
WORDS = [
    "large",
    "language",
    "model",
    "inference",
    "serving",
    "system",
    "gpu",
    "cluster",
    "kv",
    "cache",
    "memory",
    "scheduling",
    "throughput",
    "latency",
    "distributed",
    "training",
    "pipeline",
    "parallelism",
    "tensor",
    "expert",
    "mixture",
    "quantization",
    "sparse",
    "attention",
    "kernel",
    "compiler",
    "accelerator",
    "network",
    "communication",
    "storage",
    "federated",
    "learning",
    "graph",
    "neural",
    "reinforcement",
    "policy",
    "benchmark",
    "dataset",
    "evaluation",
    "robust",
    "efficient",
    "scalable",
    "adaptive",
    "framework",
    "algorithm",
    "optimisation",
    "analysis",
    "theory",
    "bound",
    "convex",
    "stochastic",
    "gradient",
    "descent",
    "transformer",
    "diffusion",
    "vision",
    "language",
    "multimodal",
    "agent",
]
BATCH = 5000
PER_MONTH = 90_000  # arXiv ids have five digits after the month (YYMM.NNNNN)


Words = tuple[list[str], list[int]]  # a vocabulary and its cumulative counts
EXAMPLE_DAY = Path(__file__).resolve().parent.parent / "examples" / "2025-12-16.jsonl"


def sentence(rng: random.Random, n: int, words: Words | None = None) -> str:
    if words is None:
        return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."
    return " ".join(rng.choices(words[0], cum_weights=words[1], k=n)).capitalize() + "."


def real_words(path: Path = EXAMPLE_DAY) -> Words:
    """The words of a real day's titles and abstracts (the demo day's 300 papers), with how
    often each occurs: text drawn from it matches a query about as often as real text does
    (each of the 58 synthetic WORDS is in almost every synthetic abstract)."""
    counts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line) if line.strip() else {}
        counts.update(
            re.findall(
                r"[a-z][a-z0-9-]+", f"{rec.get('title', '')} {rec.get('summary', '')}".lower()
            )
        )
    vocab = sorted(counts)
    return vocab, list(itertools.accumulate(counts[w] for w in vocab))


def weekdays(start: dt.date, n: int) -> list[dt.date]:
    out: list[dt.date] = []
    d = start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def synthetic_id(i: int) -> str:
    """A valid new-style arXiv id for the i-th paper: at most 90,000 a month, months in order."""
    month = i // PER_MONTH
    return f"{(24 + month // 12) % 100:02d}{month % 12 + 1:02d}.{i % PER_MONTH:05d}"


def fill(
    engine: object,
    n: int,
    per_day: int,
    profile_names: list[str],
    seed: int,
    words: Words | None = None,
) -> list[dt.date]:
    """Bulk-insert the synthetic database; returns the announcement dates used. ``words``
    (:func:`real_words`): draw the text from a real vocabulary instead of :data:`WORDS`."""
    rng = random.Random(seed)
    days = weekdays(dt.date(2024, 1, 1), -(-n // per_day))
    last_day = len(days) - 1  # replacements land on days that also have new papers
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    pool14 = [sentence(rng, 14, words) for _ in range(5000)]  # sentences to draw from (speed)
    papers, rows, judgements, calls = [], [], [], []
    total = {"papers": 0, "announcements": 0, "judgements": 0, "llm_calls": 0}

    with engine.begin() as conn:  # type: ignore[attr-defined]
        # a page cache that holds the indexes: random-key inserts (hashes) then stay linear
        conn.exec_driver_sql("PRAGMA cache_size=-1048576")

    def flush(force: bool = False) -> None:
        with engine.begin() as conn:  # type: ignore[attr-defined]
            for table, items, name in (
                (Paper.__table__, papers, "papers"),
                (Announcement.__table__, rows, "announcements"),
                (Judgement.__table__, judgements, "judgements"),
                (LlmCall.__table__, calls, "llm_calls"),
            ):
                if items and (force or len(items) >= BATCH):
                    conn.execute(table.insert(), items)
                    total[name] += len(items)
                    items.clear()

    for i in range(n):
        day_index = i // per_day
        date = days[day_index]
        arxiv_id = synthetic_id(i)
        cats = rng.sample(CATEGORIES, k=rng.choice([1, 1, 1, 2]))
        if rng.random() < 0.2:
            cats.append("cs.AI")
        title = f"{sentence(rng, 11, words)[:-1]} {i}."  # distinct texts
        abstract = " ".join(rng.choices(pool14, k=10))
        thash = hashlib.sha256(f"{title}\x1f{abstract}".encode()).hexdigest()
        papers.append(
            {
                "arxiv_id": arxiv_id,
                "version": 1,
                "title": title,
                "authors": [f"Author {rng.randint(1, 50000)}" for _ in range(5)],
                "abstract": abstract,
                "categories": cats,
                "primary_category": cats[0],
                "comment": "10 pages, 5 figures",
                "journal_ref": None,
                "doi": None,
                "published": now,
                "updated": now,
                "withdrawn": False,
                "text_hash": thash,
                "created_at": now,
                "modified_at": now,
            }
        )
        listed = [c for c in cats if c in CATEGORIES]
        announced = [(date, "new", "cross")]
        later = day_index + rng.randint(1, 20)
        if rng.random() < 0.2 and later <= last_day:
            announced.append((days[later], "replace", "replace-cross"))
        for d, primary_type, other_type in announced:
            for c in listed:
                rows.append(
                    {
                        "arxiv_id": arxiv_id,
                        "date": d,
                        "category": c,
                        "type": primary_type if c == cats[0] else other_type,
                        "version": 1,
                        "text_hash": thash,
                        "source": "rss",
                        "approximate": False,
                        "derived": False,
                    }
                )
        for name in profile_names:
            key = hashlib.sha256(f"{thash}{name}".encode()).hexdigest()
            # about 5% listed at the default threshold, as on a real mixed day
            relevance = rng.randint(70, 100) if rng.random() < 0.05 else rng.randint(0, 69)
            tldr = rng.choice(pool14) + " " + rng.choice(pool14)
            judgements.append(
                {
                    "cache_key": key,
                    "arxiv_id": arxiv_id,
                    "profile": name,
                    "scorer": "llm",
                    "model": "gpt-4.1-nano",
                    "text_hash": thash,
                    "profile_hash": PROFILE_HASHES[name],
                    "prompt_hash": "p" * 64,
                    "status": "ok",
                    "relevance": relevance,
                    "hype": rng.randint(0, 100),
                    "tags": rng.sample(["serving", "kv-cache", "training", "moe"], k=2),
                    "tldr": tldr,
                    "reason": rng.choice(pool14),
                    "error": None,
                    "run_id": 1,
                    "created_at": now,
                }
            )
            calls.append(
                {
                    "run_id": 1,
                    "cache_key": key,
                    "arxiv_ids": [arxiv_id],
                    "profile": name,
                    "base_url": "https://api.openai.com/v1",
                    "model": "gpt-4.1-nano",
                    "mode": "json_schema",
                    "prompt_hash": "p" * 64,
                    "papers": 1,
                    "prompt_tokens": 900,
                    "completion_tokens": 110,
                    "cached_tokens": 600,
                    "latency_ms": 800,
                    "http_status": 200,
                    "status": "ok",
                    "raw_reply": json.dumps({"relevance": relevance, "tldr": tldr}),
                    "error": None,
                    "created_at": now,
                }
            )
        if len(papers) >= BATCH:
            flush()
    flush(force=True)


PROFILE_HASHES: dict[str, str] = {}


CPU: list[float] = []  # CPU seconds of the last timed() call's best run


def timed(fn: object, repeat: int) -> tuple[float, float]:
    """(first, best) wall seconds of ``fn()`` over ``repeat`` runs; the best run's CPU seconds
    (steadier than wall on a shared machine) go to ``CPU``."""
    times = []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - t, time.process_time() - c))
    CPU[:] = [min(times)[1]]
    return times[0][0], min(times)[0]


class Captured:
    """Every distinct statement a block runs (with the parameters of its first execution)."""

    def __init__(self, engine: object) -> None:
        self.engine = engine
        self.shapes: dict[
            str, tuple[str, object]
        ] = {}  # shape -> (first statement, its parameters)
        self.counts: dict[str, int] = {}

    def _hook(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            shape = re.sub(r"\(\?(, \?)+\)", "(?, …)", statement)  # IN lists of any length
            seen = self.shapes.get(shape)
            self.shapes[shape] = (statement, parameters) if seen is None else seen
            self.counts[shape] = self.counts.get(shape, 0) + 1

    def __enter__(self) -> Captured:
        event.listen(self.engine, "before_cursor_execute", self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._hook)


def explain(engine: object, captured: Captured) -> None:
    """EXPLAIN QUERY PLAN of every statement captured (a SCAN of a big table is the defect)."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        raw = conn.connection.dbapi_connection
        for n, (shape, (sql, params)) in enumerate(captured.shapes.items(), 1):
            plan = raw.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
            times = captured.counts[shape]
            one_line = re.sub(r"SELECT .*? FROM", "SELECT … FROM", " ".join(shape.split()), count=1)
            print(f"  query {n} (run {times}x): {one_line[:400]}")
            print("    plan: " + " | ".join(str(r[-1]) for r in plan))


def breakdown(engine: object, settings: Settings, profile: Profile) -> None:
    """Where one profile's 30-day feed spends its time (the parts of ``listed_papers``)."""
    with Session(engine) as session:  # type: ignore[arg-type]
        newest = store.newest_announcement(session, CATEGORIES)
        assert newest is not None
        window = store.announcement_dates(
            session,
            CATEGORIES,
            date_from=newest - dt.timedelta(days=settings.report.feed_days - 1),
            date_to=newest,
        )
        t = time.perf_counter()
        days = [(d, store.papers_on(session, d, CATEGORIES)) for d in window]
        t_papers = time.perf_counter() - t
        n = sum(len(x) for _, x in days)
        t = time.perf_counter()
        for _, day in days:
            outputs._judgements(session, [p.arxiv_id for p, _ in day], profile.name)
        t_judged = time.perf_counter() - t
        replaced = [
            (p.arxiv_id, d)
            for d, day in days
            for p, rows in day
            if ingest.is_replacement(ingest.strongest(r.type for r in rows))
        ]
        t = time.perf_counter()
        for arxiv_id, d in replaced:
            store.previous_text_hash(session, arxiv_id, d)
        t_prev = time.perf_counter() - t
        t = time.perf_counter()
        for _ in range(n):
            _ = profile.content_hash
        t_hash = time.perf_counter() - t
        t = time.perf_counter()
        recent = [
            p for d in window for p in outputs.listed_papers(session, profile, d, CATEGORIES, "llm")
        ]
        t_listed = time.perf_counter() - t
        t = time.perf_counter()
        render_feed(profile, recent, newest=newest, days=settings.report.feed_days)
        t_feed = time.perf_counter() - t
    listed = sum(1 for p in recent if (p.relevance or 0) >= profile.threshold)
    print(
        f"  one profile's 30-day feed ({len(window)} dates, {n:,} papers, {listed} listed):\n"
        f"    listed_papers over the window {t_listed:.3f} s, of which: papers_on (ORM rows) "
        f"{t_papers:.3f} s, _judgements {t_judged:.3f} s, previous_text_hash x{len(replaced)} "
        f"(one query per replacement) {t_prev:.3f} s, Profile.content_hash x{n} (recomputed in "
        f"_pick) {t_hash:.3f} s\n"
        f"    render_feed {t_feed:.3f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--per-day", type=int, default=400, help="papers first announced per date")
    parser.add_argument("--profiles", type=int, default=2, help="shipped profiles judged (1-2)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="build the database in this folder and keep it")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep: time the database already there (migrated to head) instead of a new one",
    )
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="arxivfilter-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "scale.db"
    reuse = args.reuse and args.keep is not None and db.exists()
    if db.exists() and not reuse:
        db.unlink()
    settings = load_settings(
        env={
            "ARXIVFILTER_DB_URL": f"sqlite:///{db}",
            "ARXIVFILTER_DIGESTS_DIR": str(work / "digests"),
        }
    )
    profiles = load_profiles()[: args.profiles]
    PROFILE_HASHES.update({p.name: p.content_hash for p in profiles})
    engine = store.make_engine(settings.storage.db_url)
    try:
        t = time.perf_counter()
        if not reuse:
            fill(engine, args.papers, args.per_day, [p.name for p in profiles], args.seed)
        load_s = time.perf_counter() - t
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            counts = {
                name: conn.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
                for name in ("papers", "announcements", "judgements", "llm_calls")
            }
        engine.dispose()
        size = db.stat().st_size
        print(f"database: {db}")
        print(
            "rows: "
            + ", ".join(f"{k} {v:,}" for k, v in counts.items())
            + f" (load {load_s:.1f} s)"
        )
        print(
            f"size: {size / 1e6:.1f} MB, {size / 1e6 / (args.papers / 1000):.2f} MB per 1,000 papers "
            f"({len(profiles)} profile(s) judged by the LLM, with the llm_calls rows)"
        )
        checks = []
        for _ in range(3):
            t0 = time.perf_counter()
            store.check_integrity(db)  # what every command pays before it opens the database
            checks.append(time.perf_counter() - t0)
        print(
            f"integrity check (PRAGMA quick_check, before any write): first {checks[0]:.3f} s, "
            f"best {min(checks):.3f} s"
        )
        with engine.connect() as conn:
            try:  # SQLite's dbstat table: bytes per table with its indexes
                rows = conn.execute(
                    text(
                        "SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat s JOIN sqlite_master m "
                        "ON m.name = s.name GROUP BY m.tbl_name ORDER BY 2 DESC"
                    )
                ).all()
                print(
                    "  per 1,000 papers, tables with their indexes: "
                    + ", ".join(
                        f"{name} {b / 1e6 / (args.papers / 1000):.2f} MB" for name, b in rows
                    )
                )
            except Exception:  # dbstat is a compile-time option of SQLite
                pass
            with_dates = conn.execute(
                text("SELECT date, COUNT(DISTINCT arxiv_id) FROM announcements GROUP BY date")
            ).all()
        by_date = {dt.date.fromisoformat(str(d)): c for d, c in with_dates}
        newest = max(by_date)
        middle = sorted(by_date)[len(by_date) // 2]
        slow = False

        def report(date: dt.date) -> None:
            with Session(engine) as session:
                write_reports(
                    session, settings, profiles, [date], categories=CATEGORIES, scorer="llm"
                )

        def export(date: dt.date) -> int:
            n = 0
            with Session(engine) as session:
                for rec in export_records(session, CATEGORIES, date=date):
                    n += len(json.dumps(rec, ensure_ascii=False))
            return n

        for label, date in (("newest date", newest), ("a middle date", middle)):
            print(f"{label} {date}: {by_date[date]} papers announced")
            first, best = timed(lambda d=date: report(d), args.repeat)
            slow |= best > 1.0
            print(
                f"  report (digests, logs and 30-day feeds of {len(profiles)} profiles): "
                f"first {first:.3f} s, best {best:.3f} s (CPU {CPU[0]:.3f} s)"
            )
            first, best = timed(lambda d=date: export(d), args.repeat)
            slow |= best > 1.0
            print(
                f"  export (JSON lines): first {first:.3f} s, best {best:.3f} s (CPU {CPU[0]:.3f} s)"
            )
        settings.report.feed_days = 1
        first, best = timed(lambda: report(newest), args.repeat)
        settings.report.feed_days = 30
        print(
            f"newest date, report with a 1-day feed (digest + log only): first {first:.3f} s, "
            f"best {best:.3f} s (CPU {CPU[0]:.3f} s)"
        )
        with Captured(engine) as captured:
            report(newest)
        print(f"query plans of the {len(captured.shapes)} distinct statements report runs:")
        explain(engine, captured)
        if slow:
            print("a step took more than a second: where one profile's feed spends its time")
            breakdown(engine, settings, profiles[0])
    finally:
        engine.dispose()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
