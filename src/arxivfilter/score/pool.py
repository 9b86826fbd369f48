"""Worker processes for the local scorer: a long day's papers judged on every CPU (#23).

A local judgement is a pure function of a paper's title and abstract, the profile, the model
trained on its liked papers and the scorer's parameters and shipped table
(``local.judge_text``, which the scorer hands the pool), so any process computes the same
one. :class:`LocalPool` keeps ``n`` worker processes for the life of a scorer:

* A paper always goes to the same worker (by a CRC of its id), so every profile of a day
  finds the paper's analysis (``lexical.paper_doc``'s and ``local.tldr``'s caches) in the
  worker that made it for the first.
* The parent sends each worker its whole share of a day's papers in one message, then reads
  the results back in chunks of ``CHUNK`` while the workers go on, and hands them on in the
  papers' own order: the same judgements, in the same order, as judging in process. What
  the parent does with them (storing them) overlaps with the workers' judging.
* Workers are forked from ``multiprocessing``'s fork server: a fresh interpreter that
  imports this module and the scorer's once, never a fork of this process (which may hold
  threads, open database connections and a running event loop). :meth:`LocalPool.warm`
  starts the fork server early, so its start-up overlaps the parent's reading of the first
  day.
* Every wait is bounded: a worker that answers nothing for ``REPLY_TIMEOUT`` seconds, dies,
  or finds other parameters than the parent's (a tuning run) raises :class:`PoolError`; the
  pool is then closed and the caller judges the rest in process (``LocalScorer.judge``).
  A worker whose parent is gone reads end-of-file and exits.

Measured: ``bench/throughput.py`` (README "Scale").
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import queue
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import structlog

from arxivfilter.config import Profile
from arxivfilter.models import JudgementResult
from arxivfilter.score import lexical

if TYPE_CHECKING:
    from arxivfilter.score.learned import LearnedModel

log = structlog.get_logger(__name__)

# papers of one (profile, day) from which a pool is worth its messages; fewer are judged in
# process (a worker's share of 256 papers takes about 40 ms to judge)
PARALLEL_MIN = 256
# papers in all from which the workers are worth starting (about 0.5 s of wall time for
# their fork server to import the scorer: some 2,000 judgements in process)
PARALLEL_TOTAL = 5_000
CHUNK = 64  # results a worker sends at a time
CLOSE_SECONDS = 5.0  # for all the workers to stop when the pool closes, before they are killed
REPLY_TIMEOUT = 120.0  # seconds a worker may take for one chunk (64 papers: about 10 ms)
MAX_WORKERS = 16
AHEAD = 2  # batches sent beyond the one being read
# the workers yield the CPU to the process that stores their results (it is the one the
# others wait for): on a machine with as many workers as CPUs it would otherwise get a
# third of the time it needs
NICE = 10

_START_METHOD = "forkserver"


class PoolError(Exception):
    """The workers cannot go on (one died, timed out, or disagrees on parameters)."""


class Text(NamedTuple):
    """What a worker is sent of a paper: all that a local judgement reads."""

    title: str
    abstract: str


# what judges one paper in a worker: ``local.judge_text`` (passed in, so that this module
# does not import the scorer that uses it; the fork server imports its module up front)
Judge = Callable[[Profile, "lexical.ProfileQueries", Any, "LearnedModel | None"], JudgementResult]

# a judgement as it crosses the pipe: (status, relevance, hype, tags, tldr, reason, error)
_Row = tuple[Any, int | None, int | None, list[str], str | None, str | None, str | None]


CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # a container's CPU quota (cgroup v2)


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask where the system has one, and no
    more than its container's CPU quota (``docker run --cpus 2`` on a 16-core host is 2)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        n = os.cpu_count() or 1
    quota = _cpu_quota()
    return max(1, min(n, quota)) if quota is not None else n


def _cpu_quota() -> int | None:
    """The whole CPUs of the cgroup v2 quota ("200000 100000": 2), None without one."""
    try:
        limit, period = CPU_MAX.read_text(encoding="ascii").split()[:2]
        return math.ceil(int(limit) / int(period)) if limit != "max" else None
    except (OSError, ValueError, ZeroDivisionError):
        return None


def pool_size(setting: int) -> int:
    """Workers for ``[score] workers`` (0: one per usable CPU); 1 or less: none (in process),
    and none where the platform has no fork server."""
    n = usable_cpus() if setting == 0 else setting
    if n < 2 or _START_METHOD not in get_all_start_methods():
        return 0
    return min(n, MAX_WORKERS)


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    setups: set[str] = field(default_factory=set)  # the setup keys it holds
    results: deque[JudgementResult] = field(default_factory=deque)  # read, not yet handed on
    outbox: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)  # to send
    inbox: queue.SimpleQueue[Any] = field(default_factory=queue.SimpleQueue)  # received

    def __post_init__(self) -> None:
        # a thread sends and one receives, so this process never waits on the pipe itself:
        # a worker stopped halfway through a message is found by the wait on ``inbox``
        # a sender that stops is found by _receive too: the worker ends, or answers nothing
        self.sender, self.receiver = _pumps(
            self.conn, self.outbox, self.inbox, sent=_nothing, received=_put_gone(self.inbox)
        )


@dataclass
class _Batch:
    """Papers sent to the workers whose results are not all read yet."""

    key: str
    papers: list[Any]
    owner: list[int]  # the worker of each paper

    @functools.cached_property
    def _at(self) -> dict[str, tuple[int, str, str]]:
        """id -> (position, title, abstract), built once however often it is asked."""
        return {p.arxiv_id: (i, p.title, p.abstract) for i, p in enumerate(self.papers)}

    def covers(self, key: str, papers: Sequence[Any]) -> bool:
        """Whether ``papers`` are some of this batch's, with the same text, in its order."""
        if key != self.key:
            return False
        at = self._at
        last = -1
        for p in papers:
            got = at.get(p.arxiv_id)
            if got is None or got[0] <= last or got[1:] != (p.title, p.abstract):
                return False
            last = got[0]
        return True


