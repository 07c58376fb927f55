"""Quoting for the commands we print for the user to copy (remediations, next steps): a path with spaces,
quotes, `$` or backquotes must survive being pasted into a shell."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import PurePath


def quote(value: str | PurePath) -> str:
    text = str(value)
    if os.name == "nt":  # cmd.exe / PowerShell rules (*unverified*)
        return subprocess.list2cmdline([text])
    return shlex.quote(text)
