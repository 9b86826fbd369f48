"""Domain errors, each carrying the exit code DESIGN.md gives it.

The CLI maps any of these to one line on stderr and its ``exit_code``; library code
raises them and never calls ``sys.exit``.
"""

from __future__ import annotations


class ArxivFilterError(Exception):
    """Base class: a failure the user should read about in one line."""

    exit_code = 1


class UsageError(ArxivFilterError):
    """Bad option, bad date, unknown profile, unreadable source (exit 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """The configuration file, an environment override or a profile is invalid (exit 2)."""


class SourceError(UsageError):
    """A ``--source`` file or folder that cannot be used (exit 2)."""


class UpstreamError(ArxivFilterError):
    """arXiv or the LLM refused, stayed unreachable, or sent something that is not a feed (exit 3)."""

    exit_code = 3

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class FeedError(UpstreamError):
    """A response that should have been a feed is not one (HTML page, truncated XML, blank)."""


class LockHeldError(ArxivFilterError):
    """Another run holds the run lock (exit 4)."""

    exit_code = 4


class StorageError(ArxivFilterError):
    """Local storage failed: database, disk full, unwritable folder (exit 5)."""

    exit_code = 5
