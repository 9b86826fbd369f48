"""The composition root: everything built once per process and handed to the stages.

Settings, the database engine, the polite arXiv client, the LLM's HTTP client, the clock,
the run lock and the progress bars. The CLI builds one :class:`App` per command; tests
build one with injected clients and clocks. The stages never build a client themselves:
they take what this object gives (``fetch.stage`` and ``score.days`` name, as Protocols,
the part they use).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from filelock import FileLock, Timeout
from sqlalchemy import Engine
from sqlmodel import Session

from arxivfilter import store
from arxivfilter.config import Settings
from arxivfilter.errors import LockHeldError, StorageError
from arxivfilter.fetch.http import ArxivClient, Limiter
from arxivfilter.progress import ProgressFactory, no_progress


class App:
    """Everything built once per process: settings, database, HTTP clients, clock."""

    def __init__(
        self,
        settings: Settings,
        *,
        now: Callable[[], dt.datetime] | None = None,
        arxiv_http: httpx.Client | None = None,
        llm_http: httpx.AsyncClient | None = None,
        limiter: Limiter | None = None,
        progress: ProgressFactory | None = None,
        scorer_hooks: dict[str, Any] | None = None,
        notify_hooks: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        # extra keyword arguments for notify.deliver (tests: ``smtp_factory``, ``http``, ``sleep``)
        self.notify_hooks: dict[str, Any] = dict(notify_hooks or {})
        # extra keyword arguments for the LLM scorer (tests: ``sleep``, ``backoff``, ``clock``)
        self.scorer_hooks: dict[str, Any] = dict(scorer_hooks or {})
        self._now = now
        self._arxiv_http = arxiv_http
        self._llm_http = llm_http
        self._limiter = limiter
        self.progress: ProgressFactory = progress or no_progress
        self._engine: Engine | None = None
        self._arxiv: ArxivClient | None = None

    def now(self) -> dt.datetime:
        return self._now() if self._now else dt.datetime.now(dt.UTC)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = store.make_engine(
                self.settings.storage.db_url,
                busy_timeout=self.settings.storage.busy_timeout_seconds,
            )
        return self._engine

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    @property
    def arxiv(self) -> ArxivClient:
        if self._arxiv is None:
            self._arxiv = ArxivClient(
                self.settings.arxiv, client=self._arxiv_http, limiter=self._limiter
            )
        return self._arxiv

    def scorer(self, kind: str) -> Any:
        """A scorer of ``kind`` (``local`` or ``llm``) on this app's clients and database."""
        return build_scorer(self, kind)

    def close(self) -> None:
        if self._arxiv is not None:
            self._arxiv.close()
        if self._engine is not None:
            self._engine.dispose()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """One run at a time (a file lock that dies with its process)."""
        path = Path(self.settings.run.lock_file)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the lock folder {path.parent}: {exc.strerror}"
            ) from exc
        lock = FileLock(str(path), timeout=self.settings.run.lock_timeout_seconds)
        try:
            lock.acquire()
        except Timeout:
            raise LockHeldError(
                f"another arxivfilter run holds the lock {path}; waited "
                f"{self.settings.run.lock_timeout_seconds:g} s ([run] lock_timeout_seconds)"
            ) from None
        except OSError as exc:
            raise StorageError(f"cannot take the run lock {path}: {exc.strerror}") from exc
        try:
            yield
        finally:
            lock.release()


def build_scorer(app: App, kind: str) -> Any:
    """The local scorer (liked examples' text from the database), else the LLM scorer on the
    app's HTTP client, behind the batch submitter in ``[llm] mode = "batch"``."""
    if kind == "local":
        from arxivfilter.score.learned import examples_from_db
        from arxivfilter.score.local import LocalScorer

        return LocalScorer(
            examples=examples_from_db(app.engine), workers=app.settings.score.workers
        )
    from arxivfilter.score.llm import build_llm_scorer

    llm = build_llm_scorer(
        app.settings,
        http_client=app._llm_http,
        remember=partial(store.ModeMemory, app.engine),
        **app.scorer_hooks,
    )
    if app.settings.llm.mode == "batch":
        from arxivfilter.score.batch import build_batch_scorer

        hooks = {k: v for k, v in app.scorer_hooks.items() if k in ("sleep", "clock")}
        return build_batch_scorer(app.settings, llm, **hooks)
    return llm
