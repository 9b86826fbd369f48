"""A site of several weekly shards, without a browser: the files, the first view's script
tags, and incremental rebuilds. (``test_shards.py`` opens the same site in chromium.)

The data: six weeks of a few papers each, written as export records and stored through
``run --source`` with the local scorer.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from arxivfilter.cli import main
from tests.harness import files_under

WEEKS = 6
PER_WEEK = 5
FIRST_MONDAY = dt.date(2025, 11, 3)
OLD_ID = "2511.90001"  # the oldest week's first paper: the only one about zymurgy


def _records(weeks: int = WEEKS) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    n = 0
    for w in range(weeks):
        for d in range(PER_WEEK):
            n += 1
            day = FIRST_MONDAY + dt.timedelta(weeks=w, days=d)
            title = (
                "Zymurgy-inspired batching for LLM serving"
                if n == 1
                else f"KV cache offloading for LLM inference, part {n}"
            )
            out.append(
                {
                    "schema": 1,
                    "arxiv_id": f"2511.9{n:04d}",
                    "version": 1,
                    "title": title,
                    "authors": [f"Author {n}"],
                    "abstract": f"We study LLM serving with a KV cache and speculative decoding ({n}).",
                    "categories": ["cs.DC"],
                    "primary_category": "cs.DC",
                    "comment": None,
                    "announcements": [
                        {"date": day.isoformat(), "category": "cs.DC", "type": "new"}
                    ],
                    "scores": {},
                }
            )
    return out


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _env(mp: pytest.MonkeyPatch, work: Path) -> None:
    mp.setenv("ARXIVFILTER_DB_URL", f"sqlite:///{work / 'af.db'}")
    mp.setenv("ARXIVFILTER_DIGESTS_DIR", str(work / "digests"))
    mp.setenv("ARXIVFILTER_RAW_DIR", str(work / "raw"))
    mp.setenv("ARXIVFILTER_LOCK_FILE", str(work / "lock"))
    mp.setenv("ARXIVFILTER_SITE_DIR", str(work / "site"))
    mp.delenv("ARXIVFILTER_CONFIG", raising=False)


def _build(work: Path, weeks: int = WEEKS) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, work)
        source = _write(work / "weeks.jsonl", _records(weeks))
        assert main(["run", "--source", str(source), "--scorer", "local"]) == 0
        assert main(["site"]) == 0
    return work / "site"


def test_shards_and_the_first_view(tmp_path: Path) -> None:
    site = _build(tmp_path)
    shards = sorted(p.name for p in (site / "data" / "text").iterdir())
    assert len(shards) == WEEKS and shards[0] == "2025-11-03.js"
    page = (site / "llm-inference" / "index.html").read_text(encoding="utf-8")
    # the page's own script tags bring the manifest and the newest week only
    assert "data/text/2025-12-08.js" in page and "data/text/2025-12-01.js" not in page
    assert "data/p/llm-inference/shards.js" in page


def test_rebuild_rewrites_only_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = _build(tmp_path, weeks=WEEKS - 1)
    before = files_under(site)
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, tmp_path)
        # one more week arrives: the older shards are not rewritten
        source = _write(tmp_path / "all.jsonl", _records(WEEKS))
        assert main(["run", "--source", str(source), "--scorer", "local"]) == 0
        capsys.readouterr()
        assert main(["site", "--json"]) == 0
        written = {
            str(Path(w).relative_to(site)) for w in json.loads(capsys.readouterr().out)["written"]
        }
        assert written == {
            "data/text/2025-12-08.js",
            "data/p/llm-inference/2025-12-08.js",
            "data/p/llm-systems/2025-12-08.js",
            "data/p/llm-inference/shards.js",
            "data/p/llm-systems/shards.js",
            "data/state.json",
            "index.html",
            "llm-inference/index.html",
            "llm-systems/index.html",
        }
        after = files_under(site)
        old = [rel for rel in before if "data/text/" in str(rel) or "/2025-" in str(rel)]
        assert old and all(after[rel] == before[rel] for rel in old)
        assert len(after) > len(before)
        # a lost shard file is written again, the same bytes as a fresh build's
        lost = site / "data" / "text" / "2025-11-03.js"
        lost.unlink()
        assert main(["site"]) == 0
        assert lost.is_file()
        mp.setenv("ARXIVFILTER_SITE_DIR", str(tmp_path / "fresh"))
        assert main(["site"]) == 0
    assert files_under(tmp_path / "fresh") == files_under(site)


def test_a_change_to_the_build_code_rewrites_every_shard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from arxivfilter.web import build

    site = _build(tmp_path, weeks=2)
    judged = build._judged

    def with_hint(arxiv_id: str, judgement: Any) -> dict[str, Any]:
        return {**judged(arxiv_id, judgement), "hint": "like"}

    # a new field in the records comes with new code, hence a new code hash
    monkeypatch.setattr(build, "_judged", with_hint)
    monkeypatch.setattr(build, "_CODE", "changed")
    with pytest.MonkeyPatch.context() as mp:
        _env(mp, tmp_path)
        assert main(["site"]) == 0
    for shard in (site / "data" / "p" / "llm-inference").glob("2025-*.js"):
        assert '"hint":"like"' in shard.read_text(encoding="utf-8"), shard
