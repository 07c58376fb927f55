"""Atomic writes with one backup of the first original: real files, permissions, odd names."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import (
    BACKUP_SUFFIX,
    atomic_write_bytes,
    atomic_write_text,
    backup_path_for,
    windows_path_too_long,
)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_new_file_is_written_without_backup(tmp_path: Path) -> None:
    target = tmp_path / "new.json"
    assert atomic_write_bytes(target, b"{}") is None
    assert target.read_bytes() == b"{}"
    assert not backup_path_for(target).exists()
    assert leftovers(tmp_path) == []


def test_new_file_gets_the_umask_permissions_like_any_new_file(tmp_path: Path) -> None:
    """Not mkstemp's private 0600: a new script or settings file is as readable as one made by an editor."""
    previous = os.umask(0o022)
    try:
        target = tmp_path / "my_filter.py"
        atomic_write_text(target, "x = 1\n")
        os.umask(0o077)
        private = tmp_path / "private.json"
        atomic_write_text(private, "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_first_original_is_backed_up_once_and_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "lastConfig.xml"
    target.write_bytes(b"original")
    backup = atomic_write_bytes(target, b"second")
    assert backup == tmp_path / f"lastConfig.xml{BACKUP_SUFFIX}"
    assert backup.read_bytes() == b"original"
    assert atomic_write_bytes(target, b"third") is None
    assert backup.read_bytes() == b"original"
    assert target.read_bytes() == b"third"
    assert leftovers(tmp_path) == []


def test_backup_can_be_skipped(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_bytes(b"x")
    assert atomic_write_bytes(target, b"y", backup=False) is None
    assert not backup_path_for(target).exists()


def test_permissions_are_preserved(tmp_path: Path) -> None:
    target = tmp_path / "settings.xml"
    target.write_bytes(b"old")
    target.chmod(0o640)
    atomic_write_bytes(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert stat.S_IMODE(backup_path_for(target).stat().st_mode) == 0o640


def test_read_only_file_is_refused_and_untouched(tmp_path: Path) -> None:
    target = tmp_path / "locked.xml"
    target.write_bytes(b"keep me")
    target.chmod(0o444)
    with pytest.raises(UserFacingError, match="read-only"):
        atomic_write_bytes(target, b"changed")
    assert target.read_bytes() == b"keep me"
    assert not backup_path_for(target).exists()
    assert leftovers(tmp_path) == []


def test_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    target = folder / "file.xml"
    target.write_bytes(b"keep")
    folder.chmod(0o555)
    try:
        with pytest.raises(UserFacingError, match="read-only"):
            atomic_write_bytes(target, b"changed")
        assert target.read_bytes() == b"keep"
        assert sorted(os.listdir(folder)) == ["file.xml"]
    finally:
        folder.chmod(0o755)


def test_missing_folder_and_folder_target_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(UserFacingError, match="does not exist"):
        atomic_write_bytes(tmp_path / "nope" / "x.json", b"")
    with pytest.raises(UserFacingError, match="is a folder"):
        atomic_write_bytes(tmp_path, b"")


def test_spaces_and_non_ascii_names(tmp_path: Path) -> None:
    folder = tmp_path / "Mes réglages" / "Open Ephys ü"
    folder.mkdir(parents=True)
    target = folder / "dernière config.xml"
    target.write_text("é", encoding="utf-8")
    backup = atomic_write_text(target, "ü\r\nline two\r\n")
    assert backup is not None and backup.read_text(encoding="utf-8") == "é"
    assert target.read_bytes() == "ü\r\nline two\r\n".encode()  # newlines kept as given


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    """A chain kept elsewhere and linked into the GUI's folder: the link stays, its target is edited."""
    real = tmp_path / "shared" / "chain.xml"
    real.parent.mkdir()
    real.write_bytes(b"original")
    link = tmp_path / "lastConfig.xml"
    link.symlink_to(real)
    backup = atomic_write_bytes(link, b"edited")
    assert link.is_symlink() and real.read_bytes() == b"edited"
    assert backup == backup_path_for(real) and backup.read_bytes() == b"original"
    assert leftovers(real.parent) == [] and leftovers(tmp_path) == []


def test_paths_past_windows_max_path_are_refused_on_windows_only(tmp_path: Path) -> None:
    # MAX_PATH (260) counts the NUL; the temp file of a write adds 14 characters, a backup's 18 more.
    folder = tmp_path / ("d" * (200 - len(str(tmp_path))))
    short_enough = folder / ("f" * 43)
    assert len(str(short_enough)) == 259 - 14
    assert windows_path_too_long(short_enough, windows=True) is None
    one_more = folder / ("f" * 44)
    problem = windows_path_too_long(one_more, windows=True)
    assert problem is not None and "260" in problem and f"{len(str(one_more))} characters" in problem
    assert windows_path_too_long(short_enough, backup=True, windows=True) is not None
    assert windows_path_too_long(one_more, windows=False) is None
