"""Run a GitHub Actions job's ``run:`` steps locally, the way GitHub would (GitHub itself
cannot run here).

What it reproduces of GitHub's documented behaviour:
  * ``${{ secrets.X }}``, ``${{ vars.X }}``, ``${{ inputs.X }}`` that are not set become the
    empty string (never an absent variable); ``github.token``, ``github.repository``,
    ``github.ref_name`` and ``steps.<id>.outputs.<name>`` are substituted likewise;
  * each step runs ``bash -e <script>`` (the default shell on ubuntu runners) with the job's
    and the step's ``env``, plus ``GITHUB_ENV``/``GITHUB_OUTPUT`` files read back after it;
  * a step without ``if:`` runs only while every earlier step succeeded (``success()``);
    ``always()``, ``failure()``, ``!cancelled()`` and ``steps.<id>.outcome == '...'`` work;
  * ``uses:`` steps are not run: the caller has checked out the repository (a fresh clone)
    and put a Python with arxivfilter on ``PATH``; steps named in ``skip`` are not run either.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@dataclass
class StepResult:
    name: str
    outcome: str  # success | failure | skipped
    returncode: int | None
    stdout: str = ""
    stderr: str = ""


@dataclass
class JobResult:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(s.outcome != "failure" for s in self.steps)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def log(self) -> str:
        return "\n".join(
            f"--- {s.name}: {s.outcome} ({s.returncode})\n{s.stdout}{s.stderr}" for s in self.steps
        )


def load_job(path: Path, job: str) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return dict(data["jobs"][job])


def _step_name(step: Mapping[str, Any]) -> str:
    return str(step.get("name") or step.get("id") or step.get("uses") or "step")


class Context:
    def __init__(
        self,
        secrets: Mapping[str, str],
        variables: Mapping[str, str],
        inputs: Mapping[str, str],
        github: Mapping[str, str],
    ) -> None:
        self.secrets = dict(secrets)
        self.vars = dict(variables)
        self.inputs = dict(inputs)
        self.github = dict(github)
        self.outputs: dict[str, dict[str, str]] = {}
        self.outcomes: dict[str, str] = {}

    def value(self, expr: str) -> str:
        parts = expr.strip().split(".")
        head = parts[0]
        if head in ("secrets", "vars", "inputs", "github") and len(parts) == 2:
            table: dict[str, str] = getattr(self, head)
            return table.get(parts[1], "")
        if head == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return self.outputs.get(parts[1], {}).get(parts[3], "")
        if head == "steps" and len(parts) == 3 and parts[2] == "outcome":
            return self.outcomes.get(parts[1], "")
        raise ValueError(f"expression not supported by the simulation: {expr!r}")

    def substitute(self, text: str) -> str:
        return _EXPR.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, cond: str | None, failed: bool) -> bool:
        if cond is None:
            return not failed
        expr = cond.strip()
        m = _EXPR.fullmatch(expr)
        if m:
            expr = m.group(1)
        status_checked = False
        result = True
        for term in (t.strip() for t in expr.split("&&")):
            if term in ("always()", "!cancelled()"):
                status_checked = True
            elif term == "success()":
                status_checked = True
                result = result and not failed
            elif term == "failure()":
                status_checked = True
                result = result and failed
            else:
                cmp = re.fullmatch(r"(\S+)\s*(==|!=)\s*'([^']*)'", term)
                if not cmp:
                    raise ValueError(f"condition not supported by the simulation: {cond!r}")
                left = self.value(cmp.group(1))
                ok = left == cmp.group(3)
                result = result and (ok if cmp.group(2) == "==" else not ok)
        if not status_checked:
            result = result and not failed
        return result


def _read_kv(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                out[k] = v
    return out


def run_job(
    workflow: Path,
    job: str,
    workspace: Path,
    *,
    base_env: Mapping[str, str],
    secrets: Mapping[str, str] = {},
    variables: Mapping[str, str] = {},
    inputs: Mapping[str, str] = {},
    github: Mapping[str, str] = {},
    skip: Sequence[str] = ("Install",),
    timeout: float = 600,
) -> JobResult:
    """Run the job's steps in ``workspace`` in order; the job's result as GitHub would show it."""
    spec = load_job(workflow, job)
    ctx = Context(secrets, variables, inputs, github)
    runner_temp = workspace.parent / f"{workspace.name}-runner"
    runner_temp.mkdir(exist_ok=True)
    env_file = runner_temp / "github_env"
    env_file.write_text("", encoding="utf-8")
    exported: dict[str, str] = {}
    result = JobResult()
    failed = False
    job_env = {k: ctx.substitute(str(v)) for k, v in (spec.get("env") or {}).items()}
    for i, step in enumerate(spec["steps"]):
        name = _step_name(step)
        sid = str(step.get("id") or f"__{i}")
        if "uses" in step or name in skip:
            ctx.outcomes[sid] = "success"
            result.steps.append(StepResult(name, "success", 0, "(not run: simulated)"))
            continue
        if not ctx.condition(step.get("if"), failed):
            ctx.outcomes[sid] = "skipped"
            result.steps.append(StepResult(name, "skipped", None))
            continue
        out_file = runner_temp / f"output_{i}"
        out_file.write_text("", encoding="utf-8")
        env = {
            **base_env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_ENV": str(env_file),
            "GITHUB_OUTPUT": str(out_file),
            "GITHUB_REF_NAME": ctx.github.get("ref_name", "main"),
            "GITHUB_REPOSITORY": ctx.github.get("repository", ""),
            "RUNNER_TEMP": str(runner_temp),
            **exported,
            **job_env,
        }
        env.update({k: ctx.substitute(str(v)) for k, v in (step.get("env") or {}).items()})
        script = runner_temp / f"step_{i}.sh"
        script.write_text(ctx.substitute(str(step["run"])), encoding="utf-8")
        proc = subprocess.run(
            ["bash", "-e", str(script)],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        outcome = "success" if proc.returncode == 0 else "failure"
        failed = failed or outcome == "failure"
        ctx.outcomes[sid] = outcome
        ctx.outputs[sid] = _read_kv(out_file)
        exported.update(_read_kv(env_file))
        result.steps.append(StepResult(name, outcome, proc.returncode, proc.stdout, proc.stderr))
    return result


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def git_env(home: Path, remote: Path, repository: str, token: str) -> dict[str, str]:
    """An environment whose git sends the workflow's github.com push URL to the bare ``remote``."""
    cfg = home / "gitconfig"
    url = f"https://x-access-token:{token}@github.com/{repository}.git"
    cfg.write_text(
        f'[url "{remote.as_uri()}"]\n\tinsteadOf = {url}\n'
        "[init]\n\tdefaultBranch = main\n"
        "[user]\n\tname = someone\n\temail = someone@example.org\n",
        encoding="utf-8",
    )
    return {
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(cfg),
        "GIT_CONFIG_NOSYSTEM": "1",
        "LANG": "C.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }


ROOT = Path(__file__).resolve().parents[1]
NIGHTLY = ROOT / ".github" / "workflows" / "nightly.yml"
FORK_REPO = "someone/arxivfilter-fork"
FORK_TOKEN = "ghs_simulatedtoken"


class Fork:
    """A user's fork as the nightly job sees it: a bare remote (GitHub's copy, seeded with
    ``nightly.yml``, ``.gitignore`` and a README), a ``bin`` folder of stand-in commands put
    first on ``PATH`` (``gh`` always; ``executables`` maps a name to its script), and a fresh
    clone per night (the runner)."""

    def __init__(self, tmp: Path, executables: Mapping[str, str]) -> None:
        self.tmp = tmp
        self.remote = tmp / "remote.git"
        self.home = tmp / "home"
        self.home.mkdir()
        self.env = git_env(self.home, self.remote, FORK_REPO, FORK_TOKEN)
        self.bin = tmp / "bin"
        self.bin.mkdir()
        for name, text in {"gh": "#!/bin/sh\nexit 0\n", **executables}.items():
            path = self.bin / name
            path.write_text(text, encoding="utf-8")
            path.chmod(path.stat().st_mode | 0o111)
        git(tmp, "init", "-q", "--bare", str(self.remote), env=self.env)
        seed = tmp / "seed"
        git(tmp, "clone", "-q", str(self.remote), str(seed), env=self.env)
        (seed / ".github" / "workflows").mkdir(parents=True)
        (seed / ".github" / "workflows" / "nightly.yml").write_bytes(NIGHTLY.read_bytes())
        (seed / ".gitignore").write_bytes((ROOT / ".gitignore").read_bytes())
        (seed / "README.md").write_text("a fork\n", encoding="utf-8")
        git(seed, "add", "-A", env=self.env)
        git(seed, "commit", "-q", "-m", "fork", env=self.env)
        git(seed, "push", "-q", "origin", "HEAD:main", env=self.env)
        self.nights = 0

    def run_night(
        self,
        env: Mapping[str, str] | None = None,
        *,
        secrets: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        before_job: Any = None,
    ) -> JobResult:
        """A fresh runner: a new clone of the remote, no database, the job's steps in order,
        with ``env`` added to the runner's environment; ``before_job`` runs after the clone
        (a push the user makes while the job runs)."""
        self.nights += 1
        work = self.tmp / f"runner{self.nights}"
        git(self.tmp, "clone", "-q", str(self.remote), str(work), env=self.env)
        if before_job is not None:
            before_job()
        base = {**self.env, "PATH": f"{self.bin}{os.pathsep}{self.env['PATH']}", **(env or {})}
        return run_job(
            NIGHTLY,
            "digest",
            work,
            base_env=base,
            secrets=dict(secrets or {}),
            variables=dict(variables or {}),
            github={"token": FORK_TOKEN, "repository": FORK_REPO, "ref_name": "main"},
        )

    def log(self) -> list[str]:
        return git(self.remote, "log", "--format=%an <%ae>|%s", "main", env=self.env).splitlines()

    def subjects(self) -> list[str]:
        return git(self.remote, "log", "--format=%s", "main", env=self.env).splitlines()

    def files(self) -> list[str]:
        return git(self.remote, "ls-tree", "-r", "--name-only", "main", env=self.env).split()

    def sizes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in git(self.remote, "ls-tree", "-r", "-l", "main", env=self.env).splitlines():
            meta, path = line.split("\t", 1)
            out[path] = int(meta.split()[3])
        return out

    def show(self, path: str) -> str:
        return git(self.remote, "show", f"main:{path}", env=self.env)
