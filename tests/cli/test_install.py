"""`oe-pyproc install` / `uninstall` and the doctor's plugin checks, on a temporary GUI root.

The environment is a conda-style prefix of real files (conftest's conda_env_factory: a real Python 3.10 with
numpy) holding the plugin folder of DESIGN §5 with real shared libraries compiled here by gcc. Every round
trip compares full tree hashes of the GUI root: install + doctor + uninstall must leave it byte for byte as
it was, with and without an upstream plugin moved aside.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from oe_pyproc_setup.binfmt import normalize_machine
from oe_pyproc_setup.gui import default_gui_root

Cli = Callable[..., subprocess.CompletedProcess[str]]
PLUGIN_REL = Path("lib/oe-pyproc/plugins-api10/oe-pyproc")
MACHINE = normalize_machine(platform.machine())


# ------------------------------------------------------------------------------------------- helpers


def tree_snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under root: folders, files (sha256 + mode bits) and symlinks (target)."""
    import hashlib

    snapshot: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            snapshot[relative] = ("link", os.readlink(path))
        elif path.is_dir():
            snapshot[relative] = ("dir", stat.S_IMODE(path.stat().st_mode))
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            snapshot[relative] = ("file", digest, stat.S_IMODE(path.stat().st_mode))
    return snapshot


@pytest.fixture(scope="session")
def shared_libraries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real ELF shared libraries for this machine, compiled once: an adapter, a bridge, an upstream plugin."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is required to build the test plugins")
    folder = tmp_path_factory.mktemp("libs")
    built = {}
    for name, body in {
        "adapter": "int oe_adapter_marker(void) { return 10; }",
        "bridge": "int oe_bridge_marker(void) { return 310; }",
        "bridge_v2": "int oe_bridge_marker(void) { return 311; }",
        "upstream": "int upstream_python_processor(void) { return 1; }",
    }.items():
        source = folder / f"{name}.c"
        source.write_text(body + "\n")
        target = folder / f"{name}.so"
        subprocess.run([gcc, "-shared", "-fPIC", "-o", str(target), str(source)], check=True)
        built[name] = target
    return built


def write_metadata(plugin_dir: Path, **overrides: object) -> None:
    metadata: dict[str, object] = {
        "schema": 1,
        "version": "0.1.0",
        "plugin_api": 10,
        "platform": "linux-64",
        "arch": MACHINE,
        "bridges": {"3.10": "oe_pyproc_bridge_cp310.bridge"},
    }
    metadata.update(overrides)
    (plugin_dir / "oe-pyproc-plugin.json").write_text(json.dumps(metadata, indent=2))


@pytest.fixture
def plugin_env(conda_env_factory: Callable[..., Path], shared_libraries: dict[str, Path]) -> Path:
    """A conda environment (real Python 3.10 + numpy) with the plugin package's files."""
    prefix = conda_env_factory("oe-python-plugin")
    plugin_dir = prefix / PLUGIN_REL
    plugin_dir.mkdir(parents=True)
    shutil.copy2(shared_libraries["adapter"], plugin_dir / "python-processor.so")
    shutil.copy2(shared_libraries["bridge"], plugin_dir / "oe_pyproc_bridge_cp310.bridge")
    write_metadata(plugin_dir)
    return prefix


@pytest.fixture
def used_gui_root(gui_root: Path, shared_libraries: dict[str, Path]) -> Path:
    """A GUI root that has been used: another plugin, installedPlugins.xml, saved configs."""
    plugins = gui_root / "plugins-api10"
    shutil.copy2(shared_libraries["upstream"], plugins / "some-other-plugin.so")
    (plugins / "installedPlugins.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<PluginInstaller gui_version="1.0.1">\n'
        '  <InstalledPlugins>\n    <SomeOtherPlugin version="1.2.0" dllName="some-other-plugin"/>\n'
        "  </InstalledPlugins>\n</PluginInstaller>\n"
    )
    (gui_root / "configs-api10" / "windowState.xml").write_text('<MAINWINDOW shouldReloadOnStartup="1"/>\n')
    (gui_root / "shared-api10").mkdir()
    return gui_root


def doctor_findings(cli: Cli, gui_root: Path, home: Path) -> dict[str, dict[str, object]]:
    result = cli("doctor", "--json", "--gui-root", str(gui_root), "--python-home", str(home))
    assert result.returncode in (0, 1), result.stderr
    document = json.loads(result.stdout)
    return {str(f["id"]): f for f in document["findings"]}


