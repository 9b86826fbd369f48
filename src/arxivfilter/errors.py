"""Domain errors, each carrying the exit code DESIGN.md gives it.

The CLI maps any of these to one line on stderr and its ``exit_code``; library code
raises them and never calls ``sys.exit``.
"""

from __future__ import annotations

import errno as _errno
import traceback as _tb


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


class InternalError(ArxivFilterError):
    """An unexpected exception (a bug), exit 70: never 0 or 1, which mean "done".

    Carries the original as ``__cause__`` and its traceback as text (``traceback``), for
    the log at debug level and the run's record.
    """

    exit_code = 70

    def __init__(self, message: str, *, traceback: str = "") -> None:
        super().__init__(message)
        self.traceback = traceback

    @classmethod
    def wrap(cls, exc: BaseException) -> InternalError:
        detail = " ".join(str(exc).split())[:300]
        name = type(exc).__name__
        error = cls(
            f"internal error (a bug): {name}{': ' + detail if detail else ''} "
            "(the traceback is in the log at debug level and in the run's record)",
            traceback="".join(_tb.format_exception(exc))[-TRACEBACK_CHARS:],
        )
        error.__cause__ = exc
        return error


#: the end of a traceback kept in a run's record (the innermost frames and the error)
TRACEBACK_CHARS = 20_000

#: OSError numbers that mean local storage failed (exit 5); any other OSError is unexpected
STORAGE_ERRNOS = frozenset(
    getattr(_errno, name)
    for name in (
        "ENOSPC",
        "EROFS",
        "EACCES",
        "EPERM",
        "EDQUOT",
        "EFBIG",
        "EIO",
        "EISDIR",
        "ENOTDIR",
    )
    if hasattr(_errno, name)
)


def as_error(exc: Exception) -> ArxivFilterError:
    """The one funnel from any exception to a domain error with its exit code.

    Domain errors stay as they are; a database error is a storage error (5), and so is an
    ``OSError`` of local storage (disk full, read-only, permission); anything else is an
    :class:`InternalError` (70).
    """
    if isinstance(exc, ArxivFilterError):
        return exc
    from sqlalchemy.exc import DatabaseError

    if isinstance(exc, DatabaseError):
        orig = getattr(exc, "orig", None)
        text = " ".join(str(orig if orig is not None else exc).split())[:300]
        error: ArxivFilterError = StorageError(f"database error: {text}")
    elif isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        error = StorageError(str(exc))
    else:
        return InternalError.wrap(exc)
    error.__cause__ = exc
    return error
