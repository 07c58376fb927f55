"""GUI folders per OS and API (DESIGN §2), the dev-build layout, and spotting a running GUI."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.gui import (
    GuiLayout,
    default_gui_root,
    gui_process_arch,
    is_dev_build_executable,
    resolve_layout,
    running_gui_processes,
    running_gui_processes_for,
)


def test_linux_default_is_dot_config(tmp_path: Path) -> None:
    assert default_gui_root("Linux", home=tmp_path, environ={}) == tmp_path / ".config" / "open-ephys"


def test_linux_reads_xdg_config_home_from_user_dirs_not_environment(tmp_path: Path) -> None:
    (tmp_path / ".config").mkdir()
    (tmp_path / "My Config").mkdir()
    (tmp_path / ".config" / "user-dirs.dirs").write_text(
        "# written by xdg-user-dirs-update\n"
        'XDG_DESKTOP_DIR="$HOME/Desktop"\n  XDG_CONFIG_HOME="$HOME/My Config"\n'
    )
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "ignored")}
    assert default_gui_root("Linux", home=tmp_path, environ=environ) == tmp_path / "My Config" / "open-ephys"


def test_linux_user_dirs_entry_for_missing_folder_falls_back(tmp_path: Path) -> None:
    (tmp_path / ".config").mkdir()
    (tmp_path / ".config" / "user-dirs.dirs").write_text('XDG_CONFIG_HOME="$HOME/gone"\n')
    assert default_gui_root("Linux", home=tmp_path, environ={}) == tmp_path / ".config" / "open-ephys"


def test_macos_and_windows_roots(tmp_path: Path) -> None:
    mac = default_gui_root("Darwin", home=tmp_path, environ={})
    assert mac == tmp_path / "Library" / "Application Support" / "open-ephys"
    environ = {"LOCALAPPDATA": r"C:\Users\me\AppData\Local", "PROGRAMDATA": r"C:\ProgramData"}
    windows = default_gui_root("Windows", home=tmp_path, environ=environ)
    assert windows == Path(r"C:\Users\me\AppData\Local") / "Open Ephys"
    assert (
        default_gui_root("Windows", api=8, home=tmp_path, environ=environ)
        == Path(r"C:\ProgramData") / "Open Ephys"
    )


@pytest.mark.parametrize("api", [10, 8])
def test_layout_paths(tmp_path: Path, api: int) -> None:
    layout = GuiLayout(tmp_path, api)
    configs = tmp_path / f"configs-api{api}"
    plugins = tmp_path / f"plugins-api{api}"
    assert layout.configs_dir == configs
    assert layout.plugins_dir == plugins
    assert layout.shared_dir == tmp_path / f"shared-api{api}"
    assert layout.last_config == configs / "lastConfig.xml"
    assert layout.recovery_config == configs / "recoveryConfig.xml"
    assert layout.window_state == configs / "windowState.xml"
    assert layout.activity_log == configs / "activity.log"
    assert layout.default_home_file == configs / "oe-pyproc.json"
    assert layout.installed_plugins_xml == plugins / "installedPlugins.xml"
    assert layout.manifest == plugins / "oe-pyproc-manifest.json"


def test_dev_build_layout(tmp_path: Path) -> None:
    exe = tmp_path / "src" / "plugin-GUI" / "Build" / "Release" / "open-ephys"
    assert is_dev_build_executable(exe, "Linux")
    assert is_dev_build_executable(exe, "Windows")
    assert not is_dev_build_executable(exe, "Darwin")
    assert not is_dev_build_executable(tmp_path / "opt" / "open-ephys", "Linux")
    layout = resolve_layout(api=10, gui_exe=exe, system="Linux")
    assert layout.dev_build
    assert layout.root == exe.parent
    assert layout.last_config == exe.parent / "lastConfig.xml"
    assert layout.plugins_dir == exe.parent / "plugins"
    assert layout.shared_dir == exe.parent / "shared"
    given = resolve_layout(exe.parent, 10)
    assert given.dev_build and given.configs_dir == exe.parent


def test_gui_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "open-ephys"
    not_a_folder.write_text("")
    with pytest.raises(UserFacingError, match="is a file"):
        resolve_layout(not_a_folder)
    assert resolve_layout(tmp_path / "not yet created").root == tmp_path / "not yet created"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc scan is the Linux path")
def test_running_gui_process_is_found(fake_gui_process: subprocess.Popen[bytes]) -> None:
    found = [p for p in running_gui_processes() if p.pid == fake_gui_process.pid]
    assert len(found) == 1
    assert found[0].verified
    assert found[0].name == "open-ephys"
    assert found[0].executable is not None and found[0].executable.name == "open-ephys"
    fake_gui_process.kill()
    fake_gui_process.wait()
    assert all(p.pid != fake_gui_process.pid for p in running_gui_processes())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc scan is the Linux path")
def test_running_gui_root_comes_from_its_home(
    fake_gui_process: subprocess.Popen[bytes], fake_gui_home: Path, tmp_path: Path
) -> None:
    [found] = [p for p in running_gui_processes() if p.pid == fake_gui_process.pid]
    its_root = fake_gui_home / ".config" / "open-ephys"
    assert found.gui_root == its_root
    assert fake_gui_process.pid in [p.pid for p in running_gui_processes_for(GuiLayout(its_root, 10))]
    assert fake_gui_process.pid not in [
        p.pid for p in running_gui_processes_for(GuiLayout(tmp_path / "other", 10))
    ]


def test_other_processes_are_not_the_gui(tmp_path: Path) -> None:
    process = subprocess.Popen(["sleep", "30"])
    try:
        assert all(p.pid != process.pid for p in running_gui_processes())
    finally:
        process.kill()
        process.wait()


def test_gui_process_arch_from_thin_and_universal_binaries(tmp_path: Path) -> None:
    assert gui_process_arch(Path(sys.executable)) is not None
    app = tmp_path / "Open Ephys GUI.app"
    macos = app / "Contents" / "MacOS"
    macos.mkdir(parents=True)
    fat = struct.pack(">II", 0xCAFEBABE, 2)
    fat += struct.pack(">iiIII", 0x01000007, 3, 0x4000, 0x1000, 14)
    fat += struct.pack(">iiIII", 0x0100000C, 0, 0x8000, 0x1000, 14)
    (macos / "Open Ephys GUI").write_bytes(fat + bytes(32))
    assert gui_process_arch(app, host_machine="arm64") == "arm64"
    assert gui_process_arch(app, host_machine="x86_64") == "x86_64"
    assert gui_process_arch(app, host_machine="ppc64le") is None
    text = tmp_path / "open-ephys.sh"
    text.write_text("#!/bin/sh\n")
    assert gui_process_arch(text) is None
