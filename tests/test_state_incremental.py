"""The incremental state save (state.py's index.json): after every kind of change a nightly
save renders only what changed and leaves the folder byte-identical to a whole save, on
SQLite and PostgreSQL; a save with nothing changed writes nothing; a state loaded into a
fresh database (the nightly runner) saves as nothing changed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

from arxivfilter import state, store
from arxivfilter.models import Announcement, Entry, Feedback, Judgement, Paper
from arxivfilter.text import cache_key

FLOOR = 50
DAY1, DAY2, DAY3 = dt.date(2026, 2, 2), dt.date(2026, 2, 3), dt.date(2026, 2, 4)


def _entry(n: int, day: dt.date, *, kind: str = "new", version: int = 1, **extra: object) -> Entry:
    values: dict[str, object] = {
        "arxiv_id": f"2602.{n:05d}",
        "version": version,
        "title": f"Paper {n}",
        "authors": ["Ann Author"],
        "abstract": f"An abstract about topic {n}.",
        "categories": ["cs.DC"],
        "primary_category": "cs.DC",
        "announce_type": kind,
        "announce_date": day,
    }
    values.update(extra)
    return Entry.model_validate(values)


def _judge(engine: sa.Engine, ids: list[str], profile: str, rel: int | None = None) -> None:
    """An ok judgement of each paper's current text by ``profile`` (relevance from the id)."""
    with Session(engine) as s:
        rows = []
        for pid in ids:
            paper = s.get(Paper, pid)
            assert paper is not None
            value = rel if rel is not None else int(pid[-3:]) * 7 % 100
            rows.append(
                {
                    "cache_key": cache_key(paper.text_hash, f"ph-{profile}", "m", "pr"),
                    "arxiv_id": pid,
                    "profile": profile,
                    "scorer": "llm",
                    "model": "m",
                    "text_hash": paper.text_hash,
                    "profile_hash": f"ph-{profile}",
                    "prompt_hash": "pr",
                    "status": "ok",
                    "relevance": value,
                    "hype": 1,
                    "tags": ["t"],
                    "tldr": f"tldr {pid} {value}",
                    "reason": "why",
                    "error": None,
                    "run_id": None,
                }
            )
        store.save_judgements(s, rows)


def _store(engine: sa.Engine, entries: list[Entry]) -> None:
    with Session(engine) as s:
        store.store_entries(s, entries, categories=None)


def _run(engine: sa.Engine, profiles: list[str], *, status: str = "ok", code: int = 0) -> None:
    with Session(engine) as s:
        run = store.start_run(s, "run", profiles=profiles)
        store.finish_run(s, run, status=status, exit_code=code, counts={"score": {"judged": 1}})


def _on_disk(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
        for p in folder.rglob("*")
        if p.is_file() and p.name != state.INDEX_FILE
    }


def _check(engine: sa.Engine, folder: Path, tmp: Path, label: str) -> state.SaveResult:
    """An incremental save into ``folder`` equals a whole save into a new folder."""
    saved = state.save_state(engine, folder, text_floor=FLOOR, keep=frozenset({"2602.00004"}))
    whole = tmp / f"whole-{label}"
    state.save_state(engine, whole, text_floor=FLOOR, keep=frozenset({"2602.00004"}), full=True)
    assert _on_disk(folder) == _on_disk(whole), label
    assert (folder / state.INDEX_FILE).is_file()
    again = state.save_state(engine, folder, text_floor=FLOOR, keep=frozenset({"2602.00004"}))
    assert (again.written, again.removed) == ([], []), label  # nothing changed: nothing written
    return saved


