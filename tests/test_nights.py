"""Nights of the nightly workflow against a stand-in arXiv (tests/arxiv_standin.py, its own
process on 127.0.0.1): the real ``arxivfilter run`` on its live fetch path (rss.arxiv.org's
feed, the export API by id, the pastweek listing for catch-up), pointed there by the
``[arxiv]`` URL keys, each night on a fresh runner (a new clone of a bare remote, no
database, the state from the repository) with nightly.yml's ``run:`` blocks
(tests/workflow_runner.py). The clock: the CLI takes the real clock, so each night runs the
real process under libfaketime (Debian's ``faketime``) started at the night's time, sped up
ten times so arXiv's 3-second politeness delay costs 0.3 s. Twice: with no key (the local
scorer) and with the ``OPENAI_API_KEY`` secret and the ``OPENAI_BASE_URL`` variable pointing
at the stub LLM (tests/stub_llm.py, its own process), whose call counter shows what each
night paid.

Papers: real ones from the shared samples (LinChentang__daily-arXiv-ai-enhanced raw days,
December 2025), a few per listing date.

The nights: (1) the first night of a fresh fork, (2) the next night, (3) a night GitHub
dropped, caught up by the next from the pastweek listing, (4) a night whose feed is not
rebuilt yet (the job fails, nothing is lost), then the 04:30 run (with the LLM: its quota runs
out after one answer, then a re-run pays only for the rest), (5) an immediate re-run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import workflow_runner
from tests.workflow_runner import JobResult

ROOT = Path(__file__).resolve().parents[1]
DAILY = Path("E_paper_metadata") / "LinChentang__daily-arXiv-ai-enhanced"
LIMIT = 10 * 1024 * 1024
WATCHED = ("cs.DC", "cs.OS", "cs.LG")  # the default categories
DAYS = ("2025-12-15", "2025-12-16", "2025-12-17", "2025-12-18", "2025-12-19")  # Mon..Fri
PER_DAY = 4

pytestmark = pytest.mark.slow

# the real arxivfilter, at the night's clock (UTC), time running 10x
WRAPPER = """#!/bin/sh
export TZ=UTC
exec faketime -f "@$NIGHT_AT x10" "{real}" "$@"
"""


def _paper(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rec["id"],
        "title": rec["title"],
        "abstract": rec["summary"],
        "authors": list(rec.get("authors") or ["Anonymous"]),
        "categories": [str(c) for c in rec.get("categories") or []],
        "comment": rec.get("comment") or "",
    }


def _papers(samples: Path) -> dict[str, list[dict[str, Any]]]:
    """A few real papers per listing date whose primary category is watched, each id once."""
    seen: set[str] = set()
    out: dict[str, list[dict[str, Any]]] = {}
    for day in DAYS:
        chosen = []
        for line in (
            (samples / DAILY / "raw_days" / f"{day}.jsonl").read_text(encoding="utf-8").splitlines()
        ):
            rec = json.loads(line)
            cats = rec.get("categories") or []
            if not cats or cats[0] not in WATCHED or rec["id"] in seen:
                continue
            if not rec.get("title") or not rec.get("summary"):
                continue
            seen.add(rec["id"])
            chosen.append(_paper(rec))
            if len(chosen) == PER_DAY:
                break
        out[day] = chosen
    return out


def _liked(samples: Path) -> list[dict[str, Any]]:
    """The shipped llm-systems profile's liked examples, as the export API knows them."""
    tsv = ROOT / "config" / "profiles" / "llm-systems.liked.tsv"
    ids = {line.strip() for line in tsv.read_text(encoding="utf-8").splitlines()[1:]}
    out = []
    for path in sorted((samples / DAILY / "systems_subset").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["id"] in ids:
                out.append(_paper(rec))
                ids.discard(rec["id"])
    return out


class Standin:
    """The stand-in arXiv process; ``feed`` sets the listing its feeds hold now."""

    def __init__(self, tmp: Path, samples: Path) -> None:
        self.dir = tmp / "arxiv"
        self.dir.mkdir()
        (self.dir / "papers.json").write_text(
            json.dumps({"days": _papers(samples), "extra": _liked(samples)}), encoding="utf-8"
        )
        self.control = self.dir / "control.json"
        self.log = self.dir / "requests.jsonl"
        self.feed(DAYS[0])
        port_file = self.dir / "port"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.arxiv_standin",
                str(self.dir / "papers.json"),
                str(self.control),
                str(self.log),
                str(port_file),
            ],
            cwd=ROOT,
        )
        deadline = time.monotonic() + 20
        while not port_file.is_file():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the stand-in arXiv did not start")
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{port_file.read_text(encoding='utf-8')}"

    def feed(self, day: str, *, empty: bool = False) -> None:
        self.control.write_text(json.dumps({"feed": day, "empty": empty}), encoding="utf-8")

    def take(self) -> list[str]:
        """The requests since the last call, as ``path`` or ``path?key`` for the API."""
        if not self.log.is_file():
            return []
        out = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            out.append(rec["path"] + ("?id_list" if "id_list" in rec["query"] else ""))
        self.log.unlink()
        return out

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def standin(tmp_path: Path, samples: Path) -> Iterator[Standin]:
    if shutil.which("faketime") is None:
        pytest.skip("faketime (libfaketime) is not installed: apt-get install faketime")
    server = Standin(tmp_path, samples)
    try:
        yield server
    finally:
        server.close()


