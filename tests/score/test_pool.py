"""The local scorer's worker processes (``score/pool.py``): the same judgements, in the same
order, as judging in process; and a pool that fails (a worker killed, stopped, or with other
parameters; a sink that raises) leaves the rest judged in process, never a lost paper or a
hang."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from arxivfilter.config import Profile, load_profile, load_settings
from arxivfilter.errors import ConfigError
from arxivfilter.models import PaperText
from arxivfilter.score import lexical, pool
from arxivfilter.score.local import LocalScorer
from tests.fakes import LocalSink
from tests.score.test_local import DAY, _read

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ["llm-inference", "llm-systems"]


def _profile(name: str) -> Profile:
    return load_profile(ROOT / "config" / "profiles" / f"{name}.toml")


@pytest.fixture(scope="module")
def day(samples: Path) -> list[PaperText]:
    """The 320 distinct papers of a real day that carry cs.DC, cs.OS or cs.LG."""
    return [p for p in _read(samples / DAY) if {"cs.DC", "cs.OS", "cs.LG"} & set(p.categories)]


def _judged(scorer: LocalScorer, profile: Profile, papers: Sequence[PaperText]) -> list[tuple]:
    sink = LocalSink()
    asyncio.run(scorer.judge(profile, papers, sink))
    return [(p.arxiv_id, r.model_dump()) for p, r in sink.got]


@pytest.fixture
def in_process(day: list[PaperText]) -> dict[str, list[tuple]]:
    return {name: _judged(LocalScorer(), _profile(name), day) for name in PROFILES}


@dataclass
class _Text:
    """A paper as the scorer reads it (synthetic ids; real titles and abstracts)."""

    arxiv_id: str
    title: str
    abstract: str
    text_hash: str = ""


def _many(day: list[PaperText], tag: str, n: int) -> list[_Text]:
    return [
        _Text(f"{tag}.{i:06d}", f"{day[i % len(day)].title} {tag}{i}", day[i % len(day)].abstract)
        for i in range(n)
    ]


def _alive(scorer: LocalScorer) -> list[int]:
    return [w.process.pid for w in scorer._worker_pool()._workers if w.process.is_alive()]  # type: ignore[misc]


def test_the_same_judgements_in_the_same_order(
    day: list[PaperText], in_process: dict[str, list[tuple]]
) -> None:
    scorer = LocalScorer(workers=2, parallel_min=1, parallel_total=0)
    try:
        for name in PROFILES:  # a second profile finds the papers' analysis in its worker
            assert _judged(scorer, _profile(name), day) == in_process[name]
        assert len(_alive(scorer)) == 2  # they did the work
        # a scope that holds only some of the papers, in another order
        part = list(reversed(day[::3]))
        expected = {a: r for a, r in in_process["llm-systems"]}
        assert _judged(scorer, _profile("llm-systems"), part) == [
            (p.arxiv_id, expected[p.arxiv_id]) for p in part
        ]
    finally:
        asyncio.run(scorer.aclose())
    assert scorer._pool is None


def test_few_papers_stay_in_process(day: list[PaperText]) -> None:
    scorer = LocalScorer(workers=2, parallel_total=0)
    assert pool.PARALLEL_MIN > 10
    _judged(scorer, _profile("llm-systems"), day[:10])
    assert scorer._pool is None  # no process was started for ten papers


def test_a_small_run_stays_in_process(day: list[PaperText]) -> None:
    """A run whose work is too small to pay for starting the workers (the demo day: 300
    papers for two profiles) judges in process, even a day above ``PARALLEL_MIN``."""
    scorer = LocalScorer(workers=2)
    assert len(day) >= pool.PARALLEL_MIN
    scorer.expect(2 * len(day), len(day))
    _judged(scorer, _profile("llm-systems"), day)
    assert scorer._pool is None
    scorer.expect(pool.PARALLEL_TOTAL, len(day))  # a long backfill
    try:
        _judged(scorer, _profile("llm-systems"), day)
        assert len(_alive(scorer)) == 2
    finally:
        scorer.close()


def test_close_stops_the_workers(day: list[PaperText]) -> None:
    scorer = LocalScorer(workers=2, parallel_min=1, parallel_total=0)
    _judged(scorer, _profile("llm-systems"), day[:50])
    workers = list(scorer._worker_pool()._workers)
    assert all(w.process.is_alive() for w in workers)
    asyncio.run(scorer.aclose())
    assert not any(w.process.is_alive() for w in workers)


def _one_worker_fails(
    day: list[PaperText], in_process: dict[str, list[tuple]], how: signal.Signals
) -> LocalScorer:
    scorer = LocalScorer(workers=2, parallel_min=1, parallel_total=0)
    profile = _profile("llm-systems")
    _judged(scorer, profile, day[:40])  # started
    os.kill(_alive(scorer)[0], how)
    assert _judged(scorer, profile, day) == in_process["llm-systems"]
    return scorer


def test_a_killed_worker_leaves_the_rest_judged_in_process(
    day: list[PaperText], in_process: dict[str, list[tuple]]
) -> None:
    scorer = _one_worker_fails(day, in_process, signal.SIGKILL)
    assert scorer._workers == 0 and scorer._pool is None  # the rest of the run: in process
    assert _judged(scorer, _profile("llm-inference"), day) == in_process["llm-inference"]


def test_a_stopped_worker_times_out(
    day: list[PaperText], in_process: dict[str, list[tuple]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that answers nothing (SIGSTOP: alive, silent) is waited for
    ``REPLY_TIMEOUT`` seconds, not forever; the pool is then closed (the stopped worker
    killed) and the papers judged in process."""
    monkeypatch.setattr(pool, "REPLY_TIMEOUT", 0.5)
    t = time.monotonic()
    scorer = _one_worker_fails(day, in_process, signal.SIGSTOP)
    assert time.monotonic() - t < 30
    assert scorer._pool is None