def test_incremental_saves_equal_whole_ones(db_url: str, tmp_path: Path) -> None:
    engine = store.make_engine(db_url)
    folder = tmp_path / "state"
    # day 1: 30 papers judged by one profile (most of them low: stubs)
    _store(engine, [_entry(n, DAY1) for n in range(1, 31)])
    _judge(engine, [f"2602.{n:05d}" for n in range(1, 31)], "p")
    _run(engine, ["p"])
    first = _check(engine, folder, tmp_path, "first")
    assert first.stubs > 0

    # a new day: new papers in a new file, cross-lists and a replacement of day-1 papers
    day2 = [_entry(n, DAY2) for n in range(1001, 1021)]
    day2 += [_entry(3, DAY2, kind="cross"), _entry(5, DAY2, kind="cross")]
    day2.append(_entry(7, DAY2, kind="replace", version=2, abstract="A new text."))
    _store(engine, day2)
    _judge(engine, [e.arxiv_id for e in day2], "p")
    _run(engine, ["p"])
    nightly = _check(engine, folder, tmp_path, "new day")
    assert "papers/2602/2602.00.jsonl" in nightly.written
    assert "announcements/2026/2026-02-03.jsonl" in nightly.written
    assert "announcements/2026/2026-02-02.jsonl" in nightly.written  # paper 7's new version

    # re-judged papers (a --rescore): one crosses the text floor, one falls below it
    _judge(engine, ["2602.00002"], "p", rel=90)
    _judge(engine, ["2602.01001"], "p", rel=3)
    _run(engine, ["p"])
    _check(engine, folder, tmp_path, "re-judged")

    # a second profile judges a few day-1 papers while the newest run names one profile:
    # the other day-1 papers now miss a judgement and keep their text
    _judge(engine, ["2602.00001", "2602.00002"], "q", rel=1)
    _check(engine, folder, tmp_path, "a new profile's judgements")
    _run(engine, ["p", "q"])  # the newest run names both: every paper file again
    _check(engine, folder, tmp_path, "a new profile")

    # a withdrawn paper (a new version whose comment says so) and a deleted one
    _store(
        engine,
        [_entry(9, DAY3, kind="replace", version=2, comment="This paper has been withdrawn")],
    )
    with Session(engine) as s:
        for table in (Judgement, Announcement):
            s.execute(sa.delete(table).where(table.arxiv_id == "2602.01020"))  # type: ignore[attr-defined]
        s.execute(sa.delete(Paper).where(Paper.arxiv_id == "2602.01020"))  # type: ignore[arg-type]
        s.commit()
    _check(engine, folder, tmp_path, "withdrawn and deleted")

    # a reader's verdict keeps a paper's text; a failed run paid for part of a new day
    with Session(engine) as s:
        s.add(Feedback(profile="p", arxiv_id="2602.00011", verdict="like", date=DAY3))
        s.commit()
    _store(engine, [_entry(n, DAY3) for n in range(2001, 2011)])
    _judge(engine, [f"2602.{n:05d}" for n in range(2001, 2006)], "p")
    _run(engine, ["p", "q"], status="failed", code=3)
    _check(engine, folder, tmp_path, "verdict and failed run")

    # the last papers of a file deleted: the file goes
    with Session(engine) as s:
        gone = [f"2602.{n:05d}" for n in range(2001, 2011)]
        for table in (Judgement, Announcement):
            s.execute(sa.delete(table).where(table.arxiv_id.in_(gone)))  # type: ignore[attr-defined]
        s.execute(sa.delete(Paper).where(Paper.arxiv_id.in_(gone)))  # type: ignore[attr-defined]
        s.commit()
    emptied = _check(engine, folder, tmp_path, "a file emptied")
    assert "papers/2602/2602.02.jsonl" in emptied.removed
    engine.dispose()


def test_a_loaded_state_saves_as_nothing_changed_then_only_the_night(
    db_url: str, tmp_path: Path
) -> None:
    """The nightly runner: a fresh database loaded from the committed state writes nothing
    when nothing happened, and after a new day only that day's files, equal to a whole save."""
    src = store.make_engine(f"sqlite:///{tmp_path / 'src.db'}")
    folder = tmp_path / "state"
    _store(
        src, [_entry(n, DAY1) for n in range(1, 31)] + [_entry(n, DAY1) for n in range(1001, 1011)]
    )
    _judge(src, [f"2602.{n:05d}" for n in range(1, 31)], "p")
    _run(src, ["p"])
    state.save_state(src, folder, text_floor=FLOOR)
    src.dispose()

    fresh = store.make_engine(db_url)
    state.load_state(fresh, folder)
    nothing = state.save_state(fresh, folder, text_floor=FLOOR)
    assert (nothing.written, nothing.removed) == ([], [])
    _store(fresh, [_entry(n, DAY2) for n in range(2001, 2006)])
    _judge(fresh, [f"2602.{n:05d}" for n in range(2001, 2006)], "p")
    _run(fresh, ["p"])
    night = state.save_state(fresh, folder, text_floor=FLOOR)
    assert "papers/2602/2602.02.jsonl" in night.written
    assert night.rendered == 6  # 2602.02, 2026-02-03, runs, groups, llm and the manifest
    assert night.files == 10
    whole = state.render_state(fresh, text_floor=FLOOR)
    assert _on_disk(folder) == whole
    fresh.dispose()


def test_an_old_state_without_index_loads_and_saves_whole(tmp_path: Path) -> None:
    """A state committed before index.json existed loads as before; the next save is a whole
    one and writes the index."""
    engine = store.make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    folder = tmp_path / "state"
    _store(engine, [_entry(n, DAY1) for n in range(1, 11)])
    _judge(engine, [f"2602.{n:05d}" for n in range(1, 11)], "p")
    _run(engine, ["p"])
    state.save_state(engine, folder, text_floor=FLOOR)
    (folder / state.INDEX_FILE).unlink()
    fresh = store.make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    loaded = state.load_state(fresh, folder)
    assert loaded.papers == 10 and loaded.judgements == 10
    saved = state.save_state(fresh, folder, text_floor=FLOOR)
    assert saved.written == [state.INDEX_FILE]
    assert _on_disk(folder) == state.render_state(fresh, text_floor=FLOOR)


def test_a_file_deleted_by_hand_makes_a_whole_save(tmp_path: Path) -> None:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    folder = tmp_path / "state"
    _store(engine, [_entry(n, DAY1) for n in range(1, 11)])
    _judge(engine, [f"2602.{n:05d}" for n in range(1, 11)], "p")
    _run(engine, ["p"])
    state.save_state(engine, folder, text_floor=FLOOR)
    (folder / "papers" / "2602" / "2602.00.jsonl").unlink()
    saved = state.save_state(engine, folder, text_floor=FLOOR)
    assert saved.written == ["papers/2602/2602.00.jsonl"]
    assert _on_disk(folder) == state.render_state(engine, text_floor=FLOOR)
