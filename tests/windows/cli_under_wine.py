"""`oe-pyproc` on the Windows CPython under wine (CI part 24-windows-cli): the CLI the user types, on
Windows paths, against a GUI root in the wine user's %LOCALAPPDATA%, judged against the plugin's loader.

Run by .ci/parts/24-windows-cli.sh on Linux, with WINEPREFIX set; every check runs the real programs
(`Scripts\\oe-pyproc.exe` or `python.exe -m oe_pyproc_setup` of the Home, `bin\\oe-pyproc-host.exe`)
through pipes and fails with the command, its exit code and its output. Exit 0 when every check passed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

WINE = "/usr/lib/wine/wine64"
TIMEOUT_SECONDS = 300
CHAIN_DATA = Path(__file__).resolve().parents[1] / "cli" / "data"
TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "processor.py"
OLD_HOME_ATTRIBUTE = b'python_home="/home/me/miniconda3/envs/old-env"'
SECOND_PROCESSOR_END = b'current_stream="10002"/>'
PLUGIN_FILES = ("oe-pyproc-plugin.json", "oe_pyproc_bridge_cp310.bridge", "python-processor.dll")
# MAX_PATH: a Windows program that is not long-path aware opens paths of at most 259 characters.
MAX_PATH = 260


class CheckFailed(Exception):
    pass


def windows_path(path: Path) -> str:
    """The path as a Windows program sees it: wine maps drive Z: to /."""
    return "Z:" + str(path).replace("/", "\\")


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def tree_snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under root: folders, files (sha256) and symbolic links (target)."""
    snapshot: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            snapshot[relative] = ("link", os.readlink(path))
        elif path.is_dir():
            snapshot[relative] = ("dir",)
        else:
            snapshot[relative] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
    return snapshot


def tree_difference(before: dict[str, tuple[object, ...]], after: dict[str, tuple[object, ...]]) -> str:
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    return (
        f"added {sorted(after.keys() - before.keys())}, removed {sorted(before.keys() - after.keys())}, "
        f"changed {changed}"
    )


