"""A large replay is stored in parts (#23: bounded memory), with the rows of one replay."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path

import pytest

from arxivfilter import pipeline
from arxivfilter.config import load_settings
from arxivfilter.fetch import stage
from arxivfilter.fetch.day import iter_replay
from arxivfilter.options import Options

RAW_DAYS = Path("E_paper_metadata/LinChentang__daily-arXiv-ai-enhanced/raw_days")
NOW = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


def _content(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, sorted, without row ids and the clock's timestamps (a part's
    rows are numbered and stamped when it is stored)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = {}
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        for (table,) in tables:
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
            keep = [c for c in cols if c != "id" and not c.endswith("_at")]
            names = ", ".join(f'"{c}"' for c in keep)
            out[table] = sorted(conn.execute(f'SELECT {names} FROM "{table}"').fetchall())
        return out
    finally:
        conn.close()


def _fetch(tmp_path: Path, name: str, source: Path) -> tuple[pipeline.FetchSummary, Path]:
    db = tmp_path / f"{name}.db"
    settings = load_settings(
        env={"ARXIVFILTER_DB_URL": f"sqlite:///{db}", "ARXIVFILTER_STATE_DIR": ""}
    )
    app = pipeline.App(settings, now=lambda: NOW)
    try:
        summary = pipeline.fetch(app, Options(source=source))
    finally:
        app.close()
    return summary, db


@pytest.mark.samples
def test_daily_dumps_in_parts_store_the_rows_of_one_replay(
    samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = samples / RAW_DAYS
    assert len(list(iter_replay(source, part=1))) == 5  # one part per day
    whole, whole_db = _fetch(tmp_path, "whole", source)
    monkeypatch.setattr(stage, "REPLAY_PART", 1)
    parts, parts_db = _fetch(tmp_path, "parts", source)
    assert _content(parts_db) == _content(whole_db)
    assert parts.as_dict() == whole.as_dict()
    again, _ = _fetch(tmp_path, "parts", source)  # a second replay: nothing new, said once
    assert again.notes.count(stage.NOTHING_NEW) == 1


@pytest.mark.samples
def test_a_source_out_of_date_order_stays_one_part(samples: Path, tmp_path: Path) -> None:
    """Parts end only between files whose dates all follow the ones read: a folder whose
    names run against its dates is read whole, as before."""
    folder = tmp_path / "shuffled"
    folder.mkdir()
    days = sorted((samples / RAW_DAYS).glob("*.jsonl"))
    for i, day in enumerate(reversed(days)):  # a_ holds the newest day, e_ the oldest
        shutil.copy(day, folder / f"{'abcde'[i]}_{day.name}")
    assert len(list(iter_replay(folder, part=1))) == 1
