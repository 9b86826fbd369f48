"""The collector pause around bulk steps restores what it found, on errors too."""

from __future__ import annotations

import gc

import pytest

from arxivfilter.gcpause import paused_gc


def test_paused_gc_restores_the_collector_even_when_the_block_raises() -> None:
    seen: list[bool] = []

    def fail() -> None:
        with paused_gc():
            seen.append(gc.isenabled())
            raise RuntimeError("boom")

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        fail()
    assert seen == [False]
    assert gc.isenabled()


def test_a_nested_pause_leaves_the_outer_one_paused() -> None:
    with paused_gc():
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