def install(cli: Cli, env: Path, gui_root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("install", "--prefix", str(env), "--gui-root", str(gui_root), *extra)


def uninstall(cli: Cli, gui_root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return cli("uninstall", "--gui-root", str(gui_root), *extra)


# ---------------------------------------------------------------------------------------- round trips


def test_round_trip_leaves_the_gui_byte_for_byte(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    before = tree_snapshot(used_gui_root)
    result = install(cli, plugin_env, used_gui_root)
    assert result.returncode == 0, result.stderr
    assert "oe-pyproc uninstall" in result.stdout  # the reminder before removing the environment

    plugins = used_gui_root / "plugins-api10"
    for name in ("python-processor.so", "oe_pyproc_bridge_cp310.bridge", "oe-pyproc-plugin.json"):
        assert (plugins / "oe-pyproc" / name).read_bytes() == (plugin_env / PLUGIN_REL / name).read_bytes()
    manifest = json.loads((plugins / "oe-pyproc-manifest.json").read_text())
    assert manifest["schema"] == 1 and manifest["source_prefix"] == str(plugin_env)
    assert sorted(f["path"] for f in manifest["files"]) == [
        "oe-pyproc/oe-pyproc-plugin.json",
        "oe-pyproc/oe_pyproc_bridge_cp310.bridge",
        "oe-pyproc/python-processor.so",
    ]
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    assert manifest["moved_aside"] == []
    default_home = json.loads((used_gui_root / "configs-api10" / "oe-pyproc.json").read_text())
    assert default_home["python_home"] == str(plugin_env)
    assert "install" in default_home["written_by"]

    findings = doctor_findings(cli, used_gui_root, plugin_env)
    assert findings["plugin.installed"]["status"] == "ok", findings["plugin.installed"]
    assert findings["plugin.home"]["status"] == "ok", findings["plugin.home"]
    assert not [i for i in findings if i.startswith("plugin.installed/")]

    result = uninstall(cli, used_gui_root)
    assert result.returncode == 0, result.stderr
    assert tree_snapshot(used_gui_root) == before


def test_round_trip_with_upstream_moved_aside(
    cli: Cli, plugin_env: Path, used_gui_root: Path, shared_libraries: dict[str, Path]
) -> None:
    upstream = used_gui_root / "plugins-api10" / "python-processor.so"
    shutil.copy2(shared_libraries["upstream"], upstream)
    before = tree_snapshot(used_gui_root)

    refused = install(cli, plugin_env, used_gui_root)
    assert refused.returncode == 1
    assert "upstream's Python Processor" in refused.stderr and "--replace-upstream" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert tree_snapshot(used_gui_root) == before

    result = install(cli, plugin_env, used_gui_root, "--replace-upstream")
    assert result.returncode == 0, result.stderr
    aside = used_gui_root / "oe-pyproc-moved-aside" / "plugins-api10" / "python-processor.so"
    assert not upstream.exists() and aside.read_bytes() == shared_libraries["upstream"].read_bytes()
    manifest = json.loads((used_gui_root / "plugins-api10" / "oe-pyproc-manifest.json").read_text())
    assert manifest["moved_aside"] == [  # relative to the GUI root
        {
            "path": "plugins-api10/python-processor.so",
            "aside": "oe-pyproc-moved-aside/plugins-api10/python-processor.so",
        }
    ]

    findings = doctor_findings(cli, used_gui_root, plugin_env)
    assert findings["plugin.installed"]["status"] == "ok"
    assert "plugin.installed/upstream" not in findings

    result = uninstall(cli, used_gui_root)
    assert result.returncode == 0, result.stderr
    assert "Put back" in result.stdout
    assert tree_snapshot(used_gui_root) == before


def test_previous_default_home_file_is_restored(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    home_file = used_gui_root / "configs-api10" / "oe-pyproc.json"
    home_file.write_bytes(
        b'{"schema": 1, "python_home": "/opt/earlier", "written_by": "x", "written_at": "y"}\r\n'
    )
    before = tree_snapshot(used_gui_root)
    assert install(cli, plugin_env, used_gui_root).returncode == 0
    assert json.loads(home_file.read_text())["python_home"] == str(plugin_env)
    assert uninstall(cli, used_gui_root).returncode == 0
    assert tree_snapshot(used_gui_root) == before


def test_round_trip_creates_and_removes_missing_folders(cli: Cli, plugin_env: Path, tmp_path: Path) -> None:
    root = tmp_path / "fresh-root"
    root.mkdir()  # the GUI ran once but has no configs-api10 / plugins-api10 yet
    assert install(cli, plugin_env, root).returncode == 0
    assert (root / "plugins-api10" / "oe-pyproc").is_dir() and (root / "configs-api10").is_dir()
    assert uninstall(cli, root).returncode == 0
    assert tree_snapshot(root) == {}


def test_install_is_idempotent(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    assert install(cli, plugin_env, used_gui_root).returncode == 0
    after_first = tree_snapshot(used_gui_root)
    again = install(cli, plugin_env, used_gui_root)
    assert again.returncode == 0
    assert "nothing to do" in again.stdout
    assert tree_snapshot(used_gui_root) == after_first


@pytest.mark.parametrize("earlier_default_home", [True, False])
def test_reinstall_after_package_update_then_uninstall(
    cli: Cli,
    plugin_env: Path,
    used_gui_root: Path,
    shared_libraries: dict[str, Path],
    earlier_default_home: bool,
) -> None:
    home_file = used_gui_root / "configs-api10" / "oe-pyproc.json"
    if earlier_default_home:
        home_file.write_text(
            '{"schema": 1, "python_home": "/opt/first", "written_by": "a", "written_at": "b"}\n'
        )
    before = tree_snapshot(used_gui_root)
    assert install(cli, plugin_env, used_gui_root).returncode == 0

    # The package is updated in the environment: doctor sees a stale copy, install updates it.
    shutil.copy2(shared_libraries["bridge_v2"], plugin_env / PLUGIN_REL / "oe_pyproc_bridge_cp310.bridge")
    findings = doctor_findings(cli, used_gui_root, plugin_env)
    stale = findings["plugin.installed/stale"]
    assert stale["status"] == "warn" and "oe_pyproc_bridge_cp310.bridge" in " ".join(stale["details"])  # type: ignore[arg-type]
    updated = install(cli, plugin_env, used_gui_root)
    assert updated.returncode == 0 and "Updated" in updated.stdout
    installed_bridge = used_gui_root / "plugins-api10" / "oe-pyproc" / "oe_pyproc_bridge_cp310.bridge"
    assert installed_bridge.read_bytes() == shared_libraries["bridge_v2"].read_bytes()
    assert "plugin.installed/stale" not in doctor_findings(cli, used_gui_root, plugin_env)

    assert uninstall(cli, used_gui_root).returncode == 0
    assert tree_snapshot(used_gui_root) == before  # the default Home of before the *first* install


def test_dry_runs_change_nothing(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    before = tree_snapshot(used_gui_root)
    result = install(cli, plugin_env, used_gui_root, "--dry-run")
    assert (
        result.returncode == 0
        and "Dry run" in result.stdout
        and "oe-pyproc/python-processor.so" in result.stdout
    )
    assert tree_snapshot(used_gui_root) == before
    assert install(cli, plugin_env, used_gui_root).returncode == 0
    installed = tree_snapshot(used_gui_root)
    result = uninstall(cli, used_gui_root, "--dry-run")
    assert result.returncode == 0 and "Dry run" in result.stdout
    assert tree_snapshot(used_gui_root) == installed


# -------------------------------------------------------------------------------------------- refusals


def test_refused_while_the_gui_runs_unless_forced(
    cli: Cli,
    plugin_env: Path,
    used_gui_root: Path,
    fake_gui_home: Path,
    fake_gui_process: subprocess.Popen[bytes],
) -> None:
    # The running "GUI" uses the saved-state root of its HOME: install into that very root.
    root = default_gui_root("Linux", home=fake_gui_home)
    root.parent.mkdir(parents=True)
    shutil.copytree(used_gui_root, root)
    before = tree_snapshot(root)
    refused = install(cli, plugin_env, root)
    assert refused.returncode == 1
    assert f"running (pid {fake_gui_process.pid}" in refused.stderr and "--force" in refused.stderr
    assert tree_snapshot(root) == before
    # The same running GUI does not block a root it does not use.
    elsewhere = install(cli, plugin_env, used_gui_root)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert uninstall(cli, used_gui_root).returncode == 0
    forced = install(cli, plugin_env, root, "--force")
    assert forced.returncode == 0 and "Warning: the GUI is running" in forced.stdout
    assert uninstall(cli, root).returncode == 1
    assert uninstall(cli, root, "--force").returncode == 0
    assert tree_snapshot(root) == before


def test_missing_gui_folder_is_explained(cli: Cli, plugin_env: Path, tmp_path: Path) -> None:
    result = install(cli, plugin_env, tmp_path / "never-started")
    assert result.returncode == 1
    assert "does not exist yet" in result.stderr and "Start the Open Ephys GUI once" in result.stderr
    assert not (tmp_path / "never-started").exists()


def test_root_of_another_api_is_refused(cli: Cli, plugin_env: Path, tmp_path: Path) -> None:
    """A GUI 0.6.x root without --api 8: plugins-api10 would be created where that GUI never looks."""
    root = tmp_path / "gui 0.6"
    (root / "configs-api8").mkdir(parents=True)
    before = tree_snapshot(root)
    result = install(cli, plugin_env, root)
    assert result.returncode == 1 and "has folders of plugin API 8 but none of API 10" in result.stderr
    assert "Run again with --api 8 (GUI 0.6.x)." in result.stderr
    assert tree_snapshot(root) == before


def test_gui_root_that_is_a_file(cli: Cli, plugin_env: Path, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "root.txt"
    not_a_folder.write_text("x")
    result = install(cli, plugin_env, not_a_folder)
    assert result.returncode == 1 and "is a file" in result.stderr and "Traceback" not in result.stderr


def test_plugin_for_another_api_version(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    result = install(cli, plugin_env, used_gui_root, "--api", "8")
    assert result.returncode == 1
    assert "built for API 10 (GUI 1.0.x), not API 8 (GUI 0.6.x)" in result.stderr


def test_metadata_for_another_api_version(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    write_metadata(plugin_env / PLUGIN_REL, plugin_api=8)
    result = install(cli, plugin_env, used_gui_root)
    assert result.returncode == 1 and "built for API 8 (GUI 0.6.x), not API 10" in result.stderr


@pytest.mark.parametrize("change", [{"bridges": {}}, {"plugin_api": True}])
def test_metadata_without_bridges_or_with_a_bool_api(
    cli: Cli, plugin_env: Path, used_gui_root: Path, change: dict[str, object]
) -> None:
    write_metadata(plugin_env / PLUGIN_REL, **change)
    before = tree_snapshot(used_gui_root)
    result = install(cli, plugin_env, used_gui_root)
    assert result.returncode == 1 and "lacks version, plugin_api, platform, arch or bridges" in result.stderr
    assert tree_snapshot(used_gui_root) == before


def test_plugin_for_another_platform(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    write_metadata(plugin_env / PLUGIN_REL, platform="win-64")
    result = install(cli, plugin_env, used_gui_root)
    assert result.returncode == 1 and "built for windows, not linux" in result.stderr


def macho_header(cputype: int) -> bytes:
    """A thin 64-bit little-endian Mach-O header (mach-o/loader.h: magic, cputype, cpusubtype, ...)."""
    return struct.pack("<IiiIIII", 0xFEEDFACF, cputype, 0, 2, 0, 0, 0) + b"\0" * 4


def test_plugin_for_another_architecture_than_the_gui(
    cli: Cli, plugin_env: Path, used_gui_root: Path, tmp_path: Path
) -> None:
    other = "arm64" if MACHINE == "x86_64" else "x86_64"
    gui_exe = tmp_path / "open-ephys"
    gui_exe.write_bytes(macho_header(0x0100000C if other == "arm64" else 0x01000007))
    before = tree_snapshot(used_gui_root)
    result = install(cli, plugin_env, used_gui_root, "--gui-exe", str(gui_exe))
    assert result.returncode == 1
    assert f"built for {MACHINE} but the GUI runs as {other}" in result.stderr
    assert tree_snapshot(used_gui_root) == before


def test_metadata_arch_contradicting_the_binary(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    write_metadata(plugin_env / PLUGIN_REL, arch="arm64" if MACHINE == "x86_64" else "x86_64")
    result = install(cli, plugin_env, used_gui_root)
    assert result.returncode == 1
    assert "built for" in result.stderr and "Traceback" not in result.stderr


def test_package_without_adapter(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    (plugin_env / PLUGIN_REL / "python-processor.so").unlink()
    result = install(cli, plugin_env, used_gui_root)
    assert result.returncode == 1 and "OE_PYPROC_WITHOUT_ADAPTER" in result.stderr


def test_environment_without_the_plugin(
    cli: Cli, conda_env_factory: Callable[..., Path], gui_root: Path
) -> None:
    env = conda_env_factory("plain")
    result = install(cli, env, gui_root)
    assert (
        result.returncode == 1 and "no oe-pyproc plugin in" in result.stderr and "--prefix" in result.stderr
    )


def test_an_environment_that_is_no_home_is_installed_with_a_warning(
    cli: Cli, plugin_env: Path, used_gui_root: Path, tmp_path: Path
) -> None:
    """It becomes the default Home: say now that the plugin cannot use it, not at the GUI's first load."""
    bare = tmp_path / "bare env"
    shutil.copytree(plugin_env / "lib" / "oe-pyproc", bare / "lib" / "oe-pyproc")
    result = install(cli, bare, used_gui_root)
    assert result.returncode == 0, result.stderr
    assert f"Warning: the plugin cannot use {bare} as its Python Home:" in result.stderr
    assert "no Python found here" in result.stderr and "oe-pyproc doctor --gui-root" in result.stderr
    assert "Warning" not in install(cli, plugin_env, used_gui_root).stderr  # a good Home: no warning


def test_active_conda_environment_is_the_default(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    env = dict(os.environ, CONDA_PREFIX=str(plugin_env))
    result = cli("install", "--gui-root", str(used_gui_root), env=env)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((used_gui_root / "plugins-api10" / "oe-pyproc-manifest.json").read_text())
    assert manifest["source_prefix"] == str(plugin_env)


def test_user_files_in_our_folder_are_not_overwritten(
    cli: Cli, plugin_env: Path, used_gui_root: Path
) -> None:
    ours = used_gui_root / "plugins-api10" / "oe-pyproc"
    ours.mkdir()
    (ours / "python-processor.so").write_bytes(b"somebody else's build")
    before = tree_snapshot(used_gui_root)
    result = install(cli, plugin_env, used_gui_root)
    assert result.returncode == 1 and "not installed by oe-pyproc are in the way" in result.stderr
    assert tree_snapshot(used_gui_root) == before
    # uninstall does not touch a folder it did not install either
    result = uninstall(cli, used_gui_root)
    assert result.returncode == 1 and "no install manifest" in result.stderr
    assert tree_snapshot(used_gui_root) == before


def test_malformed_manifest_is_left_untouched(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    manifest = used_gui_root / "plugins-api10" / "oe-pyproc-manifest.json"
    manifest.write_text("{ not json")
    before = tree_snapshot(used_gui_root)
    for result in (install(cli, plugin_env, used_gui_root), uninstall(cli, used_gui_root)):
        assert (
            result.returncode == 1 and "not valid JSON" in result.stderr and "Traceback" not in result.stderr
        )
    assert tree_snapshot(used_gui_root) == before


@pytest.mark.parametrize("listed", ["../../outside.txt", "oe-pyproc/../../../outside.txt", "{absolute}"])
def test_manifest_entry_outside_the_plugin_folder_is_never_removed(
    cli: Cli, plugin_env: Path, used_gui_root: Path, listed: str
) -> None:
    """A damaged manifest must not make uninstall delete a user's file elsewhere, `..` included."""
    import hashlib

    assert install(cli, plugin_env, used_gui_root).returncode == 0
    outside = used_gui_root.parent / "outside.txt"
    outside.write_text("the user's own file\n")
    manifest_path = used_gui_root / "plugins-api10" / "oe-pyproc-manifest.json"
    manifest = json.loads(manifest_path.read_text())
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    manifest["files"].append({"path": listed.format(absolute=outside), "sha256": digest})
    manifest_path.write_text(json.dumps(manifest))
    before = tree_snapshot(used_gui_root)
    result = uninstall(cli, used_gui_root)
    assert result.returncode == 1 and "outside the folders of the GUI root" in result.stderr, result.stderr
    assert "nothing was done" in result.stderr
    assert "Traceback" not in result.stderr
    assert outside.read_text() == "the user's own file\n"
    assert tree_snapshot(used_gui_root) == before


def test_uninstall_without_install(cli: Cli, used_gui_root: Path) -> None:
    before = tree_snapshot(used_gui_root)
    result = uninstall(cli, used_gui_root)
    assert result.returncode == 0 and "Nothing to uninstall" in result.stdout
    assert tree_snapshot(used_gui_root) == before


def test_uninstall_from_a_gui_root_that_does_not_exist(cli: Cli, tmp_path: Path) -> None:
    """A typo in --gui-root is an error (as for install and configure), not "nothing to uninstall"."""
    typo = tmp_path / "open-ephsy"
    for extra in ((), ("--dry-run",)):
        result = uninstall(cli, typo, *extra)
        assert result.returncode == 1 and f"--gui-root {typo} does not exist" in result.stderr
        assert "Traceback" not in result.stderr
    assert not typo.exists()


# ------------------------------------------------------------------------------------------------ doctor


def test_doctor_reports_damage_and_a_removed_environment(
    cli: Cli, plugin_env: Path, used_gui_root: Path
) -> None:
    assert install(cli, plugin_env, used_gui_root).returncode == 0
    installed_bridge = used_gui_root / "plugins-api10" / "oe-pyproc" / "oe_pyproc_bridge_cp310.bridge"
    installed_bridge.write_bytes(installed_bridge.read_bytes() + b"\0")
    findings = doctor_findings(cli, used_gui_root, plugin_env)
    assert findings["plugin.installed/integrity"]["status"] == "error"
    assert "changed since install" in " ".join(findings["plugin.installed/integrity"]["details"])  # type: ignore[arg-type]

    shutil.rmtree(plugin_env / "lib" / "oe-pyproc")
    findings = doctor_findings(cli, used_gui_root, plugin_env)
    assert findings["plugin.installed/source"]["status"] == "error"


def test_doctor_reports_upstream_beside_ours(
    cli: Cli, plugin_env: Path, used_gui_root: Path, shared_libraries: dict[str, Path]
) -> None:
    assert install(cli, plugin_env, used_gui_root).returncode == 0
    shutil.copy2(shared_libraries["upstream"], used_gui_root / "plugins-api10" / "python-processor.so")
    findings = doctor_findings(cli, used_gui_root, plugin_env)
    assert findings["plugin.installed/upstream"]["status"] == "error"
    assert "--replace-upstream" in " ".join(findings["plugin.installed/upstream"]["remediation"]["commands"])  # type: ignore[index]


def test_doctor_reports_a_home_without_a_bridge(
    cli: Cli, plugin_env: Path, used_gui_root: Path, shared_libraries: dict[str, Path]
) -> None:
    plugin_dir = plugin_env / PLUGIN_REL
    (plugin_dir / "oe_pyproc_bridge_cp310.bridge").rename(plugin_dir / "oe_pyproc_bridge_cp312.bridge")
    write_metadata(plugin_dir, bridges={"3.12": "oe_pyproc_bridge_cp312.bridge"})
    assert install(cli, plugin_env, used_gui_root).returncode == 0
    findings = doctor_findings(cli, used_gui_root, plugin_env)
    assert findings["plugin.home/home"]["status"] == "error"
    assert "no bridge for Python 3.10" in str(findings["plugin.home/home"]["message"])


def test_doctor_without_plugin_suggests_install(cli: Cli, plugin_env: Path, used_gui_root: Path) -> None:
    findings = doctor_findings(cli, used_gui_root, plugin_env)
    assert findings["plugin.installed"]["status"] == "warn"
    assert findings["plugin.home"]["status"] == "skip"


def test_doctor_with_a_home_that_is_not_python_after_install(
    cli: Cli, plugin_env: Path, used_gui_root: Path, tmp_path: Path
) -> None:
    """The plugin-vs-Home check has nothing to compare when the Home is not Python: a skip, not a crash."""
    assert install(cli, plugin_env, used_gui_root).returncode == 0
    not_python = tmp_path / "not-python"
    not_python.mkdir()
    findings = doctor_findings(cli, used_gui_root, not_python)
    assert findings["plugin.home"]["status"] == "skip", findings["plugin.home"]
    assert "version is unknown" in str(findings["plugin.home"]["message"])
    assert not [f for f in findings.values() if f["status"] == "crash"]
