"""What the red-team cases share: the CLI as a subprocess with a timeout, the checks every outcome gets
(no traceback, no signal death), tree snapshots. Importable as `redteam_helpers` (see conftest)."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

TIMEOUT = 60  # seconds for any one CLI run: far above its real time; reaching it is a hang


class Outcome:
    """A finished CLI run and the checks every red-team case makes of it."""

    def __init__(self, completed: subprocess.CompletedProcess[str]) -> None:
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr

    def refused(self, *phrases: str) -> Outcome:
        """Exit 1 with a clear message (each phrase in it), no traceback."""
        assert self.returncode == 1, (self.returncode, self.stdout, self.stderr)
        self.clean()
        for phrase in phrases:
            assert phrase in self.stderr, (phrase, self.stderr)
        return self

    def succeeded(self) -> Outcome:
        assert self.returncode == 0, (self.stdout, self.stderr)
        self.clean()
        return self

    def clean(self) -> None:
        text = self.stdout + self.stderr
        assert "Traceback" not in text, text
        assert self.returncode >= 0, f"killed by signal {-self.returncode}"


def run_or_fail_on_hang(
    command: Sequence[str],
    what: str,
    *,
    env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """`command` as a subprocess (text output, no stdin); not finishing within `timeout` fails the case as a
    hang of `what`."""
    try:
        return subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            errors="replace",
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
            preexec_fn=preexec,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: {what} did not finish in {timeout} s")


def run(*args: str, env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> Outcome:
    """`python -m oe_pyproc_setup ARGS` as a subprocess; a timeout fails the case (a hang)."""
    command = [sys.executable, "-m", "oe_pyproc_setup", *args]
    environment = dict(os.environ if env is None else env)
    return Outcome(
        run_or_fail_on_hang(command, f"oe-pyproc {' '.join(args)}", env=environment, timeout=timeout)
    )


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under root (links not followed): folders, files (sha256 + mode), links, other kinds."""
    result: dict[str, tuple[object, ...]] = {}
    if not root.exists():
        return result
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            result[relative] = ("link", os.readlink(path))
        elif stat.S_ISDIR(mode):
            result[relative] = ("dir", stat.S_IMODE(mode))
        elif stat.S_ISREG(mode):
            result[relative] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), stat.S_IMODE(mode))
        else:
            result[relative] = ("special", stat.S_IFMT(mode))
    return result


INSTALLED_PLUGINS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n\n<PluginInstaller gui_version="1.0.1">\n  <InstalledPlugins>\n'
    '    <OtherPlugin version="1.2.0" dllName="some-other-plugin.so"/>\n'
    '    <python-processor version="0.1.6" dllName="python-processor.so"/>\n'
    "  </InstalledPlugins>\n</PluginInstaller>\n"
)

CHAIN = (
    '<?xml version="1.0" encoding="{encoding}"?>\n<SETTINGS>\n  <SIGNALCHAIN>\n'
    '    <PROCESSOR pluginName="Python Processor" nodeId="7">\n'
    '      <PROCESSOR_PARAMETERS python_home="/old" script_path="/s.py"/>\n'
    "    </PROCESSOR>\n  </SIGNALCHAIN>\n</SETTINGS>\n"
)
