"""Atomic report writes: change detection, no partial files, OSError mapped to exit 5."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from arxivfilter.errors import StorageError
from arxivfilter.report import write as write_mod
from arxivfilter.report.write import write_atomic


def leftovers(folder: Path) -> list[str]:
    """Temporary files left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_creates_folders_and_reports_change(tmp_path: Path) -> None:
    """A new file is written (parents created) and reported as changed."""
    target = tmp_path / "digests" / "p" / "2026" / "2026-02-24.md"
    assert write_atomic(target, "héllo $x$\n") is True
    assert target.read_bytes() == "héllo $x$\n".encode()
    assert leftovers(target.parent) == []


def test_identical_content_not_rewritten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Identical content is left alone: no replace, same inode and mtime, False returned."""
    target = tmp_path / "f.md"
    write_atomic(target, "same\n")
    before = target.stat()

    def no_replace(*_a: object) -> None:
        raise AssertionError("must not replace an identical file")

    monkeypatch.setattr(os, "replace", no_replace)
    assert write_atomic(target, "same\n") is False
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_changed_content_replaced(tmp_path: Path) -> None:
    """Changed content replaces the file and is reported."""
    target = tmp_path / "f.md"
    write_atomic(target, "one\n")
    assert write_atomic(target, "two\n") is True
    assert target.read_text() == "two\n"
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize("code", [errno.EROFS, errno.ENOSPC, errno.EACCES])
def test_replace_failure_is_storage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    """An OSError at the rename is one StorageError line naming the path; old file intact."""
    target = tmp_path / "README.md"
    target.write_text("old\n")

    def fail(*_a: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(StorageError) as info:
        write_atomic(target, "new\n")
    msg = str(info.value)
    assert str(target) in msg
    assert errno.errorcode[code] in msg
    assert "\n" not in msg
    assert info.value.exit_code == 5
    assert target.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_disk_full_during_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC while syncing the temporary file leaves no temporary and no target."""
    target = tmp_path / "feed.xml"

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(write_mod.os, "fsync", full)
    with pytest.raises(StorageError, match="No space left on device"):
        write_atomic(target, "<feed/>")
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_unwritable_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder where no temporary file can be created gives StorageError (EROFS)."""

    def ro(*_a: object, **_k: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(write_mod.tempfile, "mkstemp", ro)
    with pytest.raises(StorageError, match="Read-only file system"):
        write_atomic(tmp_path / "x.md", "x")


def test_target_is_a_folder(tmp_path: Path) -> None:
    """A folder in the target's place is a StorageError, not a crash."""
    (tmp_path / "x.md").mkdir()
    with pytest.raises(StorageError, match=r"x\.md"):
        write_atomic(tmp_path / "x.md", "x")