class StubLLM:
    """tests/stub_llm.py in its own process; ``calls()`` is its call counter."""

    def __init__(self, tmp: Path) -> None:
        port_file = tmp / "llm-port"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.stub_llm", "--port", "0", "--port-file", str(port_file)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not port_file.is_file() or not port_file.read_text(encoding="utf-8").strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the stub LLM did not start")
            time.sleep(0.05)
        self.root = f"http://127.0.0.1:{port_file.read_text(encoding='utf-8').strip()}"
        self.url = f"{self.root}/v1"

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.root}/stats", timeout=10) as resp:
            return dict(json.loads(resp.read()))

    def calls(self) -> int:
        return int(self.stats()["calls"])

    def configure(self, **settings: Any) -> None:
        request = urllib.request.Request(
            f"{self.root}/config", data=json.dumps(settings).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Fork(workflow_runner.Fork):
    def __init__(self, tmp: Path, arxiv: Standin, llm: StubLLM | None) -> None:
        real = Path(sys.executable).parent / "arxivfilter"
        if not real.is_file():
            pytest.skip("the arxivfilter console script is not installed beside this Python")
        super().__init__(tmp, {"arxivfilter": WRAPPER.format(real=real)})
        self.arxiv = arxiv
        self.llm = llm

    def night(self, at: str) -> JobResult:
        """A fresh runner at ``at`` (UTC): a new clone, no database, the job's steps in order."""
        base = self.arxiv.base
        env = {
            "NIGHT_AT": at,
            "ARXIVFILTER_ARXIV__RSS_URL": f"{base}/rss/",
            "ARXIVFILTER_ARXIV__API_URL": f"{base}/api/query",
            "ARXIVFILTER_ARXIV__LISTING_URL": base,
            "ARXIVFILTER_ARXIV__RETRY_ATTEMPTS": "1",
        }
        secrets: dict[str, str] = {}
        variables: dict[str, str] = {}
        if self.llm is not None:
            secrets = {"OPENAI_API_KEY": "sk-simulated"}
            variables = {"OPENAI_BASE_URL": self.llm.url, "ARXIVFILTER_MODEL": "stub-model"}
        return self.run_night(env, secrets=secrets, variables=variables)

    def stored_ids(self, day: str) -> set[str]:
        path = f"state/announcements/{day[:4]}/{day}.jsonl"
        return {json.loads(line)["id"] for line in self.show(path).splitlines()}


def _event(result: JobResult, name: str) -> dict[str, Any]:
    """The last log record ``name`` the night's ``arxivfilter run`` wrote (JSON lines, stderr)."""
    found = {}
    for line in result.step("Run").stderr.splitlines():
        if line.startswith("{"):
            rec = json.loads(line)
            if rec.get("event") == name:
                found = rec
    assert found, f"no {name!r} record in the run's log:\n{result.log()}"
    return found


RSS = "/rss/" + "+".join(WATCHED)
API = "/api/query?id_list"
PASTWEEK = [f"/list/{c}/pastweek" for c in WATCHED]


@pytest.fixture(params=["local", "llm"])
def llm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StubLLM | None]:
    if request.param == "local":
        yield None
        return
    server = StubLLM(tmp_path)
    try:
        yield server
    finally:
        server.close()