class LocalPool:
    """``n`` worker processes judging with the local scorer (started when first used).

    :meth:`judge` hands on the results of one batch of papers; :meth:`then` names the batch
    that comes next, which :meth:`judge` sends as soon as its own batch is sent, so the
    workers go on to it while the parent stores the first (and reads the next day). A
    batch sent ahead whose papers are then not asked for (found judged meanwhile) is read
    and dropped.
    """

    def __init__(self, n: int, judge: Judge) -> None:
        self.n = n
        self.judge_one = judge
        self._workers: list[_Worker] = []
        self._sent: deque[_Batch] = deque()  # in the order sent
        self._next: list[tuple[Profile, LearnedModel | None, list[Any]]] = []

    def warm(self) -> None:
        """Start the fork server now (it imports the scorer meanwhile). Raises what
        ``multiprocessing`` raises when it cannot (see :meth:`_started`)."""
        from multiprocessing import forkserver

        get_context(_START_METHOD).set_forkserver_preload([__name__, self.judge_one.__module__])
        forkserver.ensure_running()

    def _start(self) -> None:
        ctx: Any = get_context(_START_METHOD)  # a ForkServerContext (typeshed: BaseContext)
        for _ in range(self.n):
            parent_end, child_end = ctx.Pipe()
            process = ctx.Process(
                target=_serve,
                args=(child_end, self.judge_one, self.n),
                name="arxivfilter-score",
                daemon=True,
            )
            process.start()
            child_end.close()
            self._workers.append(_Worker(process, parent_end))

    def then(self, upcoming: Sequence[tuple[Profile, LearnedModel | None, Sequence[Any]]]) -> None:
        """The (profile, model, papers) the next calls of :meth:`judge` likely ask for, in
        order (none: forget the last guess); up to ``AHEAD`` of them are sent ahead."""
        self._next = [(p, m, list(papers)) for p, m, papers in upcoming[:AHEAD] if papers]

    def judge(
        self,
        profile: Profile,
        model: LearnedModel | None,
        papers: Sequence[Any],
    ) -> Iterator[JudgementResult]:
        """The judgement of every paper, in their order (``papers``: title, abstract and
        arxiv_id are read). Raises :class:`PoolError` (after closing the pool) if the workers
        cannot go on; an abandoned iteration closes the pool too (the workers' unread results
        must not reach the next call)."""
        finished = False
        try:
            key = _setup_key(profile, model)
            while self._sent and not self._sent[0].covers(key, papers):
                self._drop(self._sent.popleft())  # sent ahead, not asked for
            if not self._sent:
                self._send_batch(profile, model, papers)
            batch = self._sent[0]
            upcoming, self._next = self._next, []
            for profile_, model_, papers_ in upcoming:
                if len(self._sent) > AHEAD:
                    break
                key_ = _setup_key(profile_, model_)
                if not any(b.covers(key_, papers_) for b in self._sent):
                    self._send_batch(profile_, model_, papers_)
            wanted = {p.arxiv_id for p in papers}
            for p, w in zip(batch.papers, batch.owner, strict=True):
                result = self._take(w)
                if p.arxiv_id in wanted:
                    yield result
            self._sent.popleft()
            finished = True
        finally:
            if not finished:
                self.close()

    def close(self) -> None:
        """Stop the workers: they stop on end-of-file (even with batches still queued);
        what has not ended within ``CLOSE_SECONDS`` in all is killed."""
        workers, self._workers = self._workers, []
        self._sent.clear()
        self._next = []
        for w in workers:
            w.outbox.put(None)  # the sender stops (what is still queued is not wanted)
            _shut(w.conn)  # both ends read end-of-file at once; blocked reads and writes end
        deadline = time.monotonic() + CLOSE_SECONDS
        for w in workers:
            w.process.join(timeout=max(0.0, deadline - time.monotonic()))
        for w in workers:
            if w.process.is_alive():
                w.process.kill()
                w.process.join(timeout=2.0)
        for w in workers:
            w.sender.join(timeout=1.0)
            w.receiver.join(timeout=1.0)
            w.conn.close()

    def _send_batch(
        self, profile: Profile, model: LearnedModel | None, papers: Sequence[Any]
    ) -> None:
        workers = self._started()
        key = _setup_key(profile, model)
        batch = _Batch(
            key, list(papers), [zlib.crc32(p.arxiv_id.encode()) % self.n for p in papers]
        )
        shares: list[list[Text]] = [[] for _ in workers]
        for p, w in zip(batch.papers, batch.owner, strict=True):
            shares[w].append(Text(p.title, p.abstract))
        self._sent.append(batch)
        for worker, share in zip(workers, shares, strict=True):
            if not share:
                continue
            if key not in worker.setups:
                _send(worker, ("setup", key, profile, model, lexical.PARAMS, _idf_sha()))
                worker.setups.add(key)
            _send(worker, ("judge", key, share))

    def _take(self, w: int) -> JudgementResult:
        worker = self._workers[w]
        if not worker.results:
            worker.results.extend(_receive(worker))
        return worker.results.popleft()

    def _drop(self, batch: _Batch) -> None:
        for w in batch.owner:
            self._take(w)

    def _started(self) -> list[_Worker]:
        if not self._workers:
            try:
                self.warm()
                self._start()
            except (OSError, RuntimeError, ValueError) as exc:  # no fork server, no processes
                self.close()
                raise PoolError(f"cannot start the scoring workers: {exc}") from None
            log.info(
                "the local scorer judges in worker processes",
                workers=self.n,
                pids=" ".join(str(w.process.pid) for w in self._workers),
            )
        return self._workers


