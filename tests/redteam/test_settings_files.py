"""Settings the GUI could not read, and special files where settings are expected (issue 14 item 4).

configure with a Home path the GUI's XML cannot hold (a control character, bytes that are not UTF-8) is
refused with the reason and writes nothing; one it can hold is written so that an XML parser reads back
exactly that path, whatever the file's declared encoding. A FIFO (or socket) put where any file the
tools read is expected must neither hang a command nor be opened: each command runs with a timeout.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from redteam_helpers import CHAIN, Outcome, snapshot

Cli = Callable[..., Outcome]


def home_at(folder: Path, good_base: Path, numpy_home: Path) -> Path:
    """A real Home (a venv of pyenv's 3.10 with numpy linked in) at exactly `folder` (bytes allowed)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(good_base / "bin" / "python3.10"), "-m", "venv", "--without-pip", os.fsdecode(folder)],
        check=True,
        timeout=120,
    )
    site = folder / "lib" / "python3.10" / "site-packages"
    for entry in (numpy_home / "lib" / "python3.10" / "site-packages").iterdir():
        if entry.name.startswith("numpy"):
            (site / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return folder


def configure(cli: Cli, root: Path, home: Path, *extra: str) -> Outcome:
    return cli("configure", "--python-home", os.fsdecode(home), "--gui-root", str(root), *extra)


@pytest.mark.parametrize("bad", ["\x01", "\x1b[31m", "\x0b", "\x1f"], ids=["SOH", "ESC", "VT", "US"])
def test_control_character_in_home_is_refused(
    cli: Cli, settings_root: Path, good_base: Path, numpy_home: Path, tmp_path: Path, bad: str
) -> None:
    home = home_at(tmp_path / f"envs/oe{bad}env", good_base, numpy_home)
    before = snapshot(settings_root)
    configure(cli, settings_root, home).refused("control character", "nothing was written")
    assert snapshot(settings_root) == before


def test_non_utf8_home_is_refused(
    cli: Cli, settings_root: Path, good_base: Path, numpy_home: Path, tmp_path: Path
) -> None:
    home = home_at(Path(os.fsdecode(os.fsencode(tmp_path) + b"/envs/caf\xe9")), good_base, numpy_home)
    before = snapshot(settings_root)
    configure(cli, settings_root, home).refused("not UTF-8", "nothing was written")
    assert snapshot(settings_root) == before


@pytest.mark.parametrize("encoding", ["UTF-8", "ISO-8859-1", "US-ASCII"])
@pytest.mark.parametrize("name", ["Données", "日本語 env", "line\nbreak", "tab\there", "quote\"'&<>"])
def test_representable_home_reads_back_exactly(
    cli: Cli,
    settings_root: Path,
    good_base: Path,
    numpy_home: Path,
    tmp_path: Path,
    encoding: str,
    name: str,
) -> None:
    configs = settings_root / "configs-api10"
    for file in ("lastConfig.xml", "recoveryConfig.xml"):
        (configs / file).write_text(CHAIN.format(encoding=encoding), encoding="ascii")
    home = home_at(tmp_path / "envs" / name, good_base, numpy_home)
    configure(cli, settings_root, home).succeeded()
    for file in ("lastConfig.xml", "recoveryConfig.xml"):
        root = ET.fromstring((configs / file).read_bytes())
        parameters = root.find("SIGNALCHAIN/PROCESSOR/PROCESSOR_PARAMETERS")
        assert parameters is not None and parameters.get("python_home") == str(home)
        assert parameters.get("script_path") == "/s.py"


# ---------------------------------------------------------------------------------------- special files

SPECIAL_PLACES = [
    "configs-api10/lastConfig.xml",
    "configs-api10/recoveryConfig.xml",
    "configs-api10/windowState.xml",
    "configs-api10/oe-pyproc.json",
    "plugins-api10/oe-pyproc-manifest.json",
    "plugins-api10/installedPlugins.xml",
    "plugins-api10/oe-pyproc/oe-pyproc-plugin.json",
]


def make_special(path: Path, kind: str) -> socket.socket | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
        return None
    # Bound under a short name (AF_UNIX paths are limited to ~107 bytes), then renamed into place.
    short = Path(tempfile.mkdtemp(prefix="s", dir="/tmp")) / "s"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(short))
    os.rename(short, path)
    short.parent.rmdir()
    return server


