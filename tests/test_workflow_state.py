"""The nightly workflow with the real arxivfilter on a fresh runner every night
(tests/workflow_runner.py runs nightly.yml's steps with bash): the committed text state
(state/) replaces the database file, a re-run commits nothing, and what a night judged is
not judged again on the next runner. arXiv is replaced by recorded days (`--source`, added
by a wrapper around the real command), the LLM by the local scorer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests import workflow_runner
from tests.workflow_runner import JobResult

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "2025-12-16.jsonl"
LIMIT = 10 * 1024 * 1024

pytestmark = pytest.mark.slow

WRAPPER = """#!/bin/sh
# the real arxivfilter; `run` replays the night's recorded listings with the local scorer
if [ "$1" = "run" ]; then
  shift
  exec "{real}" run --source "$NIGHT_SOURCE" --scorer local "$@"
fi
exec "{real}" "$@"
"""


def _real() -> str:
    candidate = Path(sys.executable).parent / "arxivfilter"
    if not candidate.is_file():
        pytest.skip("the arxivfilter console script is not installed beside this Python")
    return str(candidate)


class Fork(workflow_runner.Fork):
    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, {"arxivfilter": WRAPPER.format(real=_real())})

    def night(self, source: Path) -> JobResult:
        """A fresh runner replaying ``source``: a new clone, no database, the job's steps."""
        return self.run_night({"NIGHT_SOURCE": str(source)})


def _day(folder: Path, date: str, start: int, n: int) -> Path:
    """``n`` recorded papers of the example day, from line ``start``, dated ``date``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines(True)[start : start + n]
    path = folder / f"{date}.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_nights_on_fresh_runners_commit_text_state_and_never_judge_twice(tmp_path: Path) -> None:
    fork = Fork(tmp_path)
    night1 = tmp_path / "arxiv1"
    _day(night1, "2025-12-16", 0, 24)

    result = fork.night(night1)
    assert result.success, result.log()
    assert fork.subjects() == ["digest: 2025-12-16", "fork"]
    sizes = fork.sizes()
    assert "state/manifest.json" in sizes and "state/announcements/2025/2025-12-16.jsonl" in sizes
    assert not any(p.startswith("data/") for p in sizes)  # no database in git
    assert max(sizes.values()) <= LIMIT

    # an immediate re-run on a new runner: rebuilt from state/, nothing new, no commit
    result = fork.night(night1)
    assert result.success, result.log()
    assert "nothing changed" in result.step("Commit").stdout
    assert fork.subjects() == ["digest: 2025-12-16", "fork"]

    # the next night: a new day; the first day's judgements come from the state
    night3 = tmp_path / "arxiv3"
    _day(night3, "2025-12-16", 0, 24)
    _day(night3, "2025-12-17", 24, 24)
    result = fork.night(night3)
    assert result.success, result.log()
    assert fork.subjects()[0] == "digest: 2025-12-17"
    runs = [
        json.loads(line)
        for path in fork.sizes()
        if path.startswith("state/runs/")
        for line in fork.show(path).splitlines()
    ]
    last = max(runs, key=lambda r: r["id"])
    assert last["counts"]["cached"] == 48  # 24 papers x 2 profiles of the first day
    assert last["counts"]["judged"] == 48  # only the new day's
    assert max(fork.sizes().values()) <= LIMIT
