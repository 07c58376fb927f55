"""Where the Open Ephys GUI keeps its saved state and plugins (DESIGN §2), and whether it is running.

Linux paths are verified on this machine's kind; the Windows ones (%LOCALAPPDATA%\\Open Ephys, the running
GUI) run under wine in CI (24-windows-cli), not on Windows itself; the macOS branches follow the GUI's
source and JUCE's documented behaviour but are *unverified* here.
"""

from __future__ import annotations

import csv
import io
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import read_regular_bytes

DEFAULT_API = 10  # the plugin API of GUI 1.0.x, `--api`'s default
GUI_EXECUTABLE_NAMES = ("open-ephys", "open-ephys.exe", "Open Ephys GUI")
DEV_BUILD_MARKER = "plugin-GUI/Build/"


def _system(system: str | None) -> str:
    return system or platform.system()


def _xdg_config_home(home: Path) -> Path:
    """JUCE's XDG_CONFIG_HOME: from ~/.config/user-dirs.dirs (not the environment), else ~/.config.

    Like JUCE, "$HOME" in the value is replaced, quotes are dropped, and the value is used only if it
    names an existing folder.
    """
    dirs_file = home / ".config" / "user-dirs.dirs"
    try:
        lines = read_regular_bytes(dirs_file).decode("utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    for raw in lines:
        line = raw.lstrip()
        if not line.startswith("XDG_CONFIG_HOME"):
            continue
        value = line.replace("$HOME", str(home)).split("=", 1)[-1].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        candidate = Path(value)
        if candidate.is_dir():
            return candidate
    return home / ".config"


def default_gui_root(
    system: str | None = None,
    *,
    api: int = 10,
    home: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Path:
    """The GUI's saved-state root for `system` ("Linux", "Darwin", "Windows"; default: this one).

    Windows: %LOCALAPPDATA%\\Open Ephys (API 8, GUI 0.6.x: C:\\ProgramData\\Open Ephys).
    macOS: ~/Library/Application Support/open-ephys. Linux: <XDG_CONFIG_HOME as JUCE reads it>/open-ephys.
    """
    name = _system(system)
    env = os.environ if environ is None else environ
    user_home = home if home is not None else Path.home()
    if name == "Windows":
        if api <= 8:
            return Path(env.get("PROGRAMDATA", r"C:\ProgramData")) / "Open Ephys"
        local = env.get("LOCALAPPDATA")
        base = Path(local) if local else user_home / "AppData" / "Local"
        return base / "Open Ephys"
    if name == "Darwin":
        return user_home / "Library" / "Application Support" / "open-ephys"
    return _xdg_config_home(user_home) / "open-ephys"


def is_dev_build_executable(executable: Path, system: str | None = None) -> bool:
    """A development build (path contains `plugin-GUI/Build/`, never on macOS) keeps state beside itself."""
    if _system(system) == "Darwin":
        return False
    return DEV_BUILD_MARKER in Path(executable).as_posix()


@dataclass(frozen=True)
class GuiLayout:
    """The GUI's folders for one plugin API version under one saved-state root."""

    root: Path
    api: int = 10
    dev_build: bool = False  # configs directly in root, plugins/ and shared/ beside them

    @property
    def configs_dir(self) -> Path:
        return self.root if self.dev_build else self.root / f"configs-api{self.api}"

    @property
    def plugins_dir(self) -> Path:
        return self.root / ("plugins" if self.dev_build else f"plugins-api{self.api}")

    @property
    def shared_dir(self) -> Path:
        return self.root / ("shared" if self.dev_build else f"shared-api{self.api}")

    @property
    def last_config(self) -> Path:
        return self.configs_dir / "lastConfig.xml"

    @property
    def recovery_config(self) -> Path:
        return self.configs_dir / "recoveryConfig.xml"

    @property
    def window_state(self) -> Path:
        return self.configs_dir / "windowState.xml"

    @property
    def activity_log(self) -> Path:
        return self.configs_dir / "activity.log"

    @property
    def default_home_file(self) -> Path:
        """DESIGN §5: the default Home the plugin uses when a chain names none."""
        return self.configs_dir / "oe-pyproc.json"

    @property
    def installed_plugins_xml(self) -> Path:
        return self.plugins_dir / "installedPlugins.xml"

    @property
    def manifest(self) -> Path:
        """DESIGN §5: what `oe-pyproc install` put into the plugin folder."""
        return self.plugins_dir / "oe-pyproc-manifest.json"

    def exists(self) -> bool:
        return self.root.is_dir()


def refuse_another_apis_root(layout: GuiLayout) -> None:
    """UserFacingError when the root holds folders of other plugin APIs but none of this one: a GUI 0.6.x
    root used without --api 8 (or the reverse). What we would write there is where that GUI never looks.
    A root with no API folder at all is allowed (the GUI has not made them yet)."""
    if layout.dev_build or not layout.root.is_dir():
        return
    if any(p.is_dir() for p in (layout.configs_dir, layout.plugins_dir, layout.shared_dir)):
        return
    try:
        names = [p.name for p in layout.root.iterdir() if p.is_dir()]
    except OSError:
        return
    apis = sorted(
        {
            int(m.group(1))
            for m in (re.fullmatch(r"(?:configs|plugins|shared)-api(\d+)", n) for n in names)
            if m
        }
    )
    if not apis:
        return
    gui = " (GUI 0.6.x)" if apis[-1] == 8 else " (GUI 1.0.x)" if apis[-1] == 10 else ""
    raise UserFacingError(
        f"{layout.root} has folders of plugin API {', '.join(map(str, apis))} but none of API {layout.api}; "
        "nothing was written",
        hint=f"Run again with --api {apis[-1]}{gui}.",
    )


def resolve_layout(
    gui_root: Path | None = None, api: int = 10, gui_exe: Path | None = None, system: str | None = None
) -> GuiLayout:
    """The layout commands use: --gui-root if given, else a dev build's folder, else the platform default.

    A --gui-root that exists but is not a folder is a UserFacingError; a missing one is allowed (the GUI
    may not have run yet) and callers report it.
    """
    if gui_root is not None:
        root = Path(gui_root).expanduser()
        if root.exists() and not root.is_dir():
            raise UserFacingError(f"--gui-root {root} is a file; it must be the GUI's saved-state folder")
        # The GUI itself decides by this path test (MainWindow: configsDir contains "plugin-GUI/Build").
        return GuiLayout(root.absolute(), api, dev_build=DEV_BUILD_MARKER in root.absolute().as_posix() + "/")
    if gui_exe is not None and is_dev_build_executable(gui_exe, system):
        return GuiLayout(Path(gui_exe).absolute().parent, api, dev_build=True)
    return GuiLayout(default_gui_root(system, api=api), api)


@dataclass(frozen=True)
class RunningProcess:
    """A process that looks like the Open Ephys GUI; `verified` is False for the ps/tasklist best effort."""

    pid: int
    name: str
    executable: Path | None
    verified: bool
    # The saved-state root this GUI uses (dev build: its folder; else the default root of the process's
    # HOME). None when it cannot be told (then it is assumed to be any root).
    gui_root: Path | None = None


def _is_gui_name(name: str) -> bool:
    return name in GUI_EXECUTABLE_NAMES or name.lower() in ("open-ephys", "open-ephys.exe")


def _scan_proc(proc: Path) -> list[RunningProcess]:
    found: list[RunningProcess] = []
    own_pid = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == own_pid:
            continue
        try:
            target = os.readlink(entry / "exe")
        except OSError:
            # Not ours to read (or a kernel thread): fall back to the command name.
            try:
                comm = (entry / "comm").read_text(errors="replace").strip()
            except OSError:
                continue
            if _is_gui_name(comm):
                found.append(RunningProcess(int(entry.name), comm, None, verified=False))
            continue
        target = target.removesuffix(" (deleted)")
        name = Path(target).name
        if _is_gui_name(name):
            root = _process_gui_root(entry, Path(target))
            if root is None and not entry.exists():
                continue  # it exited while we looked: it holds no settings open
            found.append(RunningProcess(int(entry.name), name, Path(target), verified=True, gui_root=root))
    return found


def _process_gui_root(proc_entry: Path, executable: Path) -> Path | None:
    """Which saved-state root a running GUI (Linux) uses: a dev build's folder, else its HOME's default."""
    if is_dev_build_executable(executable, "Linux"):
        return executable.parent
    try:
        environ = (proc_entry / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"HOME="):
            return default_gui_root("Linux", home=Path(os.fsdecode(item[5:])))
    return None


def _scan_ps() -> list[RunningProcess]:  # macOS, *unverified*
    try:
        out = subprocess.run(
            ["ps", "-axo", "pid=,comm="], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.splitlines():
        pid_text, _, command = line.strip().partition(" ")
        name = Path(command.strip()).name
        if pid_text.isdigit() and _is_gui_name(name):
            found.append(RunningProcess(int(pid_text), name, Path(command.strip()), verified=False))
    return found


def _scan_toolhelp() -> list[RunningProcess] | None:
    """Windows: the processes of a Toolhelp snapshot named like the GUI, each with its executable's full
    path (so install can read the GUI's architecture); None when no snapshot can be taken. Run under wine
    in CI (24-windows-cli), where tasklist prints nothing into a pipe."""
    if sys.platform != "win32":
        return None
    import ctypes
    from ctypes import wintypes

    class ProcessEntry(ctypes.Structure):  # PROCESSENTRY32W
        _fields_ = [
            ("dwSize", wintypes.DWORD),
            ("cntUsage", wintypes.DWORD),
            ("th32ProcessID", wintypes.DWORD),
            ("th32DefaultHeapID", ctypes.c_size_t),
            ("th32ModuleID", wintypes.DWORD),
            ("cntThreads", wintypes.DWORD),
            ("th32ParentProcessID", wintypes.DWORD),
            ("pcPriClassBase", wintypes.LONG),
            ("dwFlags", wintypes.DWORD),
            ("szExeFile", wintypes.WCHAR * 260),
        ]

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateToolhelp32Snapshot.restype = wintypes.HANDLE
    kernel32.CreateToolhelp32Snapshot.argtypes = [wintypes.DWORD, wintypes.DWORD]
    for function in (kernel32.Process32FirstW, kernel32.Process32NextW):
        function.restype = wintypes.BOOL
        function.argtypes = [wintypes.HANDLE, ctypes.POINTER(ProcessEntry)]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    kernel32.QueryFullProcessImageNameW.restype = wintypes.BOOL
    kernel32.QueryFullProcessImageNameW.argtypes = [
        wintypes.HANDLE,
        wintypes.DWORD,
        wintypes.LPWSTR,
        ctypes.POINTER(wintypes.DWORD),
    ]
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]

    def image_path(pid: int) -> Path | None:
        process = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not process:
            return None  # another user's process, or gone
        try:
            buffer = ctypes.create_unicode_buffer(32768)
            size = wintypes.DWORD(len(buffer))
            if not kernel32.QueryFullProcessImageNameW(process, 0, buffer, ctypes.byref(size)):
                return None
            return Path(buffer.value)
        finally:
            kernel32.CloseHandle(process)

    snapshot = kernel32.CreateToolhelp32Snapshot(0x2, 0)  # TH32CS_SNAPPROCESS
    if not snapshot or snapshot == wintypes.HANDLE(-1).value:
        return None
    found: list[RunningProcess] = []
    try:
        entry = ProcessEntry()
        entry.dwSize = ctypes.sizeof(ProcessEntry)
        more = kernel32.Process32FirstW(snapshot, ctypes.byref(entry))
        while more:
            pid, name = int(entry.th32ProcessID), str(entry.szExeFile)
            if pid != os.getpid() and _is_gui_name(name):
                executable = image_path(pid)
                dev_root = (
                    executable.parent
                    if executable is not None and is_dev_build_executable(executable, "Windows")
                    else None
                )
                found.append(RunningProcess(pid, name, executable, executable is not None, dev_root))
            more = kernel32.Process32NextW(snapshot, ctypes.byref(entry))
    finally:
        kernel32.CloseHandle(snapshot)
    return found


def _scan_tasklist() -> list[RunningProcess]:  # Windows, when no Toolhelp snapshot can be taken
    try:
        out = subprocess.run(
            ["tasklist", "/FO", "CSV", "/NH"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for row in csv.reader(io.StringIO(out)):
        if len(row) >= 2 and _is_gui_name(row[0]) and row[1].isdigit():
            found.append(RunningProcess(int(row[1]), row[0], None, verified=False))
    return found


def running_gui_processes(proc_root: Path = Path("/proc")) -> list[RunningProcess]:
    """Processes whose executable is named like the GUI (`open-ephys`).

    Linux reads /proc; Windows takes a Toolhelp snapshot (run under wine); macOS asks ps (best effort,
    *unverified*)."""
    if sys.platform.startswith("linux") and proc_root.is_dir():
        return _scan_proc(proc_root)
    if sys.platform == "win32":
        snapshot = _scan_toolhelp()
        return _scan_tasklist() if snapshot is None else snapshot
    return _scan_ps()


def running_gui_processes_for(layout: GuiLayout) -> list[RunningProcess]:
    """Running GUIs that may be using `layout`'s saved-state root (those whose root is unknown included).

    A GUI of another user or another dev build writes other files, so it does not block edits here."""

    def same(a: Path, b: Path) -> bool:
        return os.path.realpath(a) == os.path.realpath(b)

    return [p for p in running_gui_processes() if p.gui_root is None or same(p.gui_root, layout.root)]


def executable_plugin_dirs(gui_exe: Path, system: str | None = None) -> list[Path]:
    """Plugin folders the GUI searches before plugins-api<N> (GUI 1.0 PluginManager): `plugins/` beside
    the executable (Linux, Windows) or the app's Contents/PlugIns (macOS, *unverified* here)."""
    gui_exe = Path(gui_exe)
    if _system(system) == "Darwin" or gui_exe.suffix == ".app":
        app = (
            gui_exe
            if gui_exe.suffix == ".app"
            else next((p for p in gui_exe.parents if p.suffix == ".app"), None)
        )
        return [app / "Contents" / "PlugIns"] if app is not None else []
    return [gui_exe.parent / "plugins"]


def gui_binary_path(gui_exe: Path) -> Path:
    """The Mach-O inside an .app bundle (Contents/MacOS/<name>), else `gui_exe` itself."""
    if gui_exe.suffix == ".app" and gui_exe.is_dir():
        macos = gui_exe / "Contents" / "MacOS"
        candidates = sorted(p for p in macos.iterdir() if p.is_file()) if macos.is_dir() else []
        preferred = [p for p in candidates if p.name == gui_exe.stem]
        if preferred or candidates:
            return (preferred or candidates)[0]
    return gui_exe


def gui_process_arch(gui_exe: Path, host_machine: str | None = None) -> str | None:
    """The architecture the GUI process runs as, from its binary: the one slice of a thin binary; for a
    universal binary the host's own architecture when it is among the slices (under Rosetta the GUI may
    run as x86_64 instead: *unverified*, pass --gui-exe of the slice you run). None if unreadable."""
    from oe_pyproc_setup.binfmt import normalize_machine, read_binary_info

    info = read_binary_info(gui_binary_path(gui_exe))
    if info is None:
        return None
    if len(info.archs) == 1:
        return info.archs[0]
    host = normalize_machine(host_machine or platform.machine())
    return host if host in info.archs else None
