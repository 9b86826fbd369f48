"""The one place report files are written: atomically, and only when they change.

A temporary file in the target's folder is written, flushed and fsynced, then moved over
the target with ``os.replace``, so a killed run leaves the old file or the new one, never
half of one. Any ``OSError`` (read-only, disk full, permission) becomes one
:class:`~arxivfilter.errors.StorageError` line naming the path, with no temporary left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from arxivfilter.errors import StorageError


def _describe(exc: OSError) -> str:
    code = errno.errorcode.get(exc.errno or 0)
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason} ({code})" if code else reason


def _fsync_dir(folder: Path) -> None:
    # Makes the rename durable on POSIX; some systems cannot open folders: best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> bool:
    """Write ``text`` (UTF-8) to ``path`` atomically; False when it already held exactly that.

    Raises StorageError (exit 5) naming ``path`` on any OS failure.
    """
    path = Path(path)
    data = text.encode("utf-8")
    tmp: str | None = None
    try:
        try:
            if path.read_bytes() == data:
                return False
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(path.parent)
        return True
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {_describe(exc)}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
