"""Time and memory of a command *with every process it starts* (the local scorer's workers).

    python bench/proctree.py COMMAND [ARG ...]

``run(cmd, env)`` makes this process a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), so
the processes the command leaves behind (the fork server the workers come from, which a
command never waits for) are re-parented here and reaped: their CPU time then counts in
``RUSAGE_CHILDREN``, where a plain ``wait4`` of the command would miss it. Memory is sampled
every 100 ms as the sum over the tree of each process's proportional set size (``Pss`` in
``/proc/PID/smaps_rollup``: pages shared between the workers and the fork server they are
forked from are split between them, not counted once per process).
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Measured:
    wall: float  # seconds
    cpu: float  # user + system seconds of the command and everything it started
    peak_pss: float  # MiB, the tree's sampled peak
    peak_rss: float  # MiB, the command's own process (``ru_maxrss``)
    stdout: str
    returncode: int


def _subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _children(pid: int) -> list[int]:
    """The children of ``pid`` (every thread's ``children`` file; no scan of ``/proc``)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            continue
    return out


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss() -> float:
    """MiB: the summed ``Pss`` of every descendant of this process."""
    total, todo = 0, _children(os.getpid())
    while todo:
        pid = todo.pop()
        total += _pss(pid)
        todo += _children(pid)
    return total / 1024


def run(cmd: Sequence[str], env: Mapping[str, str]) -> Measured:
    """Run ``cmd`` to its end and every process it started to theirs, measured."""
    _subreaper()
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_pss())
            done.wait(0.1)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # the command's own peak (RUSAGE_CHILDREN's
    proc.returncode = code = os.waitstatus_to_exitcode(status)  # is every child's ever)
    while True:  # what it left behind, re-parented here
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measured(wall, cpu, peak[0], usage.ru_maxrss / 1024, out, code)


def main() -> int:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__.splitlines()[2])
    got = run(sys.argv[1:], os.environ)
    print(
        f"exit {got.returncode}: wall {got.wall:.2f} s, CPU {got.cpu:.2f} s (with what it "
        f"started), peak PSS {got.peak_pss:.0f} MiB (the tree), peak RSS {got.peak_rss:.0f} MiB "
        "(the command's own process)"
    )
    return got.returncode


if __name__ == "__main__":
    sys.exit(main())