class Windows:
    """Runs Windows programs under wine with a Windows-like environment (nothing of this Linux user's
    Python set-up leaks in: no PYENV_ROOT, CONDA_PREFIX, PYTHONPATH...)."""

    def __init__(self, home: Path, work: Path) -> None:
        self.home = home
        self.work = work
        self.python = home / "python.exe"
        self.host = home / "bin" / "oe-pyproc-host.exe"
        self.environment = {
            name: os.environ[name] for name in ("PATH", "HOME", "USER", "WINEPREFIX") if name in os.environ
        }
        # A UTF-8 locale: wine decodes the command line with it (the paths hold ä, Ω, 中). The Windows side
        # still gets cp1252 as its ANSI code page, what Python on a Western Windows uses for pipes and files.
        self.environment.update({"WINEDEBUG": "-all", "LANG": "C.UTF-8", "WINEPATH": windows_path(home)})

    def run(
        self, program: Path | str, *args: str, env: dict[str, str] | None = None, encoding: str = "cp1252"
    ) -> subprocess.CompletedProcess[str]:
        environment = dict(self.environment)
        environment.update(env or {})
        command = [WINE, str(program), *args]
        completed = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            env=environment,
            cwd=self.work,  # never the checkout: `python -m` would import oe_pyproc_setup from there
            check=False,
        )
        stdout = completed.stdout.decode(encoding, errors="replace")
        stderr = "\n".join(
            line
            for line in completed.stderr.decode(encoding, errors="replace").splitlines()
            if not line.startswith("wine: ")
        )
        if "Traceback (most recent call last)" in stdout + stderr:
            raise CheckFailed(self.describe(command, completed.returncode, stdout, stderr, "a traceback"))
        return subprocess.CompletedProcess(command, completed.returncode, stdout, stderr)

    @staticmethod
    def describe(command: Sequence[str], code: int, stdout: str, stderr: str, what: str) -> str:
        return f"{what}: {' '.join(command[1:])} (exit {code})\n--- stdout\n{stdout}\n--- stderr\n{stderr}"

    def oe(
        self, *args: str, env: dict[str, str] | None = None, encoding: str = "cp1252", launcher: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """`oe-pyproc ARGS`: through pip's Scripts\\oe-pyproc.exe (as typed at a prompt where the Home is on
        PATH), or as `python.exe -m oe_pyproc_setup` (one process less to start under wine)."""
        if launcher:
            return self.run(self.home / "Scripts" / "oe-pyproc.exe", *args, env=env, encoding=encoding)
        return self.run(self.python, "-m", "oe_pyproc_setup", *args, env=env, encoding=encoding)

    def oe_ok(self, *args: str, launcher: bool = False) -> subprocess.CompletedProcess[str]:
        result = self.oe(*args, launcher=launcher)
        if result.returncode != 0:
            raise CheckFailed(
                self.describe(result.args, result.returncode, result.stdout, result.stderr, "failed")
            )
        return result

    def oe_refused(self, fragment: str, *args: str) -> subprocess.CompletedProcess[str]:
        """A command that must fail with exit 1 and say `fragment` (no traceback: run() checks)."""
        result = self.oe(*args)
        if result.returncode != 1 or fragment not in result.stdout + result.stderr:
            raise CheckFailed(
                self.describe(
                    result.args,
                    result.returncode,
                    result.stdout,
                    result.stderr,
                    f"expected exit 1 and {fragment!r}",
                )
            )
        return result

    def json_of(self, *args: str, env: dict[str, str] | None = None, codes: tuple[int, ...] = (0,)) -> dict:
        result = self.oe(*args, env=env)
        if result.returncode not in codes:
            raise CheckFailed(
                self.describe(result.args, result.returncode, result.stdout, result.stderr, "failed")
            )
        try:
            return json.loads(result.stdout)
        except ValueError as error:
            raise CheckFailed(f"not JSON ({error}): {result.stdout[:2000]}") from None

    def loader_accepts(self, home_path: str) -> tuple[bool, str]:
        """The plugin's loader on a Home: oe-pyproc-host.exe --check-home --json."""
        result = self.run(
            self.host, "--check-home", "--json", "--no-default-home", "--python-home", home_path
        )
        try:
            report = json.loads(result.stdout)
        except ValueError:
            raise CheckFailed(
                f"--check-home on {home_path}: no JSON report:\n{result.stdout}\n{result.stderr}"
            ) from None
        reasons = [
            c.get("reason", "") for c in report.get("home", {}).get("candidates", []) if not c.get("accepted")
        ]
        return bool(report["ok"]), "; ".join(r for r in reasons if r)

    def translate(self, windows: str) -> Path:
        """The Linux path of a Windows path (winepath -u)."""
        result = self.run("winepath.exe", "-u", windows)
        return Path(result.stdout.strip())


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# ------------------------------------------------------------------------------------------------ checks


def check_launcher_and_console(win: Windows) -> None:
    version = win.oe_ok("--version", launcher=True).stdout
    check(version.startswith("oe-pyproc, version "), f"Scripts\\oe-pyproc.exe --version said {version!r}")
    encoding = win.run(win.python, "-c", "import sys; print(sys.stdout.encoding)").stdout.strip()
    check(encoding == "cp1252", f"expected a cp1252 console for pipes under wine, got {encoding!r}")
    print(f"  Scripts\\oe-pyproc.exe runs ({version.strip()}); console encoding through pipes: {encoding}")


def per_user_install_dir(win: Windows) -> tuple[str, Path]:
    local = win.run("cmd.exe", "/c", "echo %LOCALAPPDATA%").stdout.strip()
    check(local.startswith("C:\\"), f"%LOCALAPPDATA% is {local!r}")
    return local, win.translate(local)


def check_discovery(win: Windows, base: Path) -> None:
    """`homes` without PATHs finds the Home running the CLI, a python.org per-user install and an all-users
    one (in the wine prefix's C:\\Program Files)."""
    local_windows, local = per_user_install_dir(win)
    program_files = win.translate("C:\\Program Files")
    for install in (local / "Programs" / "Python" / "Python310", program_files / "Python310"):
        if not install.exists():
            install.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-al", str(base), str(install)], check=True)
    document = win.json_of("homes", "--json")
    rows = {row["path"].lower(): row for row in document["homes"]}
    expected = {
        windows_path(win.home).lower(): "sys.prefix (this oe-pyproc)",
        f"{local_windows}\\Programs\\Python\\Python310".lower(): "per-user install",
        "c:\\program files\\python310": "all-users install",
    }
    for path, source in expected.items():
        row = rows.get(path)
        check(row is not None, f"homes did not find {path}; it found {sorted(rows)}")
        assert row is not None
        check(row["source"] == source, f"{path}: source {row['source']!r}, expected {source!r}")
        check(row["verdict"]["status"] == "ok", f"{path}: {row['verdict']}")
        check(row["kind"] == "base-install" and row["version"] == "3.10", f"{path}: {row}")
        check(row["numpy"] and row["numpy"]["version"] == "1.26.4", f"{path}: numpy {row['numpy']}")
        print(f"  found {row['path']} ({source}): ok")
    # The GUI roots the CLI assumes without --gui-root: GUI 1.0 in %LOCALAPPDATA%, GUI 0.6.x in ProgramData.
    for api, root in (("10", f"{local_windows}\\Open Ephys"), ("8", "C:\\ProgramData\\Open Ephys")):
        said = win.json_of("homes", "--json", "--plugin", "upstream", "--api", api, windows_path(base))[
            "gui_root"
        ]
        check(said == root, f"--api {api}: the GUI root is {said!r}, expected {root!r}")
        print(f"  GUI root for --api {api}: {said}")


def check_spellings(win: Windows) -> None:
    """One Home, spelled as Windows users do: drive letter case, / or \\, a trailing \\, the folder's case."""
    plain = windows_path(win.home)
    spellings = [
        plain,
        "z:" + plain[2:],
        plain.replace("\\", "/"),
        plain + "\\",
        plain[: -len(win.home.name)] + win.home.name.upper(),
    ]
    document = win.json_of("homes", "--json", *spellings)
    rows = document["homes"]
    check(
        len(rows) == 1,
        f"{len(spellings)} spellings of one Home gave {len(rows)} rows: {[r['path'] for r in rows]}",
    )
    check(rows[0]["verdict"]["status"] == "ok", f"{rows[0]['path']}: {rows[0]['verdict']}")
    # One Home given: its own host judges it, bin\oe-pyproc-host.exe (DESIGN §5: bin\ on every platform).
    own_host = windows_path(win.host).lower()
    for spelling in spellings[1:3]:
        row = win.json_of("homes", "--json", spelling)["homes"][0]
        check(row["verdict"]["status"] == "ok" and row["kind"] == "base-install", f"{spelling}: {row}")
        check(own_host in row["judged_by"].lower(), f"{spelling}: judged by {row['judged_by']}")
    print(
        f"  {len(spellings)} spellings of the Home (z:, /, trailing \\, upper case): one Home, ok, judged by"
    )
    print(f"    its own {windows_path(win.host)}")


def make_layouts(
    win: Windows, base: Path, numpy_wheel: Path, embeddable: Path, python312: Path
) -> dict[str, tuple[Path, bool]]:
    """Windows Home layouts made from the real Windows Pythons: (folder, should the plugin accept it)."""
    homes = win.work / "layouts"
    shutil.rmtree(homes, ignore_errors=True)
    homes.mkdir(parents=True)
    subprocess.run(["cp", "-al", str(base), str(homes / "python.org base")], check=True)
    no_numpy = homes / "no-numpy"
    subprocess.run(["cp", "-al", str(base), str(no_numpy)], check=True)
    for numpy_entry in (no_numpy / "Lib" / "site-packages").glob("numpy*"):
        if numpy_entry.is_dir():
            shutil.rmtree(numpy_entry)
        else:
            numpy_entry.unlink()
    venv = homes / "venv"
    created = win.run(base / "python.exe", "-m", "venv", "--without-pip", windows_path(venv))
    check(
        (venv / "Scripts" / "python.exe").exists(),
        f"venv under wine failed: {created.stdout}{created.stderr}",
    )
    venv_numpy = homes / "venv-numpy"
    subprocess.run(["cp", "-a", str(venv), str(venv_numpy)], check=True)
    with zipfile.ZipFile(numpy_wheel) as wheel:
        wheel.extractall(venv_numpy / "Lib" / "site-packages")
    # A conda env's layout from the same binaries: conda-meta\ with python's record, Library\bin\.
    conda = homes / "conda-env"
    subprocess.run(["cp", "-al", str(base), str(conda)], check=True)
    (conda / "conda-meta").mkdir()
    (conda / "conda-meta" / "python-3.10.11-h4de0772_0_cpython.json").write_text(
        json.dumps({"name": "python", "version": "3.10.11", "build": "h4de0772_0_cpython"})
    )
    (conda / "Library" / "bin").mkdir(parents=True)
    # Copies, not symbolic links: wine resolves links, and homes would rightly count them as one Home.
    unusual = homes / "Räume mit Leerzeichen" / "Python 3.10 ü"
    unusual.parent.mkdir()
    beyond_cp1252 = homes / "Ωμέγα 中文"
    for folder in (unusual, beyond_cp1252):
        subprocess.run(["cp", "-al", str(base), str(folder)], check=True)
    (homes / "not-a-python").mkdir()
    return {
        "python.org base install with numpy": (homes / "python.org base", True),
        "base install without numpy": (no_numpy, False),
        "venv made by the Windows Python, no numpy": (venv, False),
        "that venv with numpy": (venv_numpy, True),
        "conda env layout (conda-meta, Library\\bin)": (conda, True),
        "the embeddable package (python310._pth)": (embeddable, False),
        "python.org install of 3.12 (no bridge)": (python312, False),
        "path with spaces and ä/ü": (unusual, True),
        "path beyond cp1252 (Greek, CJK)": (beyond_cp1252, True),
        "a folder that is no Python": (homes / "not-a-python", False),
        "a folder that does not exist": (homes / "missing", False),
        "python.exe instead of the folder": (base / "python.exe", False),
    }


def check_verdicts_agree(win: Windows, layouts: dict[str, tuple[Path, bool]]) -> None:
    """The CLI on the Windows Python (its file rules, and its verdict with the host judging) and the loader
    (oe-pyproc-host.exe --check-home) say the same of every layout."""
    print(
        f"  {'Home layout':46} {'expected':9} {'loader':9} {'CLI files':10} CLI verdict (judged by the host)"
    )
    host_env = {"OE_PYPROC_HOST": windows_path(win.host)}
    paths = {name: windows_path(folder) for name, (folder, _) in layouts.items()}
    document = win.json_of("homes", "--json", *paths.values(), env=host_env, codes=(1,))
    rows = {row["path"].lower(): row for row in document["homes"]}
    words = {True: "usable", False: "refused"}
    for name, (_, accepted) in layouts.items():
        loader, reason = win.loader_accepts(paths[name])
        row = rows.get(paths[name].lower())
        check(row is not None, f"homes did not list {paths[name]}: {sorted(rows)}")
        assert row is not None
        files = row["files_status"] if row["files_status"] is not None else row["verdict"]["status"]
        verdict = row["verdict"]["status"]
        print(f"  {name:46} {words[accepted]:9} {words[loader]:9} {files:10} {verdict}")
        check(
            loader == accepted,
            f"{name}: the loader said {words[loader]} ({reason}), expected {words[accepted]}",
        )
        check((files != "error") == accepted, f"{name}: the CLI's file rules said {files}: {row['verdict']}")
        check((verdict != "error") == accepted, f"{name}: the CLI said {verdict}: {row['verdict']}")
        check("oe-pyproc-host" in row["judged_by"], f"{name}: judged by {row['judged_by']}")


def check_console_encodings(win: Windows, layouts: dict[str, tuple[Path, bool]]) -> None:
    """Text output on a cp1252 console: ASCII marks, characters cp1252 lacks escaped, never a crash."""
    odd = windows_path(layouts["path beyond cp1252 (Greek, CJK)"][0])
    for command in (
        ("homes", odd),
        ("doctor", "--python-home", odd),
        ("configure", "--dry-run", "--python-home", odd),
    ):
        result = win.oe(*command)
        check(
            result.returncode in (0, 1),
            f"{command}: exit {result.returncode}\n{result.stdout}\n{result.stderr}",
        )
        check("\u2713" not in result.stdout, f"{command}: a ✓ reached a cp1252 console")
    doctor = win.oe("doctor", "--python-home", windows_path(win.home)).stdout
    check("[ok]" in doctor, f"doctor on cp1252 has no ASCII marks:\n{doctor}")
    utf8 = win.oe(
        "doctor", "--python-home", windows_path(win.home), env={"PYTHONIOENCODING": "utf-8"}, encoding="utf-8"
    )
    check("\u2713" in utf8.stdout, f"doctor on a UTF-8 stream shows no ✓:\n{utf8.stdout}")
    print("  cp1252 console: ASCII marks, Ω/中 escaped, no crash (homes, doctor, configure); UTF-8: ✓")


def make_gui_root(root: Path, adapter: Path, scripts: Path) -> None:
    """A used GUI 1.0 root with the GUI's files in CRLF (as the Windows GUI writes them), whose chain names
    two scripts that exist in `scripts` (Windows file names cannot hold the chain's `<v2>`)."""
    configs = root / "configs-api10"
    plugins = root / "plugins-api10"
    for folder in (configs, plugins, root / "shared-api10", scripts):
        folder.mkdir(parents=True, exist_ok=True)
    chain = crlf((CHAIN_DATA / "chain_v1.xml").read_bytes())
    for old, name in (
        (b"/home/me/scripts/filter.py", "filter.py"),
        (rb"C:\Users\me\scripts\spikes &lt;v2&gt;.py", "spikes_v2.py"),
    ):
        check(chain.count(b'script_path="' + old + b'"') == 1, f"chain_v1.xml no longer names {old!r}")
        shutil.copy(TEMPLATE, scripts / name)
        chain = chain.replace(
            b'script_path="' + old + b'"', b'script_path="' + windows_path(scripts / name).encode() + b'"'
        )
    check(
        chain.count(OLD_HOME_ATTRIBUTE) == 1 and chain.count(SECOND_PROCESSOR_END) == 1,
        "chain_v1.xml no longer holds the two Python Processors this test expects",
    )
    (configs / "lastConfig.xml").write_bytes(chain)
    (configs / "recoveryConfig.xml").write_bytes(chain)
    (configs / "windowState.xml").write_bytes(crlf((CHAIN_DATA / "windowState.xml").read_bytes()))
    shutil.copy(adapter, plugins / "some-other-plugin.dll")
    (plugins / "installedPlugins.xml").write_bytes(
        crlf(
            b'<?xml version="1.0" encoding="UTF-8"?>\n<PluginInstaller gui_version="1.0.1">\n'
            b'  <InstalledPlugins>\n    <SomeOtherPlugin version="1.2.0" dllName="some-other-plugin"/>\n'
            b"  </InstalledPlugins>\n</PluginInstaller>\n"
        )
    )


def check_configure(win: Windows, root: Path, root_windows: str) -> None:
    """configure without --gui-root finds %LOCALAPPDATA%\\Open Ephys; only python_home's bytes change."""
    configs = root / "configs-api10"
    original = (configs / "lastConfig.xml").read_bytes()
    home = windows_path(win.home)
    before = tree_snapshot(root)
    win.oe_ok("configure", "--dry-run", "--python-home", home)
    check(tree_snapshot(root) == before, "configure --dry-run changed the GUI root")
    result = win.oe_ok("configure", "--python-home", home)
    # The first processor's python_home is replaced; the second, which names none, gets one at its end.
    attribute = b'python_home="' + home.encode() + b'"'
    expected = original.replace(OLD_HOME_ATTRIBUTE, attribute).replace(
        SECOND_PROCESSOR_END, SECOND_PROCESSOR_END[:-2] + b" " + attribute + b"/>"
    )
    for name in ("lastConfig.xml", "recoveryConfig.xml"):
        written = (configs / name).read_bytes()
        check(written == expected, f"{name}: not the original with only python_home changed")
        check((configs / f"{name}.oe-pyproc-backup").read_bytes() == original, f"{name}: backup differs")
        check(
            f"wrote {root_windows}\\configs-api10\\{name}" in result.stdout,
            f"configure's report:\n{result.stdout}",
        )
    record = json.loads((configs / "oe-pyproc.json").read_text(encoding="utf-8"))
    check(record["python_home"] == home and record["schema"] == 1, f"default Home file: {record}")
    again = win.oe_ok("configure", "--python-home", home)
    check("already use this Home; unchanged" in again.stdout, f"second configure:\n{again.stdout}")
    print(f"  configure (no --gui-root) edited {root_windows}\\configs-api10: CRLF kept, python_home only")


def check_new_script(win: Windows) -> None:
    folder = win.work / "scripts"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    where = windows_path(folder)
    win.oe_ok("new-script", "lowpass", "--template", "processor", "--dir", where)
    script = folder / "lowpass.py"
    check(script.is_file() and b"class PyProcessor" in script.read_bytes(), "new-script wrote no lowpass.py")
    original = script.read_bytes()
    win.oe_refused("--force", "new-script", "LowPass", "--dir", where)  # the same file on Windows
    check(script.read_bytes() == original and len(list(folder.iterdir())) == 1, "LowPass touched lowpass.py")
    win.oe_refused("already has", "new-script", "os", "--dir", where)
    win.oe_refused("is taken", "new-script", "numpy", "--dir", where)
    print("  new-script wrote lowpass.py; LowPass (same file here), os and numpy refused")


def check_run(win: Windows) -> None:
    """`oe-pyproc run` drives the Home's bin\\oe-pyproc-host.exe on a synthetic signal, writes a recording."""
    script = win.work / "scripts" / "lowpass.py"
    output = win.work / "run-output"
    shutil.rmtree(output, ignore_errors=True)
    home = windows_path(win.home)
    report = win.json_of(
        "run",
        windows_path(script),
        "--python-home",
        home,
        "--channels",
        "4",
        "--seconds",
        "1",
        "--output",
        windows_path(output),
        "--json",
    )
    check(report["ok"] and report["host"]["origin"] == "Home", f"run's report: {json.dumps(report)[:3000]}")
    check(report["samples_done"] == report["input"]["samples"] > 0, f"run processed {report['samples_done']}")
    data = sorted(output.rglob("continuous.dat"))
    check(len(data) == 1 and data[0].stat().st_size > 0, f"run --output wrote {sorted(output.rglob('*'))}")
    print(f"  run lowpass.py: {report['samples_done']} samples by {report['host']['path']}, {data[0].name}")


def check_running_gui(win: Windows, base: Path, home: str) -> None:
    """A process named open-ephys.exe (the Windows Python under that name) blocks configure and install."""
    folder = win.work / "fake-gui"
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(["cp", "-al", str(base), str(folder)], check=True)
    (folder / "python.exe").rename(folder / "Open-Ephys.exe")  # the name is compared without case
    environment = dict(win.environment)
    gui = subprocess.Popen(
        [WINE, str(folder / "Open-Ephys.exe"), "-c", "import time; print('up', flush=True); time.sleep(300)"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=environment,
        cwd=win.work,
    )
    try:
        assert gui.stdout is not None
        check(gui.stdout.readline().strip() == b"up", "the stand-in GUI process did not start")
        refused = win.oe_refused("running", "configure", "--python-home", home)
        check("Open-Ephys.exe" in refused.stderr + refused.stdout or "pid" in refused.stderr, refused.stderr)
        win.oe_refused("running", "install")
        doctor = win.json_of("doctor", "--json", codes=(0, 1))
        running = {f["id"]: f for f in doctor["findings"]}.get("gui.running")
        check(running is not None and running["status"] != "ok", f"doctor's gui.running: {running}")
    finally:
        gui.kill()
        gui.wait()
    print("  Open-Ephys.exe running (Toolhelp snapshot): configure and install refuse, doctor reports it")


def check_install_round_trip(win: Windows, root: Path, root_windows: str, adapter: Path) -> None:
    """install (no --prefix: the environment running oe-pyproc; no --gui-root) → doctor → uninstall leaves
    the GUI root byte for byte; then with an upstream plugin (named in another case) moved aside."""
    source = win.home / "Lib" / "oe-pyproc" / "plugins-api10" / "oe-pyproc"
    before = tree_snapshot(root)
    result = win.oe_ok("install")
    check(
        "oe-pyproc uninstall" in result.stdout,
        f"install's report has no uninstall reminder:\n{result.stdout}",
    )
    for name in PLUGIN_FILES:
        installed = root / "plugins-api10" / "oe-pyproc" / name
        check(installed.read_bytes() == (source / name).read_bytes(), f"{name} was not installed as it is")
    manifest = json.loads((root / "plugins-api10" / "oe-pyproc-manifest.json").read_text(encoding="utf-8"))
    check(manifest["source_prefix"].lower() == windows_path(win.home).lower(), f"manifest: {manifest}")
    check(
        sorted(f["path"] for f in manifest["files"]) == sorted(f"oe-pyproc/{n}" for n in PLUGIN_FILES),
        f"{manifest}",
    )
    doctor = win.json_of("doctor", "--json", codes=(0,))
    findings = {f["id"]: f for f in doctor["findings"]}
    for finding_id in ("plugin.installed", "plugin.home", "home.resolve"):
        if finding_id in findings:
            check(findings[finding_id]["status"] == "ok", f"doctor {finding_id}: {findings[finding_id]}")
    check(findings["plugin.installed"]["status"] == "ok", f"doctor: {findings.get('plugin.installed')}")
    errors = [f"{f['id']}: {f['message']}" for f in doctor["findings"] if f["status"] in ("error", "crash")]
    check(not errors, f"doctor after install: {errors}")
    win.oe_ok("uninstall", launcher=True)
    after = tree_snapshot(root)
    check(after == before, f"install + uninstall changed the GUI root: {tree_difference(before, after)}")
    print("  install → doctor (no errors) → uninstall: the GUI root is byte for byte as before")

    # The same root named as a user may type it: lower case, forward slashes.
    typed = root_windows.lower().replace("\\", "/")
    win.oe_ok("install", "--gui-root", typed)
    win.oe_ok("doctor", "--gui-root", typed)
    win.oe_ok("uninstall", "--gui-root", typed)
    after = tree_snapshot(root)
    check(after == before, f"round trip with --gui-root {typed}: {tree_difference(before, after)}")
    print(f"  the same with --gui-root {typed}")

    upstream = root / "plugins-api10" / "Python-Processor.DLL"
    shutil.copy(adapter, upstream)
    before = tree_snapshot(root)
    win.oe_refused("--replace-upstream", "install")
    check(tree_snapshot(root) == before, "a refused install changed the GUI root")
    win.oe_ok("install", "--replace-upstream")
    check(not upstream.exists(), "upstream's plugin was not moved aside")
    win.oe_ok("uninstall")
    after = tree_snapshot(root)
    check(after == before, f"round trip with upstream moved aside: {tree_difference(before, after)}")
    upstream.unlink()
    print(
        "  upstream Python-Processor.DLL: refused, moved aside with --replace-upstream, put back by uninstall"
    )


def check_long_paths(win: Windows, adapter: Path) -> None:
    """A GUI root so deep that the GUI's files pass MAX_PATH: a clear refusal, nothing written."""
    base = win.work / "deep"
    shutil.rmtree(base, ignore_errors=True)
    prefix_length = len(windows_path(base)) + 1
    root = base / ("d" * (MAX_PATH - 20 - prefix_length))
    make_gui_root(root, adapter, win.work / "gui-scripts")
    root_windows = windows_path(root)
    before = tree_snapshot(base)
    for command in (
        ("configure", "--python-home", windows_path(win.home), "--gui-root", root_windows),
        ("install", "--gui-root", root_windows),
    ):
        win.oe_refused("260", *command)
        check(tree_snapshot(base) == before, f"{command[0]} with a deep GUI root changed it")
    print(f"  GUI root of {len(root_windows)} characters: configure and install refuse (MAX_PATH); unchanged")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument(
        "--home", type=Path, required=True, help="the Windows Python with oe-pyproc and the plugin"
    )
    parser.add_argument("--base", type=Path, required=True, help="the pristine Windows Python with numpy")
    parser.add_argument("--numpy-wheel", type=Path, required=True)
    parser.add_argument("--embeddable", type=Path, required=True, help="python.org's embeddable 3.10")
    parser.add_argument("--python312", type=Path, required=True, help="a Windows CPython 3.12")
    parser.add_argument("--adapter", type=Path, required=True, help="a stand-in python-processor.dll")
    args = parser.parse_args(argv)
    win = Windows(args.home, args.work)
    local_windows, local = per_user_install_dir(win)
    root, root_windows = local / "Open Ephys", f"{local_windows}\\Open Ephys"
    shutil.rmtree(root, ignore_errors=True)
    steps = [
        ("the launcher and the console", lambda: check_launcher_and_console(win)),
        ("homes finds the Windows Homes", lambda: check_discovery(win, args.base)),
        ("one Home, many spellings", lambda: check_spellings(win)),
    ]
    layouts: dict[str, tuple[Path, bool]] = {}

    def layouts_step() -> None:
        layouts.update(make_layouts(win, args.base, args.numpy_wheel, args.embeddable, args.python312))
        check_verdicts_agree(win, layouts)

    steps += [
        ("the CLI and the loader agree on Windows Home layouts", layouts_step),
        ("cp1252 console", lambda: check_console_encodings(win, layouts)),
        (
            "configure a GUI root in %LOCALAPPDATA%",
            lambda: (
                make_gui_root(root, args.adapter, args.work / "gui-scripts"),
                check_configure(win, root, root_windows),
            ),
        ),
        ("new-script", lambda: check_new_script(win)),
        ("run", lambda: check_run(win)),
        ("a running GUI", lambda: check_running_gui(win, args.base, windows_path(args.home))),
        (
            "install / uninstall round trip",
            lambda: check_install_round_trip(win, root, root_windows, args.adapter),
        ),
        ("paths past MAX_PATH", lambda: check_long_paths(win, args.adapter)),
    ]
    for title, step in steps:
        print(f"--- {title}")
        try:
            step()
        except CheckFailed as failure:
            print(f"24-windows-cli: FAILED ({title}): {failure}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
