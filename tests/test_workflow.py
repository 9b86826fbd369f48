"""The nightly workflow's own steps, run as GitHub runs them (tests/workflow_runner.py) with a
stand-in ``arxivfilter`` on PATH: what the commit step does on the first night, after a
rejected push, on a failed night; which variables reach the process; the schedule."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import workflow_runner
from tests.workflow_runner import JobResult, git

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"

FAKE = """#!{python}
# a stand-in arxivfilter: `run` does what plan.json says and records its argv and environment
import json, os, sys
from pathlib import Path
here = Path(os.environ["FAKE_DIR"])
plan = json.loads((here / "plan.json").read_text())
if sys.argv[1:2] == ["run"]:
    (here / "seen.json").write_text(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ)}}))
    for path, text in plan.get("write", {{}}).items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)
    sys.exit(plan.get("exit", 0))
sys.exit(0)
"""


class Fork(workflow_runner.Fork):
    """The fork with the stand-in ``arxivfilter``; each night writes its plan first."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, {"arxivfilter": FAKE.format(python=sys.executable)})

    def night(
        self,
        plan: dict[str, Any],
        *,
        secrets: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
        before_push: Any = None,
    ) -> tuple[JobResult, dict[str, Any]]:
        (self.tmp / "plan.json").write_text(json.dumps(plan), encoding="utf-8")
        result = self.run_night(
            {"FAKE_DIR": str(self.tmp)},
            secrets=secrets,
            variables=variables,
            before_job=before_push,
        )
        seen_path = self.tmp / "seen.json"
        seen = json.loads(seen_path.read_text()) if seen_path.is_file() else {}
        return result, seen


@pytest.fixture
def fork(tmp_path: Path) -> Fork:
    return Fork(tmp_path)


DIGEST = "digests/llm-inference/2026/2026-02-24.md"


def test_first_night_with_nothing_yet_is_green(fork: Fork) -> None:
    """No digest exists yet (a holiday first night): the old `git add digests` failed with 128."""
    result, _ = fork.night({"exit": 0})
    assert result.success, result.log()
    assert len(fork.log()) == 1


def test_commit_is_the_bot_with_the_listing_date(fork: Fork) -> None:
    result, _ = fork.night({"exit": 0, "write": {DIGEST: "# digest\n"}})
    assert result.success, result.log()
    author, subject = fork.log()[0].split("|")
    assert author == "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
    assert subject == "digest: 2026-02-24"  # the listing's date, not the clock's
    assert DIGEST in fork.files()


def test_a_push_during_the_run_is_rebased_and_retried(fork: Fork) -> None:
    def user_pushes() -> None:
        other = fork.tmp / "laptop"
        git(fork.tmp, "clone", "-q", str(fork.remote), str(other), env=fork.env)
        (other / "README.md").write_text("edited meanwhile\n", encoding="utf-8")
        git(other, "commit", "-q", "-am", "user edit", env=fork.env)
        git(other, "push", "-q", "origin", "HEAD:main", env=fork.env)

    result, _ = fork.night({"exit": 0, "write": {DIGEST: "# digest\n"}}, before_push=user_pushes)
    assert result.success, result.log()
    subjects = [line.split("|")[1] for line in fork.log()]
    assert subjects == ["digest: 2026-02-24", "user edit", "fork"]


@pytest.mark.parametrize(
    ("code", "green"), [(0, True), (1, True), (2, False), (3, False), (70, False)]
)
def test_failed_night_still_commits_what_it_paid_for(fork: Fork, code: int, green: bool) -> None:
    """Exit 3 (quota gone after some paid judgements) or 70 (a crash): the state is committed
    and the job is red; exit 0 and 1 are green. The old workflow skipped the commit."""
    result, _ = fork.night({"exit": code, "write": {DIGEST: "# partial\n"}})
    assert result.success is green, result.log()
    assert DIGEST in fork.files()
    assert result.step("Commit").outcome == "success"


def test_unset_variables_are_not_exported(fork: Fork) -> None:
    result, seen = fork.night({"exit": 0})
    assert result.success, result.log()
    env = seen["env"]
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ARXIVFILTER_MODEL",
        "ARXIVFILTER_CONTACT",
        "ARXIVFILTER_REPORT__THRESHOLD",
        "ARXIVFILTER_LLM__PREFILTER",
        "ARXIVFILTER_SMTP_PASSWORD",
    ):
        assert name not in env, name
    assert seen["argv"] == ["run"]


def test_repository_variables_reach_the_run(fork: Fork) -> None:
    result, seen = fork.night(
        {"exit": 0},
        secrets={"OPENAI_API_KEY": "sk-test"},
        variables={
            "ARXIVFILTER_CATEGORIES": "cs.DC,cs.OS",
            "ARXIVFILTER_PROFILES": "llm-inference, llm-systems",
            "ARXIVFILTER_THRESHOLD": "60",
            "ARXIVFILTER_PREFILTER": "0.4",
            "ARXIVFILTER_MAX_COST": "0.5",
        },
    )
    assert result.success, result.log()
    argv, env = seen["argv"], seen["env"]
    assert argv == [
        "run",
        "--categories",
        "cs.DC,cs.OS",
        "--max-cost",
        "0.5",
        "--profile",
        "llm-inference",
        "--profile",
        "llm-systems",
    ]
    assert env["OPENAI_API_KEY"] == "sk-test"
    assert env["ARXIVFILTER_REPORT__THRESHOLD"] == "60"
    assert env["ARXIVFILTER_LLM__PREFILTER"] == "0.4"


def test_schedule_is_new_york_time_twice_a_night() -> None:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    on = data[True] if True in data else data["on"]  # YAML 1.1 reads `on` as true
    crons = on["schedule"]
    assert [c["timezone"] for c in crons] == ["America/New_York", "America/New_York"]
    assert crons[0]["cron"] == "30 0 * * 1-5"  # after the feeds are rebuilt around midnight
    assert len({c["cron"] for c in crons}) == 2


def test_dependabot_keeps_the_pinned_actions_current() -> None:
    data = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    assert [u["package-ecosystem"] for u in data["updates"]] == ["github-actions"]


def test_threshold_setting_replaces_every_profiles_own() -> None:
    from arxivfilter import pipeline
    from arxivfilter.config import load_settings

    settings = load_settings(env={"ARXIVFILTER_REPORT__THRESHOLD": "55"})
    profiles = pipeline.resolve_profiles(pipeline.Options(), settings)
    assert profiles and {p.threshold for p in profiles} == {55}
    own = pipeline.resolve_profiles(pipeline.Options(), load_settings(env={}))
    assert [p.content_hash for p in profiles] == [p.content_hash for p in own]  # no re-scoring
    unset = load_settings(env={"ARXIVFILTER_REPORT__THRESHOLD": ""})
    assert unset.report.threshold is None
