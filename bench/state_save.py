"""State save and load at scale: a full ``state save``, a nightly one after one new day, one
with nothing changed, and ``state load`` into a fresh database.

    python bench/state_save.py [--db PATH | --papers 100000] [--day 1000] [--keep DIR]

The database is a copy of ``--db`` (for instance the one ``python bench/scale.py --papers
100000 --keep DIR`` leaves in ``DIR/scale.db``), or one built by ``bench/scale.py``'s fill
with ``--papers``. Steps, each timed (wall and CPU seconds of this process):

1. a full save into an empty folder (every file rendered and written);
2. a save with nothing changed (the nightly save of a night that stored nothing);
3. one new day: ``--day`` new papers stored through ``store.store_entries`` with two LLM
   judgements each (``store.save_judgements``), 2% of them replacing an older paper's text and
   re-judged, a finished run; then the nightly save, and a full render compared with it;
4. ``state load`` of the saved folder into a fresh SQLite database.

Prints files written and compared per step, and whether the nightly save equals a full one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from arxivfilter import state, store
from arxivfilter.models import Entry
from arxivfilter.text import cache_key, text_hash

FLOOR = 50


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def new_day(engine: sa.Engine, n: int, seed: int) -> tuple[int, int]:
    """``n`` new papers on the next weekday after the newest listing, each judged by the
    profiles already in the database, 2% older papers replaced and re-judged; a run."""
    rng = random.Random(seed)
    with engine.connect() as conn:
        newest = conn.execute(sa.text("SELECT MAX(date) FROM announcements")).scalar()
        top = conn.execute(sa.text("SELECT MAX(arxiv_id) FROM papers")).scalar()
        groups = list(
            conn.execute(
                sa.text(
                    "SELECT DISTINCT profile, scorer, model, profile_hash, prompt_hash "
                    "FROM judgements"
                )
            )
        )
        older = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT arxiv_id FROM papers ORDER BY arxiv_id DESC LIMIT 20000")
            )
        ]
    day = dt.date.fromisoformat(str(newest)) + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    prefix, number = str(top).split(".")
    start = int(number) + 1
    entries = [
        Entry(
            arxiv_id=f"{prefix}.{start + i:05d}",
            version=1,
            title=f"Nightly paper {seed}-{i} on serving systems",
            authors=["Ann Author", "Bob Writer"],
            abstract=f"We study scheduling {i} " * 40,
            categories=["cs.DC"],
            primary_category="cs.DC",
            announce_type="new",
            announce_date=day,
        )
        for i in range(n)
    ]
    for pid in rng.sample(older, max(1, n // 50)):
        entries.append(
            Entry(
                arxiv_id=pid,
                version=2,
                title=f"Replaced {pid}",
                abstract=f"A new text for {pid} " * 30,
                categories=["cs.DC"],
                primary_category="cs.DC",
                announce_type="replace",
                announce_date=day,
            )
        )
    with Session(engine) as s:
        run = store.start_run(
            s, "run", date_from=day, date_to=day, profiles=sorted({g[0] for g in groups})
        )
        store.store_entries(s, entries, categories=None)
        rows = []
        for e in entries:
            th = text_hash(e.title, e.abstract)
            for profile, scorer, model, ph, pr in groups:
                rows.append(
                    {
                        "cache_key": cache_key(th, ph, model, pr),
                        "arxiv_id": e.arxiv_id,
                        "profile": profile,
                        "scorer": scorer,
                        "model": model,
                        "text_hash": th,
                        "profile_hash": ph,
                        "prompt_hash": pr,
                        "status": "ok",
                        "relevance": rng.randint(0, 100),
                        "hype": rng.randint(0, 5),
                        "tags": ["serving"],
                        "tldr": "A TL;DR.",
                        "reason": "A reason.",
                        "error": None,
                        "run_id": run.id,
                    }
                )
        store.save_judgements(s, rows)
        store.finish_run(s, run, status="ok", exit_code=0, counts={}, dates=[day])
    return len(entries), len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="an existing SQLite database to copy")
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--day", type=int, default=1000, help="papers of the new day")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="arxivfilter-statesave-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bench.db"
    folder = work / "state"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        if args.db:
            shutil.copyfile(args.db, db)
        else:
            spec = importlib.util.spec_from_file_location(
                "scale", Path(__file__).parent / "scale.py"
            )
            assert spec is not None
            assert spec.loader is not None
            scale: Any = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(scale)

            from arxivfilter.config import load_profiles

            if db.exists():
                db.unlink()
            profiles = load_profiles()[:2]
            scale.PROFILE_HASHES.update({p.name: p.content_hash for p in profiles})
            scale.fill(
                store.make_engine(f"sqlite:///{db}"),
                args.papers,
                400,
                [p.name for p in profiles],
                1,
            )
        engine = store.make_engine(f"sqlite:///{db}")
        with engine.connect() as conn:
            counts = {
                t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("papers", "announcements", "judgements", "runs")
            }
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        with engine.connect() as conn:
            profiles = sorted(
                conn.execute(sa.text("SELECT DISTINCT profile FROM judgements")).scalars()
            )
        with Session(engine) as s:  # the run that judged them (the nightly's profiles)
            run = store.start_run(s, "run", profiles=profiles)
            store.finish_run(s, run, status="ok", exit_code=0, counts={})

        def save() -> state.SaveResult:
            return state.save_state(engine, folder, text_floor=FLOOR)

        def line(label: str, res: state.SaveResult, wall: float, cpu: float) -> None:
            print(
                f"{label}: wall {wall:.2f} s, CPU {cpu:.2f} s; {res.files} files in the state, "
                f"{getattr(res, 'rendered', res.files)} rendered, {len(res.written)} written, "
                f"{len(res.removed)} removed"
            )

        res, wall, cpu = timed(save)
        line("full save (empty folder)", res, wall, cpu)
        _, _, total = state.size_report(folder)
        print(f"  state: {total / 1e6:.1f} MB, largest file {res.largest[1] / 1e6:.2f} MB")
        res, wall, cpu = timed(save)
        line("save with nothing changed", res, wall, cpu)
        (papers, judged), wall, cpu = timed(lambda: new_day(engine, args.day, 7))
        print(f"new day stored: {papers} papers, {judged} judgements ({wall:.1f} s)")
        res, wall, cpu = timed(save)
        line("nightly save after one new day", res, wall, cpu)
        files, wall, cpu = timed(lambda: state.render_state(engine, text_floor=FLOOR))
        on_disk = {
            p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in folder.rglob("*")
            if p.is_file() and p.name != getattr(state, "INDEX_FILE", "index.json")
        }
        print(
            f"full render for comparison: wall {wall:.2f} s, CPU {cpu:.2f} s; "
            f"the folder equals it: {on_disk == files}"
        )
        fresh_db = work / "fresh.db"
        if fresh_db.exists():
            fresh_db.unlink()
        fresh = store.make_engine(f"sqlite:///{fresh_db}")
        loaded, wall, cpu = timed(lambda: state.load_state(fresh, folder))
        print(
            f"state load into a fresh database: wall {wall:.2f} s, CPU {cpu:.2f} s "
            f"({loaded.papers:,} papers, {loaded.judgements:,} judgements)"
        )
        res, wall, cpu = timed(lambda: state.save_state(fresh, folder, text_floor=FLOOR))
        line("save from the freshly loaded database", res, wall, cpu)
        fresh.dispose()
        engine.dispose()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