def test_other_parameters_are_refused(
    day: list[PaperText], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parent run with other parameters (a tuning run) is not judged with the workers'."""
    scorer = LocalScorer(workers=2, parallel_min=1, parallel_total=0)
    profile = _profile("llm-systems")
    _judged(scorer, profile, day[:40])  # started with the shipped parameters
    monkeypatch.setattr(lexical, "PARAMS", dataclasses.replace(lexical.PARAMS, title_weight=1.0))
    got = _judged(scorer, profile, day)
    assert got == _judged(LocalScorer(), profile, day)  # the changed parameters, in process
    assert scorer._pool is None


def test_a_sink_that_fails_leaves_no_stale_results(
    day: list[PaperText], in_process: dict[str, list[tuple]]
) -> None:
    """A sink raising part-way (a database error) abandons the workers' unread results: the
    pool is closed, so the next call cannot be handed the last call's judgements."""

    class Failing(LocalSink):
        def judgement(self, paper: PaperText, result: object) -> None:
            if len(self.got) == 5:
                raise RuntimeError("disk full")
            super().judgement(paper, result)  # type: ignore[arg-type]

    scorer = LocalScorer(workers=2, parallel_min=1, parallel_total=0)
    with pytest.raises(RuntimeError):
        asyncio.run(scorer.judge(_profile("llm-inference"), day, Failing()))
    assert scorer._pool is not None and scorer._pool._workers == []
    try:
        assert _judged(scorer, _profile("llm-systems"), day) == in_process["llm-systems"]
    finally:
        scorer.close()


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path, day: list[PaperText]) -> None:
    """No orphan outlives a SIGKILLed run: the workers read end-of-file and exit at once,
    even with some 25,000 papers still queued for them."""
    import subprocess
    import sys

    code = (
        "import asyncio, sys, time\n"
        "from tests.score.test_pool import _profile\n"
        "from tests.score.test_local import DAY, _read\n"
        "from tests.fakes import LocalSink\n"
        "from arxivfilter.score.local import LocalScorer\n"
        "from pathlib import Path\n"
        "papers = _read(Path(sys.argv[1]))\n"
        "s = LocalScorer(workers=2, parallel_min=1, parallel_total=0)\n"
        "big = [type(p)(arxiv_id=f'z.{i:06d}', title=p.title + str(i), abstract=p.abstract)"
        " for i, p in enumerate(papers * 40)]\n"
        "s.then([(_profile('llm-systems'), big), (_profile('llm-inference'), big)])\n"
        "asyncio.run(s.judge(_profile('llm-systems'), papers, LocalSink()))\n"
        "print('PIDS', *(w.process.pid for w in s._pool._workers), flush=True)\n"
        "time.sleep(60)\n"
    )
    from tests.conftest import SAMPLES

    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(SAMPLES / DAY)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = ""
    while not line.startswith("PIDS"):  # (structlog, unconfigured, writes to stdout too)
        line = proc.stdout.readline()
        assert line, "the child ended before it started its workers"
    pids = [int(x) for x in line.split()[1:]]
    assert len(pids) == 2
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.05)
    assert not any(_running(p) for p in pids)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_pool_size() -> None:
    cpus = pool.usable_cpus()
    assert pool.pool_size(1) == 0  # in process
    assert pool.pool_size(0) == (min(cpus, pool.MAX_WORKERS) if cpus > 1 else 0)
    assert pool.pool_size(3) == 3
    assert pool.pool_size(100) == pool.MAX_WORKERS