@pytest.mark.parametrize("kind", ["fifo", "socket"])
@pytest.mark.parametrize("place", SPECIAL_PLACES)
def test_special_file_hangs_nothing(
    cli: Cli, settings_root: Path, numpy_home: Path, plugin_env: Path, place: str, kind: str
) -> None:
    server = make_special(settings_root / place, kind)
    try:
        before = snapshot(settings_root)
        outcomes = {
            "doctor": cli("doctor", "--gui-root", str(settings_root), "--python-home", str(numpy_home)),
            "configure": configure(cli, settings_root, numpy_home),
            "uninstall": cli("uninstall", "--gui-root", str(settings_root)),
            "install": cli("install", "--prefix", str(plugin_env), "--gui-root", str(settings_root)),
            "homes": cli("homes", str(numpy_home), "--gui-root", str(settings_root)),
        }
        for command, outcome in outcomes.items():
            outcome.clean()  # finished (no hang), no traceback
            assert outcome.returncode in (0, 1), (command, outcome.returncode, outcome.stderr)
        special = settings_root / place
        assert not special.is_file() and (special.is_fifo() or special.is_socket()), "the special file stays"
        if place.startswith("configs-api10/") and place.endswith("Config.xml"):
            # configure cannot edit one of the pair: it must not edit the other either
            outcomes["configure"].refused("not a regular file")
            assert (settings_root / "configs-api10/lastConfig.xml").exists()
            for name in ("lastConfig.xml", "recoveryConfig.xml"):
                path = settings_root / "configs-api10" / name
                if path.is_file():
                    assert snapshot(settings_root)[f"configs-api10/{name}"] == before[f"configs-api10/{name}"]
    finally:
        if server is not None:
            server.close()


@pytest.mark.parametrize("place", ["pyvenv.cfg", "conda-meta/python-3.10.13-0.json", "environments.txt"])
def test_special_file_in_a_home_hangs_nothing(
    cli: Cli, settings_root: Path, good_base: Path, tmp_path: Path, place: str
) -> None:
    """Homes are inspected from their files: a FIFO among them is skipped or reported, never read."""
    home = tmp_path / "home"
    subprocess.run(
        [str(good_base / "bin" / "python3.10"), "-m", "venv", "--without-pip", str(home)], check=True
    )
    user = tmp_path / "user"
    if place == "environments.txt":
        (user / ".conda").mkdir(parents=True)
        os.mkfifo(user / ".conda" / "environments.txt")
    else:
        (home / place).parent.mkdir(exist_ok=True)
        (home / place).unlink(missing_ok=True)
        os.mkfifo(home / place)
    env = dict(os.environ, HOME=str(user))
    for args in (("homes", str(home)), ("doctor", "--gui-root", str(settings_root)), ("homes",)):
        outcome = cli(*args, env=env)
        outcome.clean()
        assert outcome.returncode in (0, 1), outcome.stderr


def test_fifo_user_dirs_file_hangs_nothing(cli: Cli, tmp_path: Path) -> None:
    """JUCE's XDG_CONFIG_HOME comes from ~/.config/user-dirs.dirs, which every command without --gui-root
    reads."""
    home = tmp_path / "user"
    (home / ".config").mkdir(parents=True)
    os.mkfifo(home / ".config" / "user-dirs.dirs")
    env = dict(os.environ, HOME=str(home))
    cli("doctor", env=env).clean()
    cli("uninstall", env=env).clean()


def test_chain_given_as_a_device_is_refused(cli: Cli, settings_root: Path, numpy_home: Path) -> None:
    outcome = configure(cli, settings_root, numpy_home, "--chain", "/dev/zero", "--no-default-home")
    outcome.refused("not a regular file")


def test_chain_given_as_a_fifo_is_refused(
    cli: Cli, settings_root: Path, numpy_home: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "chain.xml"
    os.mkfifo(fifo)
    configure(cli, settings_root, numpy_home, "--chain", str(fifo), "--no-default-home").refused("FIFO")


def test_settings_copied_over_by_a_symlink_loop_is_refused(
    cli: Cli, settings_root: Path, numpy_home: Path
) -> None:
    last = settings_root / "configs-api10" / "lastConfig.xml"
    last.unlink()
    last.symlink_to(last)  # a link to itself: every open fails with ELOOP
    outcome = configure(cli, settings_root, numpy_home)
    outcome.clean()
    assert outcome.returncode == 1
