"""A year of nights of committed text state (state.py) in a temporary git repository.

    python bench/state_year.py [--nights 250] [--per-day 1000] [--replaced 0.02]
                               [--text-min-relevance 50] [--keep DIR]

Each night adds ``--per-day`` papers to a SQLite database (real titles and abstracts from
../shared/arxiv-samples, cycled, under new ids; one to three categories each), one
announcement row per category, ``--replaced`` of the last 60 days' papers announced again
with a changed text, and for every new text two synthesized LLM judgements (two profiles:
relevance drawn so that about 5% of papers reach 70, tags, a TL;DR and a reason of real
sentence lengths; synthesized rather than asked of tests/stub_llm.py, which at one HTTP call
per judgement would take hours for 500,000 of them). Then, as the nightly workflow does:
``state.save_state`` and a ``git commit`` of ``state/``.

Prints, every 50 nights and at the end: the largest committed file, the repository after
``git gc`` (``git count-objects -vH``: size-pack), and the time to rebuild the database from
the year's state on a fresh machine (``state.load_state`` into a new SQLite file), with the
save time of the last night.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from arxivfilter import state, store
from arxivfilter.models import Announcement, Judgement, Paper, Run, utcnow
from arxivfilter.text import text_hash

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT.parent / "shared" / "arxiv-samples" / "E_paper_metadata"
CATS = ["cs.DC", "cs.OS", "cs.LG"]
TAGS = ["serving", "kv-cache", "scheduling", "quantization", "training", "storage"]
PROFILES = [("llm-inference", "a" * 64, "b" * 64), ("llm-systems", "c" * 64, "d" * 64)]
MODEL = "gpt-4.1-nano"


def pool() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    seen: set[str] = set()
    for path in sorted(SAMPLES.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict) or rec.get("id") in seen or not rec.get("summary"):
                continue
            seen.add(str(rec.get("id")))
            out.append(
                {
                    "title": str(rec.get("title", "")),
                    "abstract": str(rec["summary"]),
                    "authors": list(rec.get("authors") or [])[:12],
                }
            )
    if not out:
        sys.exit(f"no sample papers under {SAMPLES}")
    return out


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def relevance(rng: random.Random) -> int:
    x = rng.random()
    if x < 0.85:
        return rng.randint(0, 39)
    if x < 0.95:
        return rng.randint(40, 69)
    return rng.randint(70, 100)


def sentence(rng: random.Random, text: str, limit: int) -> str:
    words = text.split()
    start = rng.randint(0, max(0, len(words) - 40))
    return " ".join(words[start : start + 40])[:limit]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nights", type=int, default=250)
    ap.add_argument("--per-day", type=int, default=1000)
    ap.add_argument("--replaced", type=float, default=0.02)
    ap.add_argument("--text-min-relevance", type=int, default=50)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    rng = random.Random(19)
    texts = pool()
    work = args.keep or Path(tempfile.mkdtemp(prefix="state_year_"))
    work.mkdir(parents=True, exist_ok=True)
    repo = work / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "bench@example.org")
    git(repo, "config", "user.name", "bench")
    engine = store.make_engine(f"sqlite:///{work / 'night.db'}")
    P, A, J, R = (m.__table__ for m in (Paper, Announcement, Judgement, Run))  # type: ignore[attr-defined]
    day = dt.date(2026, 1, 5)
    seq: dict[str, int] = {}
    recent: list[tuple[str, dt.date]] = []
    jid = 0
    largest = ("", 0)
    save_s = 0.0
    print(
        f"{args.nights} nights x {args.per_day} papers, 2 profiles, text floor "
        f"{args.text_min_relevance}; sample pool {len(texts)} abstracts; in {work}",
        flush=True,
    )
    t_all = time.monotonic()
    for night in range(1, args.nights + 1):
        while day.weekday() >= 5:
            day += dt.timedelta(days=1)
        yymm = f"{day:%y%m}"
        papers, rows, judgements = [], [], []
        now = utcnow()

        def judge(
            pid: str,
            thash: str,
            base: dict[str, object],
            judgements: list[dict[str, object]] = judgements,
            night: int = night,
            now: dt.datetime = now,
        ) -> None:
            nonlocal jid
            for name, ph, pr in PROFILES:
                jid += 1
                rel = relevance(rng)
                judgements.append(
                    {
                        "id": jid,
                        "cache_key": state.cache_key(thash, ph, MODEL, pr),
                        "arxiv_id": pid,
                        "profile": name,
                        "scorer": "llm",
                        "model": MODEL,
                        "text_hash": thash,
                        "profile_hash": ph,
                        "prompt_hash": pr,
                        "status": "ok",
                        "relevance": rel,
                        "hype": rng.randint(0, 100),
                        "tags": rng.sample(TAGS, rng.randint(0, 2)),
                        "tldr": sentence(rng, str(base["abstract"]), 220),
                        "reason": sentence(rng, str(base["abstract"]), 240),
                        "error": None,
                        "run_id": night,
                        "created_at": now,
                    }
                )

        for _ in range(args.per_day):
            seq[yymm] = seq.get(yymm, 0) + 1
            pid = f"{yymm}.{seq[yymm]:05d}"
            base = texts[rng.randrange(len(texts))]
            title = f"{base['title']} ({pid})"
            thash = text_hash(title, str(base["abstract"]))
            cats = rng.sample(CATS, rng.choice([1, 1, 1, 2, 3]))
            papers.append(
                {
                    "arxiv_id": pid,
                    "version": 1,
                    "title": title,
                    "authors": base["authors"],
                    "abstract": base["abstract"],
                    "categories": cats,
                    "primary_category": cats[0],
                    "withdrawn": False,
                    "text_hash": thash,
                    "created_at": now,
                    "modified_at": now,
                }
            )
            for i, c in enumerate(cats):
                rows.append(
                    {
                        "arxiv_id": pid,
                        "date": day,
                        "category": c,
                        "type": "new" if i == 0 else "cross",
                        "version": 1,
                        "text_hash": thash,
                        "source": "rss",
                        "approximate": False,
                        "derived": False,
                    }
                )
            judge(pid, thash, base)
            recent.append((pid, day))
        with engine.begin() as conn:
            conn.execute(sa.insert(P), papers)
            conn.execute(sa.insert(A), rows)
            replaced = [
                pid
                for pid, d in rng.sample(
                    recent, min(len(recent), int(args.per_day * args.replaced))
                )
                if d < day
            ]
            for pid in replaced:
                base = texts[rng.randrange(len(texts))]
                title = f"{base['title']} ({pid} v2)"
                thash = text_hash(title, str(base["abstract"]))
                conn.execute(
                    sa.update(P)
                    .where(P.c.arxiv_id == pid)
                    .values(  # as ingest.fold: a rewritten paper's modified_at moves
                        version=2,
                        title=title,
                        abstract=base["abstract"],
                        text_hash=thash,
                        modified_at=now,
                    )
                )
                conn.execute(
                    sa.insert(A).values(
                        arxiv_id=pid,
                        date=day,
                        category=CATS[0],
                        type="replace",
                        version=2,
                        text_hash=thash,
                        source="rss",
                        approximate=False,
                        derived=False,
                    )
                )
                judge(pid, thash, base)
            conn.execute(sa.insert(J), judgements)
            conn.execute(
                sa.insert(R).values(
                    id=night,
                    command="run",
                    status="ok",
                    date_from=day,
                    date_to=day,
                    profiles=[p[0] for p in PROFILES],
                    counts={"score": {"papers": 2000, "judged": 2000, "llm_calls": 2000}},
                    cost_usd=0.22,
                    exit_code=0,
                    started_at=now,
                    finished_at=now,
                )
            )
        cutoff = day - dt.timedelta(days=60)
        recent = [(p, d) for p, d in recent if d >= cutoff]
        t0 = time.monotonic()  # the nightly save: what changed since the last (index.json)
        saved = state.save_state(engine, repo / "state", text_floor=args.text_min_relevance)
        save_s = time.monotonic() - t0
        if saved.largest[1] > largest[1]:
            largest = saved.largest
        git(repo, "add", "-A", "state")
        git(repo, "commit", "-q", "-m", f"digest: {day.isoformat()}")
        if night % 50 == 0 or night == args.nights:
            git(repo, "gc", "-q")
            pack = git(repo, "count-objects", "-v")
            size_kib = sum(
                int(line.split()[1])
                for line in pack.splitlines()
                if line.startswith(("size-pack", "size:"))
            )
            print(
                f"night {night:3d} ({day}): papers {saved.papers:,} ({saved.stubs:,} stubs), "
                f"judgements {saved.judgements:,}; repository after gc {size_kib / 1024:.1f} MB; "
                f"largest file {largest[0]} {largest[1] / 1e6:.2f} MB; save {save_s:.1f} s; "
                f"elapsed {time.monotonic() - t_all:.0f} s",
                flush=True,
            )
        day += dt.timedelta(days=1)
    _, _, total = state.size_report(repo / "state")
    # a whole render: the same files as the nights' incremental ones
    t0 = time.monotonic()
    whole = state.save_state(engine, repo / "state", text_floor=args.text_min_relevance, full=True)
    whole_s = time.monotonic() - t0
    print(
        f"a whole save of the year's database: {whole_s:.1f} s, {len([p for p in whole.written if p != state.INDEX_FILE])} files "
        "changed against the nightly incremental saves (0 = identical)",
        flush=True,
    )
    fresh = store.make_engine(f"sqlite:///{work / 'fresh.db'}")
    t0 = time.monotonic()
    loaded = state.load_state(fresh, repo / "state")
    rebuild = time.monotonic() - t0
    same = state.render_state(fresh, text_floor=args.text_min_relevance) == state.render_state(
        engine, text_floor=args.text_min_relevance
    )
    print(
        f"state/ on disk {total / 1e6:.1f} MB; rebuild of the year into a fresh SQLite "
        f"database {rebuild:.1f} s ({loaded.papers:,} papers, {loaded.judgements:,} "
        f"judgements); rebuilt database writes the same state: {same}; last night's "
        f"partial save {save_s:.1f} s",
        flush=True,
    )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
