"""kill -9 at random moments of configure and install: no torn file, backups intact, and the next run
finishes the job (issue 14: "no torn settings file in 210 kill -9 runs of configure", kept that way).

Each round starts the real command, kills it with SIGKILL after a random delay spread over its whole
run time (measured first), and checks every file it writes: the old bytes or the complete new ones,
never a mixture; the one backup equal to the original. The seed is printed so a failure can be replayed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from redteam_helpers import TIMEOUT, Outcome, snapshot

Cli = Callable[..., Outcome]
ROUNDS = int(os.environ.get("OE_PYPROC_KILL_ROUNDS", "20"))


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "oe_pyproc_setup", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def timed_run(*args: str) -> float:
    began = time.monotonic()
    process = start(*args)
    assert process.wait(timeout=TIMEOUT) == 0, args
    return time.monotonic() - began


def kill_after(args: tuple[str, ...], delay: float) -> int:
    process = start(*args)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=TIMEOUT)


def kill_once(args: tuple[str, ...], started: Callable[[], bool], extra: float) -> int:
    """Start the command, wait until `started()` (its first write is visible), wait `extra` seconds more
    and kill it: aims the kill at the few milliseconds in which it writes."""
    process = start(*args)
    deadline = time.monotonic() + TIMEOUT
    while not started() and process.poll() is None and time.monotonic() < deadline:
        pass  # busy-wait: a sleep would step over the window
    time.sleep(extra)
    process.send_signal(signal.SIGKILL)
    return process.wait(timeout=TIMEOUT)


def delay(chance: random.Random, duration: float) -> float:
    """Most of a run is the interpreter starting; the writes come at its end: aim there mostly."""
    return (
        chance.uniform(0.6 * duration, 1.1 * duration)
        if chance.random() < 0.8
        else chance.uniform(0, duration)
    )


def test_kill9_during_configure(
    settings_root: Path, numpy_home: Path, tmp_path: Path, seed: int = random.randrange(1 << 30)
) -> None:
    print(f"seed {seed}")
    chance = random.Random(seed)
    configs = settings_root / "configs-api10"
    originals = {name: (configs / name).read_bytes() for name in ("lastConfig.xml", "recoveryConfig.xml")}
    args = ("configure", "--python-home", str(numpy_home), "--gui-root", str(settings_root))
    # The complete result, from an uninterrupted run on a copy.
    reference = tmp_path / "reference" / "open-ephys"
    shutil.copytree(settings_root, reference)
    duration = timed_run(*args[:-1], str(reference))
    edited = {name: (reference / "configs-api10" / name).read_bytes() for name in originals}
    assert all(edited[n] != originals[n] for n in originals)

    killed = 0
    outcomes: Counter[str] = Counter()
    first_backup = configs / "lastConfig.xml.oe-pyproc-backup"
    for round_number in range(ROUNDS):
        for name, data in originals.items():  # each round starts from the user's original files
            (configs / name).write_bytes(data)
            (configs / f"{name}.oe-pyproc-backup").unlink(missing_ok=True)
        (configs / "oe-pyproc.json").unlink(missing_ok=True)
        if round_number % 2:
            killed += kill_after(args, delay(chance, duration)) == -signal.SIGKILL
        else:  # aimed: from its first write (the backup) on
            killed += kill_once(args, first_backup.exists, chance.uniform(0, 0.005)) == -signal.SIGKILL
        states = []
        for name in originals:
            now = (configs / name).read_bytes()
            assert now in (originals[name], edited[name]), f"torn {name}"
            states.append(now == edited[name])
            backup = configs / f"{name}.oe-pyproc-backup"
            if backup.exists():
                assert backup.read_bytes() == originals[name], f"torn backup of {name}"
        home_file = configs / "oe-pyproc.json"
        if home_file.exists():
            assert json.loads(home_file.read_text())["python_home"] == str(numpy_home)
        outcomes[
            f"{sum(states)} of 2 chains edited, default Home {'written' if home_file.exists() else 'not yet'}"
        ] += 1
    print(f"configure killed in {killed} of {ROUNDS} rounds: {dict(outcomes)}")
    assert killed > 0, "no round was killed mid-run: the delays missed the command"

    assert timed_run(*args) >= 0  # the next run completes the edit, and removes temp files killed runs left
    assert not list(configs.glob(".*.tmp"))
    for name in originals:
        assert (configs / name).read_bytes() == edited[name]
        ET.fromstring(edited[name])


def test_kill9_during_install(
    cli: Cli, plugin_env: Path, gui_root: Path, seed: int = random.randrange(1 << 30)
) -> None:
    print(f"seed {seed}")
    chance = random.Random(seed)
    before = snapshot(gui_root)
    args = ("install", "--prefix", str(plugin_env), "--gui-root", str(gui_root), "--replace-upstream")
    xml = gui_root / "plugins-api10" / "installedPlugins.xml"
    original_xml = xml.read_bytes()
    upstream_bytes = (gui_root / "plugins-api10" / "python-processor.so").read_bytes()
    source_files = {
        p.name: p.read_bytes() for p in (plugin_env / "lib/oe-pyproc/plugins-api10/oe-pyproc").iterdir()
    }
    reference = gui_root.parent / "reference"
    shutil.copytree(gui_root, reference)
    duration = timed_run(*args[:-2], str(reference), "--replace-upstream")
    edited_xml = (reference / "plugins-api10" / "installedPlugins.xml").read_bytes()
    shutil.rmtree(reference)

    outcomes: Counter[str] = Counter()
    manifest = gui_root / "plugins-api10" / "oe-pyproc-manifest.json"
    for round_number in range(max(ROUNDS // 2, 5)):
        if round_number % 2:
            kill_after(args, delay(chance, duration))
        else:  # aimed: from the journal on, while it moves, edits and copies
            kill_once(args, manifest.exists, chance.uniform(0, 0.01))
        ours = gui_root / "plugins-api10" / "oe-pyproc"
        for name, data in source_files.items():
            if (ours / name).exists():
                assert (ours / name).read_bytes() == data, f"torn {name}"
        assert xml.read_bytes() in (original_xml, edited_xml), "torn installedPlugins.xml"
        upstream = [
            p
            for p in (
                gui_root / "plugins-api10" / "python-processor.so",
                gui_root / "oe-pyproc-moved-aside" / "plugins-api10" / "python-processor.so",
            )
            if p.exists()
        ]
        assert [p.read_bytes() for p in upstream] == [upstream_bytes], "upstream's plugin lost or doubled"
        complete = manifest.exists() and json.loads(manifest.read_text())["complete"]
        copied = sum((ours / name).exists() for name in source_files)
        state = "complete" if complete else "journal" if manifest.exists() else "none"
        xml_state = "edited" if xml.read_bytes() == edited_xml else "not yet"
        outcomes[f"{copied} files, xml {xml_state}, manifest {state}"] += 1
        # Whatever the moment, the next install completes and uninstall then restores the GUI root.
        cli(*args).succeeded()
        cli("uninstall", "--gui-root", str(gui_root)).succeeded()
        assert snapshot(gui_root) == before
    print(f"install killed at: {dict(outcomes)}")


def test_kill9_during_uninstall(
    cli: Cli, plugin_env: Path, gui_root: Path, seed: int = random.randrange(1 << 30)
) -> None:
    print(f"seed {seed}")
    chance = random.Random(seed)
    before = snapshot(gui_root)
    install_args = ("install", "--prefix", str(plugin_env), "--gui-root", str(gui_root), "--replace-upstream")
    args = ("uninstall", "--gui-root", str(gui_root))
    adapter = gui_root / "plugins-api10" / "oe-pyproc" / "python-processor.so"
    outcomes: Counter[str] = Counter()
    for _ in range(max(ROUNDS // 2, 5)):
        cli(*install_args).succeeded()
        # aimed: from its first removal on
        kill_once(args, lambda: not adapter.exists(), chance.uniform(0, 0.01))
        manifest = gui_root / "plugins-api10" / "oe-pyproc-manifest.json"
        upstream_back = (gui_root / "plugins-api10" / "python-processor.so").exists()
        outcomes[f"upstream {'back' if upstream_back else 'aside'}, manifest {manifest.exists()}"] += 1
        if manifest.exists():
            cli(*args).succeeded()  # the next run finishes the job
        assert snapshot(gui_root) == before
    print(f"uninstall killed at: {dict(outcomes)}")
