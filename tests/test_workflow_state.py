"""The nightly workflow with the real arxivfilter on a fresh runner every night
(tests/workflow_runner.py runs nightly.yml's steps with bash): the committed text state
(state/) replaces the database file, a re-run commits nothing, and what a night judged is
not judged again on the next runner. arXiv is replaced by recorded days (`--source`, added
by a wrapper around the real command), the LLM by the local scorer."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from tests.workflow_runner import JobResult, git, git_env, run_job

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
EXAMPLE = ROOT / "examples" / "2025-12-16.jsonl"
REPO = "someone/arxivfilter-fork"
TOKEN = "ghs_simulatedtoken"
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


class Fork:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.remote = tmp / "remote.git"
        self.home = tmp / "home"
        self.home.mkdir()
        self.env = git_env(self.home, self.remote, REPO, TOKEN)
        self.bin = tmp / "bin"
        self.bin.mkdir()
        wrapper = self.bin / "arxivfilter"
        wrapper.write_text(WRAPPER.format(real=_real()), encoding="utf-8")
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
        gh = self.bin / "gh"
        gh.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
        git(tmp, "init", "-q", "--bare", str(self.remote), env=self.env)
        seed = tmp / "seed"
        git(tmp, "clone", "-q", str(self.remote), str(seed), env=self.env)
        (seed / ".github" / "workflows").mkdir(parents=True)
        (seed / ".github" / "workflows" / "nightly.yml").write_bytes(WORKFLOW.read_bytes())
        (seed / ".gitignore").write_bytes((ROOT / ".gitignore").read_bytes())
        (seed / "README.md").write_text("a fork\n", encoding="utf-8")
        git(seed, "add", "-A", env=self.env)
        git(seed, "commit", "-q", "-m", "fork", env=self.env)
        git(seed, "push", "-q", "origin", "HEAD:main", env=self.env)
        self.nights = 0

    def night(self, source: Path) -> JobResult:
        """A fresh runner: a new clone, no database, the job's steps in order."""
        self.nights += 1
        work = self.tmp / f"runner{self.nights}"
        git(self.tmp, "clone", "-q", str(self.remote), str(work), env=self.env)
        env = {
            **self.env,
            "PATH": f"{self.bin}{os.pathsep}{self.env['PATH']}",
            "NIGHT_SOURCE": str(source),
        }
        return run_job(
            WORKFLOW,
            "digest",
            work,
            base_env=env,
            github={"token": TOKEN, "repository": REPO, "ref_name": "main"},
        )

    def subjects(self) -> list[str]:
        return git(self.remote, "log", "--format=%s", "main", env=self.env).splitlines()

    def sizes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in git(self.remote, "ls-tree", "-r", "-l", "main", env=self.env).splitlines():
            meta, path = line.split("\t", 1)
            out[path] = int(meta.split()[3])
        return out

    def show(self, path: str) -> str:
        return git(self.remote, "show", f"main:{path}", env=self.env)


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
