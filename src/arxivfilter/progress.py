"""The progress-bar seam: stages tell a bar how far they got; the CLI draws one on a terminal."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol


class ProgressBar(Protocol):
    def advance(self, n: int = 1) -> None: ...


#: ``factory(label, total)`` opens a bar (``total`` None: unknown)
ProgressFactory = Callable[[str, int | None], contextlib.AbstractContextManager[ProgressBar]]


class _NoBar:
    def advance(self, n: int = 1) -> None:
        pass


@contextlib.contextmanager
def no_progress(_label: str, _total: int | None) -> Iterator[ProgressBar]:
    """The default: no bar (tests, and a log that is not a terminal)."""
    yield _NoBar()
