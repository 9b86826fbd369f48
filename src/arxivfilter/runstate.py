"""The committed state (``[state] dir``) around a run: refreshed before, saved after."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from arxivfilter.app import App
from arxivfilter.config import Profile, load_profiles
from arxivfilter.errors import ArxivFilterError

log = structlog.get_logger(__name__)


def refresh_from_state(app: App) -> None:
    """Rebuild or refresh the database from the committed state (``[state] dir``) when the
    database is missing or behind it (a fresh CI runner)."""
    from arxivfilter import state

    folder = state.state_dir(app.settings)
    if folder is None or not folder.is_dir():
        return
    if state.is_behind(app.engine, folder):
        loaded = state.load_state(app.engine, folder)
        log.info("database refreshed from the committed state", **loaded.as_dict())


def save_state(app: App, profiles: Sequence[Profile], *, failed: bool = False) -> None:
    """Write the committed state (``[state] dir``) at the end of a run. After a failed run a
    problem here is a warning (the run's own error is what the exit code reports)."""
    from arxivfilter import state

    folder = state.state_dir(app.settings)
    if folder is None:
        return
    try:
        known = load_profiles(None)
    except ArxivFilterError:
        known = list(profiles)
    floor = state.text_floor(app.settings, [*known, *profiles])
    try:
        keep = liked_ids([*known, *profiles])
        state.save_state(app.engine, folder, text_floor=floor, keep=keep)
    except Exception as exc:
        if not failed:
            raise
        log.warning("could not save the state after the failed run", error=str(exc))


def liked_ids(profiles: Sequence[Profile]) -> frozenset[str]:
    """The profiles' liked example papers (the learned model trains on their text)."""
    from arxivfilter.score.learned import profile_example_ids

    ids: set[str] = set()
    for prof in profiles:
        try:
            ids |= profile_example_ids(prof)
        except ArxivFilterError:
            continue
    return frozenset(ids)
