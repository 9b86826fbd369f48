"""The cyclic garbage collector paused for bulk work, and what a process's imports built
moved out of its reach.

A site build or a state load creates a few million small containers (one dict or tuple per
paper and judgement) that all live until the work ends and form no reference cycles. The
generational collector, triggered by every 700 new containers, walks the survivors again and
again: 30-40 % of a cold site build's CPU at 100,000 papers (see bench/README.md). Reference
counting still frees everything that is not kept, so pausing the collector for such a bounded
step costs no memory in practice; what it left for later is collected when the step ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic collector for the block (nested uses are fine: only the outermost
    one that found it enabled turns it back on)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def freeze_loaded() -> None:
    """Move every object alive now (the imported modules' classes, functions and schemas:
    SQLAlchemy's, pydantic's, ours) out of the collector's reach for good.

    They live until the process ends anyway; without this every collection walks them
    again, and a short command (a re-run with everything cached) spends about a quarter of
    its CPU there (bench/README.md). ``gc.freeze`` is the standard library's tool for it;
    what the command creates afterwards is collected as usual.
    """
    gc.freeze()
