"""install/uninstall touch only the folders of the GUI root they own (issue 14 item 1).

Each case installs for real (upstream's plugin moved aside, so every field of the manifest is filled),
then tampers with the manifest or plants a symbolic link the way a damaged file or a hostile edit could,
and checks that uninstall (or a re-install) refuses with the reason, changes nothing in the GUI root and
nothing of the user's files outside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from redteam_helpers import INSTALLED_PLUGINS, Outcome, snapshot

Cli = Callable[..., Outcome]


def install(cli: Cli, env: Path, root: Path, *extra: str) -> Outcome:
    return cli("install", "--prefix", str(env), "--gui-root", str(root), "--replace-upstream", *extra)


def uninstall(cli: Cli, root: Path) -> Outcome:
    return cli("uninstall", "--gui-root", str(root))


def manifest_of(root: Path) -> tuple[Path, dict[str, Any]]:
    path = root / "plugins-api10" / "oe-pyproc-manifest.json"
    return path, json.loads(path.read_text())


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tamper_files_sibling(root: Path, data: dict[str, Any], victim: Path) -> None:
    other = root / "plugins-api10" / "some-other-plugin.so"
    data["files"].append({"path": "oe-pyproc/../some-other-plugin.so", "sha256": sha(other)})


def tamper_files_absolute(root: Path, data: dict[str, Any], victim: Path) -> None:
    data["files"].append({"path": str(victim / "thesis.txt"), "sha256": sha(victim / "thesis.txt")})


def tamper_moved_aside_path(root: Path, data: dict[str, Any], victim: Path) -> None:
    # uninstall would move upstream's plugin back to... the user's folder, under a new name
    data["moved_aside"][0]["path"] = str(victim / "new-file.so")


def tamper_moved_aside_aside(root: Path, data: dict[str, Any], victim: Path) -> None:
    # uninstall would "put back" the user's file into the plugin folder (moving it away from them)
    (root / "oe-pyproc-moved-aside" / "plugins-api10" / "python-processor.so").unlink()
    data["moved_aside"][0]["aside"] = str(victim / "thesis.txt")


def tamper_moved_aside_dotdot(root: Path, data: dict[str, Any], victim: Path) -> None:
    data["moved_aside"][0]["aside"] = "oe-pyproc-moved-aside/../../../victim/thesis.txt"


def tamper_default_home_path(root: Path, data: dict[str, Any], victim: Path) -> None:
    # the user's file has exactly the bytes install wrote: uninstall would "restore" it
    written = root / "configs-api10" / "oe-pyproc.json"
    shutil.copy2(written, victim / "thesis.txt")
    data["default_home"]["path"] = str(victim / "thesis.txt")


def tamper_backup_created(root: Path, data: dict[str, Any], victim: Path) -> None:
    # a backup "install made" whose bytes equal the recorded previous file is deleted by uninstall
    import base64

    (victim / "thesis.txt").write_bytes(base64.b64decode(data["default_home"]["previous_base64"]))
    data["default_home"]["backup_created"] = str(victim / "thesis.txt")


def tamper_created_dirs(root: Path, data: dict[str, Any], victim: Path) -> None:
    data["created_dirs"].append(str(victim / "empty-folder"))


def tamper_created_dirs_relative(root: Path, data: dict[str, Any], victim: Path) -> None:
    data["created_dirs"].append("../../victim/empty-folder")


def tamper_installed_plugins_path(root: Path, data: dict[str, Any], victim: Path) -> None:
    written = root / "plugins-api10" / "installedPlugins.xml"
    shutil.copy2(written, victim / "thesis.txt")
    data["installed_plugins"]["path"] = str(victim / "thesis.txt")


def tamper_plugin_folder_symlink(root: Path, data: dict[str, Any], victim: Path) -> None:
    # our folder replaced by a link to the user's folder holding files of the same names
    ours = root / "plugins-api10" / "oe-pyproc"
    for file in ours.iterdir():
        shutil.copy2(file, victim / file.name)
    shutil.rmtree(ours)
    ours.symlink_to(victim, target_is_directory=True)


def tamper_plugin_file_symlink(root: Path, data: dict[str, Any], victim: Path) -> None:
    listed = root / "plugins-api10" / "oe-pyproc" / "python-processor.so"
    shutil.copy2(listed, victim / "python-processor.so")
    listed.unlink()
    listed.symlink_to(victim / "python-processor.so")


def tamper_default_home_symlink(root: Path, data: dict[str, Any], victim: Path) -> None:
    home_file = root / "configs-api10" / "oe-pyproc.json"
    shutil.copy2(home_file, victim / "thesis.txt")
    home_file.unlink()
    home_file.symlink_to(victim / "thesis.txt")


def tamper_aside_folder_symlink(root: Path, data: dict[str, Any], victim: Path) -> None:
    aside = root / "oe-pyproc-moved-aside"
    shutil.copytree(aside, victim / "aside")
    shutil.rmtree(aside)
    aside.symlink_to(victim / "aside", target_is_directory=True)


TAMPERINGS = [
    tamper_files_sibling,
    tamper_files_absolute,
    tamper_moved_aside_path,
    tamper_moved_aside_aside,
    tamper_moved_aside_dotdot,
    tamper_default_home_path,
    tamper_backup_created,
    tamper_created_dirs,
    tamper_created_dirs_relative,
    tamper_installed_plugins_path,
    tamper_plugin_folder_symlink,
    tamper_plugin_file_symlink,
    tamper_default_home_symlink,
    tamper_aside_folder_symlink,
]


@pytest.mark.parametrize("tamper", TAMPERINGS, ids=lambda f: f.__name__.removeprefix("tamper_"))
@pytest.mark.parametrize("command", ["uninstall", "reinstall", "doctor"])
def test_tampered_manifest_or_planted_link_changes_nothing(
    cli: Cli, plugin_env: Path, gui_root: Path, victim: Path, tamper: Any, command: str
) -> None:
    install(cli, plugin_env, gui_root).succeeded()
    manifest_path, data = manifest_of(gui_root)
    if tamper.__name__ == "tamper_backup_created":  # needs a backup record: the user had a default Home
        assert data["default_home"]["previous_base64"] is not None
    tamper(gui_root, data, victim)
    manifest_path.write_text(json.dumps(data, indent=2))
    before_root, before_victim = snapshot(gui_root), snapshot(victim)

    if command == "doctor":  # reports it, reads nothing the manifest names
        outcome = cli("doctor", "--json", "--gui-root", str(gui_root))
        assert outcome.returncode == 1, outcome.stderr
        outcome.clean()
        findings = {f["id"]: f for f in json.loads(outcome.stdout)["findings"]}
        assert findings["plugin.installed"]["status"] == "error"
        assert "outside the folders" in findings["plugin.installed"]["message"]
    elif command == "uninstall":
        uninstall(cli, gui_root).refused(
            "outside the folders of the GUI root that oe-pyproc owns", "nothing was done"
        )
    else:
        install(cli, plugin_env, gui_root, "--force").refused(
            "outside the folders of the GUI root that oe-pyproc owns", "nothing was done"
        )
    assert snapshot(gui_root) == before_root
    assert snapshot(victim) == before_victim


def test_symlinked_plugin_folder_before_install_is_refused(
    cli: Cli, plugin_env: Path, gui_root: Path, victim: Path
) -> None:
    # an empty folder of the user's: nothing is "in the way", only the link tells
    (gui_root / "plugins-api10" / "oe-pyproc").symlink_to(victim / "empty-folder", target_is_directory=True)
    before_root, before_victim = snapshot(gui_root), snapshot(victim)
    install(cli, plugin_env, gui_root).refused("through a symbolic link", "nothing was done")
    assert snapshot(gui_root) == before_root and snapshot(victim) == before_victim


def test_symlinked_default_home_file_before_install_is_refused(
    cli: Cli, plugin_env: Path, gui_root: Path, victim: Path
) -> None:
    home_file = gui_root / "configs-api10" / "oe-pyproc.json"
    home_file.unlink()
    home_file.symlink_to(victim / "thesis.txt")
    before_root, before_victim = snapshot(gui_root), snapshot(victim)
    install(cli, plugin_env, gui_root).refused("oe-pyproc.json", "nothing was done")
    assert snapshot(gui_root) == before_root and snapshot(victim) == before_victim


def test_manifest_that_is_a_fifo_neither_hangs_nor_is_opened(
    cli: Cli, plugin_env: Path, gui_root: Path
) -> None:
    manifest = gui_root / "plugins-api10" / "oe-pyproc-manifest.json"
    os.mkfifo(manifest)
    before = snapshot(gui_root)
    uninstall(cli, gui_root).refused("FIFO")
    install(cli, plugin_env, gui_root).refused("FIFO")
    assert snapshot(gui_root) == before


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"\xff\xfe not utf-8",
        b"[]",
        b'{"schema": 1}',
        b'{"schema": 1, "source_prefix": "/x", "files": [{"path": 3}]}',
        b'{"schema": 1, "source_prefix": "/x", "files": [], "default_home": {"path": "a", '
        b'"previous_base64": "!!", "written_sha256": "0"}}',
        b'{"schema": 2, "source_prefix": "/x", "files": []}',
    ],
    ids=["empty", "not-utf8", "list", "no-files", "bad-entry", "bad-base64", "schema-2"],
)
def test_damaged_manifest_is_left_untouched(cli: Cli, gui_root: Path, damage: bytes) -> None:
    manifest = gui_root / "plugins-api10" / "oe-pyproc-manifest.json"
    manifest.write_bytes(damage)
    before = snapshot(gui_root)
    uninstall(cli, gui_root).refused(str(manifest))
    assert snapshot(gui_root) == before


def test_old_absolute_path_manifest_still_uninstalls(cli: Cli, plugin_env: Path, gui_root: Path) -> None:
    """Manifests written before paths became relative to the GUI root hold absolute paths: still read."""
    before = snapshot(gui_root)
    install(cli, plugin_env, gui_root).succeeded()
    manifest_path, data = manifest_of(gui_root)
    assert not data["default_home"]["path"].startswith("/")
    for moved in data["moved_aside"]:
        moved["path"], moved["aside"] = str(gui_root / moved["path"]), str(gui_root / moved["aside"])
    data["default_home"]["path"] = str(gui_root / data["default_home"]["path"])
    data["created_dirs"] = [str(gui_root / d) for d in data["created_dirs"]]
    manifest_path.write_text(json.dumps(data))
    uninstall(cli, gui_root).succeeded()
    assert snapshot(gui_root) == before


def test_installed_plugins_xml_follows_the_gui_installer_and_comes_back_byte_for_byte(
    cli: Cli, plugin_env: Path, gui_root: Path
) -> None:
    xml = gui_root / "plugins-api10" / "installedPlugins.xml"
    before = snapshot(gui_root)
    install(cli, plugin_env, gui_root).succeeded()
    # upstream's entry is gone (its dllName no longer exists), every other byte kept
    assert xml.read_text() == INSTALLED_PLUGINS.replace(
        '    <python-processor version="0.1.6" dllName="python-processor.so"/>\n', ""
    )
    uninstall(cli, gui_root).succeeded()
    assert snapshot(gui_root) == before


def test_installed_plugins_rewritten_by_the_gui_gets_the_entry_back(
    cli: Cli, plugin_env: Path, gui_root: Path
) -> None:
    xml = gui_root / "plugins-api10" / "installedPlugins.xml"
    install(cli, plugin_env, gui_root).succeeded()
    # the GUI's installer rewrites the file (JUCE's formatting, a newer gui_version, one more plugin)
    rewritten = (
        '<?xml version="1.0" encoding="UTF-8"?>\n\n<PluginInstaller gui_version="1.0.2">\n'
        "  <InstalledPlugins>\n"
        '    <OtherPlugin version="1.2.0" dllName="some-other-plugin.so"/>\n'
        '    <NewPlugin version="0.3.0" dllName="new-plugin.so"/>\n'
        "  </InstalledPlugins>\n</PluginInstaller>\n"
    )
    xml.write_text(rewritten)
    outcome = uninstall(cli, gui_root).succeeded()
    assert "put upstream's entry back" in outcome.stdout
    assert xml.read_text() == rewritten.replace(
        "  </InstalledPlugins>",
        '    <python-processor version="0.1.6" dllName="python-processor.so"/>\n  </InstalledPlugins>',
    )
