"""Careful writes of files the user owns: temp file in the same folder, fsync, atomic rename, one backup.

The backup `<name>.oe-pyproc-backup` is made from the first original we ever replace and is never
overwritten afterwards, so it always holds the file as it was before oe-pyproc touched it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from oe_pyproc_setup.errors import UserFacingError

BACKUP_SUFFIX = ".oe-pyproc-backup"
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


def backup_path_for(path: Path) -> Path:
    """Where the one backup of `path` lives: beside it, named `<name>.oe-pyproc-backup`."""
    return path.with_name(path.name + BACKUP_SUFFIX)


def is_marked_read_only(path: Path) -> bool:
    """True when `path` has no write permission bits at all.

    Checked from the mode bits rather than os.access so that a file the user marked read-only is
    respected even when we run as root (for whom os.access always says writable).
    """
    try:
        return (path.stat().st_mode & _WRITE_BITS) == 0
    except OSError:
        return False


class NotARegularFile(OSError):
    """A FIFO, socket, device or folder where a file was expected: never opened for reading (a FIFO would
    block the reader until some writer comes, i.e. for ever)."""


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words, from its st_mode."""
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def ensure_regular(path: Path) -> None:
    """NotARegularFile unless `path` is a regular file (a symbolic link to one is followed); call before
    opening a file that may be user-supplied. FileNotFoundError and other OSErrors pass through."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotARegularFile(errno.EINVAL, f"it is {file_kind(mode)}, not a regular file", str(path))


def read_regular_bytes(path: Path) -> bytes:
    """The bytes of `path`, which must be a regular file (a symbolic link to one is followed).

    Opened non-blocking and checked with fstat on the open descriptor, so a FIFO or device swapped in at
    any moment is refused, never read: NotARegularFile (an OSError whose strerror says what it is).
    FileNotFoundError and other OSErrors pass through as they are."""
    # O_NONBLOCK: a FIFO put in place between the stat and the open must not block the open itself;
    # regular files ignore the flag.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    ensure_regular(path)  # before open: opening some devices has effects of its own
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(errno.EINVAL, f"it is {file_kind(mode)}, not a regular file", str(path))
        chunks: list[bytes] = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on Windows.
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_leftovers(path: Path) -> list[Path]:
    """Temp files of `path` left by a write that was killed (`.<name>.<8 random>.tmp` beside it, as
    mkstemp names them here). Only these exact names: nothing else in the folder is ours."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    try:
        return sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name) and p.is_file())
    except OSError:
        return []


def _remove_leftovers(path: Path) -> None:
    """After a write of `path` succeeded: remove the temp files an earlier, killed write left."""
    for leftover in temp_leftovers(path):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _write_temp_and_replace(path: Path, data: bytes, mode: int) -> None:
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _fsync_directory(path.parent)
    _remove_leftovers(path)


def atomic_copy(source: Path, target: Path) -> None:
    """Copy `source` to `target` with its permission bits and times, via a temp file in the target's folder
    and a rename, so `target` is never seen half-written."""
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    temp = Path(temp_name)
    try:
        shutil.copy2(source, temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    _remove_leftovers(target)


def refuse_special_file(path: Path) -> None:
    """UserFacingError when something other than a regular file (a FIFO, socket, device) is at `path`: we
    neither read it nor replace it; a missing file or a folder is left to the caller."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise UserFacingError(f"{path} is {file_kind(mode)}, not a regular file; nothing was changed")


# MAX_PATH counts the terminating NUL: a Windows program that is not long-path aware (or any program while
# long paths are off in the registry, Windows' default) opens paths of at most 259 characters. Every write
# here goes through a temp file `.<name>.<8 random>.tmp` beside the target (and its backup's, beside it).
WINDOWS_MAX_PATH = 260
_TEMP_NAME_EXTRA = len("..12345678.tmp")
LONG_PATH_HINT = "Use a folder with a shorter path (the GUI's own, %LOCALAPPDATA%\\Open Ephys, is short)."


def windows_path_too_long(path: Path, *, backup: bool = False, windows: bool | None = None) -> str | None:
    """Why writing `path` (with its backup) cannot work on Windows, in words; None when it can (and
    always off Windows unless `windows` says otherwise)."""
    if not (os.name == "nt" if windows is None else windows):
        return None
    length = len(os.path.abspath(path))
    longest = length + _TEMP_NAME_EXTRA + (len(BACKUP_SUFFIX) if backup else 0)
    if longest < WINDOWS_MAX_PATH:
        return None
    return (
        f"its path is {length} characters ({longest} for the temp file of the write); Windows programs that "
        f"are not long-path aware cannot open {WINDOWS_MAX_PATH} characters or more (MAX_PATH)"
    )


def check_writable(path: Path, *, backup: bool = True) -> None:
    """Raise the UserFacingError atomic_write_bytes would for `path` (read-only file or folder, missing
    folder, a folder in the way, a path past Windows' MAX_PATH), without writing: lets a command check
    every file before it writes one."""
    path = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    too_long = windows_path_too_long(path, backup=backup and path.exists())
    if too_long is not None:
        raise UserFacingError(f"cannot write {path}: {too_long}; nothing was changed", hint=LONG_PATH_HINT)
    directory = path.parent
    if not directory.is_dir():
        raise UserFacingError(f"cannot write {path}: the folder {directory} does not exist")
    if path.is_dir():
        raise UserFacingError(f"cannot write {path}: it is a folder, a file was expected")
    refuse_special_file(path)
    if path.exists() and is_marked_read_only(path):
        raise UserFacingError(
            f"{path} is read-only; not changed",
            hint="Make it writable (e.g. chmod u+w) if you want oe-pyproc to edit it.",
        )
    if is_marked_read_only(directory):
        raise UserFacingError(f"cannot write {path}: the folder {directory} is read-only; nothing changed")


def atomic_write_bytes(path: Path, data: bytes, *, backup: bool = True) -> Path | None:
    """Replace `path` with `data` atomically; returns the backup made now, or None.

    A symbolic link stays: the file it points to is replaced (and backed up beside it).
    The new file keeps the original's permission bits. With `backup`, the first original is copied to
    `<name>.oe-pyproc-backup` (only if no such backup exists yet). Raises UserFacingError when the file or
    its folder is read-only, missing or otherwise not writable; the original is then untouched.
    """
    path = Path(path)
    if path.is_symlink():  # edit the file the link points to; replacing the link would lose it
        path = Path(os.path.realpath(path))
    check_writable(path, backup=backup)
    # A new file gets what open() would give it (0666 minus the umask), not mkstemp's private 0600.
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o666 & ~_current_umask()
    made_backup: Path | None = None
    try:
        if backup and path.exists():
            backup_file = backup_path_for(path)
            if not backup_file.exists():
                atomic_copy(path, backup_file)
                made_backup = backup_file
        _write_temp_and_replace(path, data, mode)
    except PermissionError as error:
        raise UserFacingError(
            f"cannot write {path}: permission denied ({error.strerror}); nothing changed"
        ) from None
    except OSError as error:
        raise UserFacingError(f"cannot write {path}: {error.strerror or error}; nothing changed") from None
    return made_backup


def atomic_write_text(path: Path, text: str, *, encoding: str = "utf-8", backup: bool = True) -> Path | None:
    """atomic_write_bytes for text; newlines are written exactly as given (no translation)."""
    return atomic_write_bytes(path, text.encode(encoding), backup=backup)