def _shut(conn: Connection) -> None:
    """Shut the socket under ``conn`` down in both directions (a ``Pipe()`` is a socket
    pair): unlike closing it, this wakes a thread blocked reading or writing it."""
    try:
        with socket.fromfd(conn.fileno(), socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed, or not a socket
        pass


def _setup_key(profile: Profile, model: LearnedModel | None) -> str:
    """Everything a worker's setup holds: the profile, the model and the parameters."""
    parts = (profile.name, profile.content_hash, model.sha if model else "", repr(lexical.PARAMS))
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _idf_sha() -> str:
    return lexical.idf_table().sha


def _send(worker: _Worker, message: tuple[Any, ...]) -> None:
    """Queue a message for the worker: its own thread sends it (in order), so this process
    never waits for a worker to read. A worker that stops reading is found by
    :func:`_receive` (nothing comes back within ``REPLY_TIMEOUT``); closing the pool kills
    it, which ends the thread's write."""
    worker.outbox.put(message)


_GONE = ("gone", None)


def _nothing() -> None:
    pass


def _put_gone(inbox: queue.SimpleQueue[Any]) -> Callable[[], None]:
    return functools.partial(inbox.put, _GONE)


def _pumps(
    conn: Connection,
    outbox: queue.SimpleQueue[Any],
    inbox: queue.SimpleQueue[Any],
    *,
    sent: Callable[[], None],
    received: Callable[[], None],
) -> tuple[threading.Thread, threading.Thread]:
    """Two started daemon threads on one end of a pipe, for the parent and a worker alike:
    one sends what is put on ``outbox`` (in order, until ``None``), one puts on ``inbox``
    every message received. What stops the sender (the other side gone, a message that
    cannot be pickled) calls ``sent``; what stops the receiver (end-of-file, a closed pipe,
    a message that cannot be read) calls ``received``."""

    def send() -> None:
        try:
            while (message := outbox.get()) is not None:
                conn.send(message)
        except BaseException:  # a thread's end: reported through ``sent``
            sent()

    def receive() -> None:
        try:
            while True:
                inbox.put(conn.recv())
        except BaseException:  # reported through ``received``
            received()

    threads = (
        threading.Thread(target=send, name="arxivfilter-score-send", daemon=True),
        threading.Thread(target=receive, name="arxivfilter-score-receive", daemon=True),
    )
    for t in threads:
        t.start()
    return threads


def _receive(worker: _Worker) -> list[JudgementResult]:
    try:
        message = worker.inbox.get(timeout=REPLY_TIMEOUT)
    except queue.Empty:
        raise PoolError(f"a scoring worker answered nothing for {REPLY_TIMEOUT:g} s") from None
    if message is _GONE:
        worker.inbox.put(_GONE)  # for a later look, too
        worker.process.join(timeout=1.0)
        raise PoolError(f"a scoring worker ended (exit code {worker.process.exitcode})")
    if message[0] != "ok":
        raise PoolError(str(message[1]))
    return [_result(row) for row in message[1]]


def _row(r: JudgementResult) -> _Row:
    return (r.status, r.relevance, r.hype, r.tags, r.tldr, r.reason, r.error)


def _result(row: _Row) -> JudgementResult:
    status, relevance, hype, tags, tldr, reason, error = row
    return JudgementResult.model_construct(
        status=status,
        relevance=relevance,
        hype=hype,
        tags=tags,
        tldr=tldr,
        reason=reason,
        error=error,
    )


# --------------------------------------------------------------------------- the worker


def _serve(conn: Connection, judge: Judge, ways: int = 1) -> None:
    """A worker's loop: setups and shares of papers in, chunks of judgements out, until the
    parent closes its end (``ways``: the workers there are; each keeps that share of the
    analysis cache, as it sees that share of each day). A thread reads what comes in and
    another sends what goes out, so neither side's writes ever wait for the other's reads (a
    batch sent ahead arrives while the last one's results are still going out); end-of-file
    stops the worker between two chunks, even with batches still queued."""
    os.nice(NICE)
    lexical.share_text_cache(ways)
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    gone = threading.Event()  # the parent closed its end, or went: stop, queued work or not

    def ended() -> None:
        gone.set()
        inbox.put(None)

    writer, _reader = _pumps(conn, outbox, inbox, sent=ended, received=ended)
    setups: dict[str, tuple[Profile, lexical.ProfileQueries, LearnedModel | None]] = {}
    try:
        while (message := inbox.get()) is not None and not gone.is_set():
            if message[0] == "setup":
                _, key, profile, model, params, idf_sha = message
                if params != lexical.PARAMS or idf_sha != _idf_sha():
                    outbox.put(("error", "the scoring workers have other parameters or tables"))
                    continue
                setups[key] = (profile, lexical.profile_queries(profile), model)
                continue
            _, key, texts = message
            if key not in setups:  # its setup was refused: that answer is already sent
                continue
            profile, pq, model = setups[key]
            for start in range(0, len(texts), CHUNK):
                if gone.is_set():
                    break
                chunk = texts[start : start + CHUNK]
                outbox.put(("ok", [_row(judge(profile, pq, t, model)) for t in chunk]))
    except KeyboardInterrupt:
        return
    finally:
        outbox.put(None)
        writer.join(5.0)