def test_workers_setting() -> None:
    shipped = ROOT / "config" / "arxivfilter.toml"  # the shipped file: workers = 0
    assert load_settings({}, path=shipped).score.workers == 0
    assert load_settings({"ARXIVFILTER_SCORE__WORKERS": ""}, path=shipped).score.workers == 0
    assert load_settings({"ARXIVFILTER_SCORE__WORKERS": "1"}, path=shipped).score.workers == 1
    with pytest.raises(ConfigError, match="workers"):
        load_settings({"ARXIVFILTER_SCORE__WORKERS": "-1"}, path=shipped)


def test_a_worker_keeps_its_share_of_the_analysis_cache(day: list[PaperText]) -> None:
    profile = _profile("llm-systems")
    pq = lexical.profile_queries(profile)
    before = [lexical.paper_doc(pq, p) for p in day[:20]]
    try:
        lexical.share_text_cache(4)
        assert lexical._text_docs.cache_info().maxsize == lexical.TEXT_DOC_CACHE // 4
        assert [lexical.paper_doc(pq, p) for p in day[:20]] == before
    finally:
        lexical._text_docs = lexical._text_doc  # as imported


def test_sending_ahead(day: list[PaperText]) -> None:
    """``then``: batches sent ahead give the same judgements when asked for in part, not
    asked for at all, asked for after an in-process call, or asked for with changed text;
    closing with work still queued is quick (the workers stop on end-of-file)."""
    d1, d2, d3 = _many(day, "a", 600), _many(day, "b", 600), _many(day, "c", 600)
    a, b = _profile("llm-systems"), _profile("llm-inference")
    ref = LocalScorer()
    s = LocalScorer(workers=2, parallel_min=50, parallel_total=0)
    try:
        s.then([(a, d1), (a, d2), (b, d3)])
        assert _judged(s, a, d1) == _judged(ref, a, d1)
        s.then([(a, d2), (b, d3)])
        assert _judged(s, a, d2[::2]) == _judged(ref, a, d2[::2])  # a part of what was sent
        s.then([(b, d3)])
        assert _judged(s, b, d1) == _judged(ref, b, d1)  # (b, d3) sent, never asked for
        s.then([(a, d3)])
        assert _judged(s, b, d2[:10]) == _judged(ref, b, d2[:10])  # in process, between
        assert _judged(s, a, d3) == _judged(ref, a, d3)
        s.then([(a, d1)])
        changed = [_Text(p.arxiv_id, p.title + " x", p.abstract) for p in d1]
        assert _judged(s, a, d2) == _judged(ref, a, d2)
        assert _judged(s, a, changed) == _judged(ref, a, changed)
        big = _many(day, "z", 20_000)
        s.then([(a, big), (b, big)])
        _judged(s, a, d1)
        t = time.monotonic()
        s.close()
        assert time.monotonic() - t < pool.CLOSE_SECONDS
    finally:
        s.close()


def test_a_worker_stopped_halfway_through_a_message_times_out(
    day: list[PaperText], monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the sink is slow the workers fill the pipe, so a stopped worker is stopped in
    the middle of a message: the wait for the rest is bounded by ``REPLY_TIMEOUT`` too."""
    monkeypatch.setattr(pool, "REPLY_TIMEOUT", 2.0)
    papers = _many(day, "s", 6_000)
    profile = _profile("llm-systems")
    scorer = LocalScorer(workers=2, parallel_min=50, parallel_total=0)

    class Slow(LocalSink):
        def judgement(self, paper: PaperText, result: object) -> None:
            super().judgement(paper, result)  # type: ignore[arg-type]
            if len(self.got) == 200:
                time.sleep(1.5)  # the workers go on and fill the pipe meanwhile
                os.kill(_alive(scorer)[0], signal.SIGSTOP)

    sink = Slow()
    t = time.monotonic()
    try:
        asyncio.run(scorer.judge(profile, papers, sink))
    finally:
        scorer.close()
    assert time.monotonic() - t < 60
    assert [(p.arxiv_id, r.model_dump()) for p, r in sink.got] == _judged(
        LocalScorer(), profile, papers
    )


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [("max 100000\n", None), ("200000 100000\n", 2), ("150000 100000", 2), ("50000 100000", 1)],
)
def test_a_container_s_cpu_quota_bounds_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpu_max: str, expected: int | None
) -> None:
    """``docker run --cpus 2`` on a many-core host: two workers, not one per host CPU."""
    quota = tmp_path / "cpu.max"
    quota.write_text(cpu_max)
    monkeypatch.setattr(pool, "CPU_MAX", quota)
    affinity = len(os.sched_getaffinity(0))
    assert pool.usable_cpus() == (affinity if expected is None else min(affinity, expected))
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(16)))
    assert pool.usable_cpus() == (16 if expected is None else expected)
    monkeypatch.setattr(pool, "CPU_MAX", tmp_path / "missing")
    assert pool.usable_cpus() == 16