def test_nights_against_a_standin_arxiv(
    tmp_path: Path, samples: Path, standin: Standin, llm: StubLLM | None
) -> None:
    papers = _papers(samples)
    ids = {day: {p["id"] for p in ps} for day, ps in papers.items()}
    fork = Fork(tmp_path, standin, llm)
    paid = [0]

    def calls() -> int:
        """LLM calls since the last look (0 with the local scorer)."""
        if llm is None:
            return 0
        now = llm.calls()
        new, paid[0] = now - paid[0], now
        return new

    def check(result: JobResult, ok: bool = True) -> None:
        assert result.success is ok, result.log()
        sizes = fork.sizes()
        assert not any(p.startswith("data/") for p in sizes)  # no database in git
        assert max(sizes.values()) <= LIMIT

    # (1) the first night on a fresh fork: Monday 00:30 New York, the feed holds Monday's
    standin.feed("2025-12-15")
    result = fork.night("2025-12-15 05:30:00")
    check(result)
    # the latest listing only, its metadata by id; the local scorer: the profile's liked
    # examples by id (once: the state keeps them)
    assert standin.take() == [RSS, API] + ([API] if llm is None else [])
    assert fork.subjects() == ["digest: 2025-12-15", "fork"]
    assert fork.stored_ids("2025-12-15") == ids["2025-12-15"]
    assert "digests/llm-systems/2025/2025-12-15.md" in fork.sizes()
    assert _event(result, "score")["llm_calls"] == calls()

    # (2) the next night: Tuesday's listing, Monday's not asked again
    standin.feed("2025-12-16")
    result = fork.night("2025-12-16 05:30:00")
    check(result)
    assert standin.take() == [RSS, API]
    assert fork.subjects()[0] == "digest: 2025-12-16"
    score = _event(result, "score")
    assert score["judged"] == 2 * PER_DAY  # Tuesday's, 2 profiles; Monday's not again
    assert score["llm_calls"] == calls() and (llm is None or score["llm_calls"] > 0)

    # (3) Wednesday's night was dropped by GitHub; Thursday's catches it up from pastweek
    standin.feed("2025-12-18")
    result = fork.night("2025-12-18 05:30:00")
    check(result)
    asked = standin.take()
    assert sorted(asked[: len(PASTWEEK)]) == sorted(PASTWEEK), asked
    assert asked[len(PASTWEEK) :] == [API, RSS, API], asked
    assert fork.subjects()[0] == "digest: 2025-12-17 2025-12-18"
    assert fork.stored_ids("2025-12-17") == ids["2025-12-17"]
    assert fork.stored_ids("2025-12-18") == ids["2025-12-18"]
    assert _event(result, "fetch")["dates"] == "['2025-12-17', '2025-12-18']"
    score = _event(result, "score")
    assert score["judged"] == 2 * 2 * PER_DAY  # two listings, 2 profiles
    assert score["llm_calls"] == calls() and (llm is None or score["llm_calls"] > 0)

    # (4) Friday 00:30: the feed is not rebuilt yet (still Thursday's; in the LLM variant,
    # Friday's but still empty): the job fails, nothing is committed but the run history,
    # nothing stored is lost ...
    before = fork.subjects()
    if llm is None:
        standin.feed("2025-12-18")
    else:
        standin.feed("2025-12-19", empty=True)
    result = fork.night("2025-12-19 05:30:00")
    check(result, ok=False)
    assert result.step("Fail unless the run was done").outcome == "failure"
    assert standin.take() == [RSS]
    assert "arxivfilter run exited 3" in result.step("Fail unless the run was done").stderr
    why = "still holds the listing of 2025-12-18" if llm is None else "is empty on a mailing day"
    assert why in result.step("Run").stderr
    assert calls() == 0  # Thursday's judgements came from the state
    assert fork.subjects() == before
    assert fork.stored_ids("2025-12-17") == ids["2025-12-17"]
    # ... and the 04:30 run finds Friday's feed
    standin.feed("2025-12-19")
    at = "2025-12-19 09:30:00"
    fetched = [RSS, API]
    if llm is not None:
        # with the LLM, its quota runs out after one more answer: exit 3, the job fails,
        # the judgement it paid for is committed with the state
        llm.configure(quota_after=llm.stats()["admitted"] + 1)
        result = fork.night(at)
        check(result, ok=False)
        assert "no quota left" in result.step("Run").stderr
        assert "arxivfilter run exited 3" in result.step("Fail unless the run was done").stderr
        assert standin.take() == [RSS, API]
        assert calls() > 1  # one answered, then refused
        assert fork.subjects()[0] == "digest: 2025-12-19"
        assert fork.stored_ids("2025-12-19") == ids["2025-12-19"]
        # a re-run once the quota is topped up: Friday's listing comes from the state (no
        # request) and only what was not paid for is judged
        llm.configure(quota_after=0)
        at, fetched = "2025-12-19 09:35:00", []
    result = fork.night(at)
    check(result)
    assert standin.take() == fetched
    assert fork.subjects()[0] == "digest: 2025-12-19"
    assert fork.stored_ids("2025-12-19") == ids["2025-12-19"]
    score = _event(result, "score")
    if llm is None:
        assert score["judged"] == 2 * PER_DAY
    else:
        # the one answer paid on the quota run is kept: only the rest is judged
        assert score["judged"] == 2 * PER_DAY - 1
    assert score["llm_calls"] == calls() and (llm is None or score["llm_calls"] > 0)

    # (5) an immediate re-run: nothing asked, nothing judged, no commit
    before = fork.subjects()
    result = fork.night("2025-12-19 09:45:00")
    check(result)
    assert standin.take() == []
    assert "nothing changed" in result.step("Commit").stdout
    assert fork.subjects() == before
    score = _event(result, "score")
    assert score["judged"] == 0 and score["llm_calls"] == 0 and score["cached"] > 0
    assert calls() == 0  # the stub LLM was not asked
    assert _event(result, "report")["written"] == "[]"  # the digests are byte-identical
