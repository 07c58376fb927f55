"""The default Home file of DESIGN §5: `<root>/configs-api<N>/oe-pyproc.json`.

    {"schema": 1, "python_home": "<absolute path>", "written_by": "oe-pyproc <version> <command>",
     "written_at": "<UTC ISO 8601>"}

Written by `configure` and `install` (atomically, with one backup of the first original), read by the
plugin's adapter and by `doctor`.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

from oe_pyproc_setup import __version__
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import atomic_write_text, read_regular_bytes

SCHEMA = 1
FILE_NAME = "oe-pyproc.json"


@dataclass(frozen=True)
class DefaultHome:
    python_home: Path
    written_by: str
    written_at: str
    path: Path  # the file it was read from / written to


def read_default_home(path: Path) -> DefaultHome | None:
    """The recorded default Home, None if the file does not exist; UserFacingError if it is unreadable,
    not JSON, of another schema or lacks python_home."""
    try:
        raw = read_regular_bytes(path).decode("utf-8")  # a FIFO there is refused, never opened
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UserFacingError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise UserFacingError(f"{path} is not UTF-8 text ({error})") from None
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise UserFacingError(f"{path} is not valid JSON ({error})") from None
    if (
        not isinstance(data, dict)
        or data.get("schema") != SCHEMA
        or not isinstance(data.get("python_home"), str)
    ):
        raise UserFacingError(f"{path} is not an oe-pyproc default Home file of schema {SCHEMA}")
    return DefaultHome(
        Path(data["python_home"]), str(data.get("written_by", "")), str(data.get("written_at", "")), path
    )


def write_default_home(
    path: Path, python_home: Path, *, command: str = "configure"
) -> tuple[DefaultHome, Path | None]:
    """Record `python_home` (made absolute) as the default Home in `path`; creates the configs folder if
    needed. Returns what was written and the backup made of a previous file (or None)."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    record = DefaultHome(Path(python_home).absolute(), f"oe-pyproc {__version__} {command}", now, path)
    document = {
        "schema": SCHEMA,
        "python_home": str(record.python_home),
        "written_by": record.written_by,
        "written_at": record.written_at,
    }
    if not path.parent.is_dir():
        try:
            path.parent.mkdir(parents=True)
        except OSError as error:
            raise UserFacingError(f"cannot create {path.parent}: {error.strerror or error}") from None
    backup = atomic_write_text(path, json.dumps(document, indent=2) + "\n")
    return record, backup
