"""Every command against paths that are not what they seem: a FIFO, /dev/zero, a dangling symbolic link,
a link to itself, a name with a control character or bytes that are not UTF-8, a name longer than the
file system allows, a path through a file. No traceback, no hang (a FIFO must never be opened), no
signal death (reading /dev/zero to the end fills the memory), only exit codes with a meaning."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from redteam_helpers import TIMEOUT

KINDS = [
    "fifo",
    "dev-zero",
    "dangling-link",
    "link-loop",
    "control-char",
    "not-utf8",
    "too-long",
    "through-file",
]


def weird_path(folder: Path, kind: str) -> bytes:
    base = os.fsencode(folder)
    if kind == "fifo":
        os.mkfifo(folder / "fifo")
        return base + b"/fifo"
    if kind == "dev-zero":
        return b"/dev/zero"
    if kind == "dangling-link":
        (folder / "dangling").symlink_to(folder / "nowhere")
        return base + b"/dangling"
    if kind == "link-loop":
        (folder / "loop").symlink_to(folder / "loop")
        return base + b"/loop"
    if kind == "control-char":
        (folder / "ctl\x01name").mkdir()
        return base + b"/ctl\x01name"
    if kind == "not-utf8":
        os.mkdir(base + b"/caf\xe9")
        return base + b"/caf\xe9"
    if kind == "too-long":
        return base + b"/" + b"y" * 300
    (folder / "afile").write_text("x")
    return base + b"/afile/below"


COMMANDS = {
    "run-script": ["run", "{p}", "--seconds", "0.1"],
    "run-host": ["run", "{script}", "--host", "{p}", "--seconds", "0.1"],
    "run-recording": ["run", "{script}", "--recording", "{p}"],
    "run-output": ["run", "{script}", "--seconds", "0.1", "--output", "{p}"],
    "run-plot": ["run", "{script}", "--seconds", "0.1", "--plot", "{p}"],
    "new-script": ["new-script", "x1", "--dir", "{p}"],
    "configure-chain": ["configure", "--chain", "{p}", "--no-default-home"],
    "configure-root": ["configure", "--gui-root", "{p}"],
    "doctor-root": ["doctor", "--gui-root", "{p}"],
    "doctor-home": ["doctor", "--python-home", "{p}"],
    "doctor-exe": ["doctor", "--gui-exe", "{p}"],
    "homes": ["homes", "{p}"],
    "install-prefix": ["install", "--prefix", "{p}", "--gui-root", "{root}"],
    "install-root": ["install", "--gui-root", "{p}"],
    "uninstall-root": ["uninstall", "--gui-root", "{p}"],
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_weird_path(
    command: str, kind: str, tmp_path: Path, host: Path, run_home: Path, plugin_env: Path, gui_root: Path
) -> None:
    weird = tmp_path / "weird"
    weird.mkdir()
    path = weird_path(weird, kind)
    script = tmp_path / "plain.py"
    script.write_text(
        "class PyProcessor:\n"
        "    def __init__(self, *args):\n        pass\n\n"
        "    def process(self, data):\n        pass\n"
    )
    values = {"{p}": path, "{script}": os.fsencode(script), "{root}": os.fsencode(gui_root)}
    argv = [values.get(a, a.encode()) for a in COMMANDS[command]]
    if command.startswith("run"):
        argv += [b"--host", os.fsencode(host)] if command != "run-host" else []
        argv += [b"--python-home", os.fsencode(run_home)]
    elif command in ("configure-chain", "configure-root", "install-root"):
        argv += (
            [b"--python-home", os.fsencode(run_home)]
            if command.startswith("configure")
            else [b"--prefix", os.fsencode(plugin_env)]
        )
    try:
        result = subprocess.run(
            [os.fsencode(sys.executable), b"-m", b"oe_pyproc_setup", *argv],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hang: {command} with a {kind} path")
    output = (result.stdout + result.stderr).decode(errors="replace")
    assert result.returncode >= 0, f"killed by signal {-result.returncode}: {output[-2000:]}"
    assert "Traceback (most recent call last)" not in output.split("Error:")[0], output[-3000:]
    assert result.returncode in (0, 1, 2, 3), (result.returncode, output[-2000:])
    if kind == "fifo":
        assert (weird / "fifo").is_fifo(), "the FIFO was replaced"
