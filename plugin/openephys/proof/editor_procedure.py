"""Drive the Python Processor's editor in the real Open Ephys GUI under Xvfb, as a person would.

Needs a built GUI (v1.0.x; nothing here builds it), the adapter built against that GUI's headers, a Python
Home with numpy, and Xvfb, xdotool, ImageMagick (``import``, ``convert``), tesseract (reads text back from
the screenshots) and PulseAudio with ``libasound2-plugins`` (the GUI needs a paced audio device). The GUI
runs in a throwaway HOME with its window on a virtual display, never ``--headless``; the HTTP API only adds
the File Readers and the Merger, makes the timed ``script_path`` changes and reads state back. Every editor
step is a mouse click or typing:

1. the GUI starts with its window; the HTTP API answers;
2. a Python Processor is dragged from the Processor List into the chain after a File Reader;
3. Home... shows the Homes found on the machine, then "Other folder..." opens the GUI's folder chooser;
   the Home's path is typed into it;
4. a Home whose check takes ``--slow-seconds`` (8 s): ``PUT .../parameters/script_path``, ``GET /api/status``
   and the ``status`` config message answer in under 1 s while the editor shows "checking Home...", and the
   script then loads;
5. the same for a script whose import takes 3 s ("loading script...");
6. Script... opens the GUI's file chooser; the script's path is typed into it: the script loads;
7. the GUI's play button starts acquisition: the editor shows the time per block;
8. the script is edited and Reload pressed (during acquisition): the new version runs;
9. a script that raises: the editor shows it faulted and the exception;
10. Error... opens the full traceback;
11. the error policy combo box is switched to "continue";
12. with two File Readers through a Merger, the editor's stream table selects the second stream: the
    script is re-initialised for it;
13. the GUI quits through the HTTP API;
14. in a new GUI process, acquisition starts during an 8 s Home check: no script call until it loads;
15. in another, ``/api/quit`` during the check: the GUI exits at once with status 0.

Each step takes a screenshot (``<out>/shots``) and checks what it shows: text read from the screenshot
(tesseract), the processor's ``status`` config message, the GUI's ``activity.log`` and files the test
script writes. Cropped editor pictures for the README land in ``<out>/editor-*.png``.

Usage:
    OE_GUI_BIN=/path/to/open-ephys python plugin/openephys/proof/editor_procedure.py \\
        --home /path/to/venv-with-numpy --plugin-build build/gui [--out DIR] [--slow-seconds 8]

Exit status: 0 when every step passed, 1 when a step failed, 2 on bad input or a missing tool.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_PORT = 37497
API = f"http://127.0.0.1:{API_PORT}/api"
SCREEN_WIDTH, SCREEN_HEIGHT = 1600, 1000
PLUGIN_FILES = ("python-processor.so", "oe-pyproc-plugin.json")
TOOLS = ("Xvfb", "xdotool", "import", "convert", "tesseract", "pulseaudio")
# The limit issue 13 sets for the GUI's answers while a Home is being checked.
ANSWER_LIMIT_S = 1.0
SLOW_IMPORT_S = 3.0  # how long the slow script's import sleeps


class ProcedureError(Exception):
    """A step's check failed: the message says what was expected and what was seen."""


class UsageError(Exception):
    """Bad input or a missing tool: nothing was started."""


# ---------------------------------------------------------------------------------------------------------
# The throwaway session: HOME, PulseAudio null sink, Xvfb, the GUI
# ---------------------------------------------------------------------------------------------------------


@dataclass
class Session:
    """Everything one run owns: its folder, its processes and what the steps learn."""

    root: Path
    out: Path
    display: str
    gui_bin: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    gui: subprocess.Popen[bytes] | None = None
    home_name: str = "home"  # a later GUI process gets a fresh HOME of its own
    shot_count: int = 0
    numbers: dict[str, Any] = field(default_factory=dict)

    @property
    def home_dir(self) -> Path:
        return self.root / self.home_name

    @property
    def config_dir(self) -> Path:
        return self.home_dir / ".config" / "open-ephys" / "configs-api10"

    @property
    def activity_log(self) -> Path:
        return self.config_dir / "activity.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            HOME=str(self.home_dir),
            XDG_RUNTIME_DIR=str(self.root / "run"),
            DISPLAY=self.display,
        )
        env.pop("PYTHONHOME", None)
        return env

    def start(self, command: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (self.out / log_name).open("wb")
        process = subprocess.Popen(
            command, env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.root
        )
        self.processes.append(process)
        return process

    def run(self, command: list[str], timeout: float = 30) -> str:
        result = subprocess.run(command, env=self.env(), capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise ProcedureError(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def stop_all(self) -> None:
        # Our own processes only, newest first (the GUI before the display and the sound server).
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def free_display_number() -> str:
    for number in range(77, 120):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return f":{number}"
    raise UsageError("no free X display number between :77 and :119")


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def gui_folder(session: Session, gui_bin: Path) -> Path:
    """The GUI as run here: a copy outside ``plugin-GUI/Build/`` so it reads plugins from ``~/.config``."""
    if "plugin-GUI/Build/" not in str(gui_bin.resolve()):
        return gui_bin
    copy = session.root / "gui"
    copy.mkdir()
    source = gui_bin.resolve().parent
    shutil.copy2(source / gui_bin.name, copy / gui_bin.name)
    for folder in ("resources", "shared", "configs"):
        if (source / folder).is_dir():
            shutil.copytree(source / folder, copy / folder)
    return copy / gui_bin.name


def prepare_home(session: Session, plugin_build: Path) -> None:
    home = session.home_dir
    (session.root / "run").mkdir(mode=0o700, exist_ok=True)
    home.mkdir()
    first_pulse_config = session.root / "home" / ".config" / "pulse"  # the sound server's cookie
    if first_pulse_config.is_dir() and session.home_name != "home":
        shutil.copytree(first_pulse_config, home / ".config" / "pulse")
    (home / ".asoundrc").write_text("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
    plugin_dir = home / ".config" / "open-ephys" / "plugins-api10" / "oe-pyproc"
    plugin_dir.mkdir(parents=True)
    for name in PLUGIN_FILES:
        shutil.copy2(plugin_build / name, plugin_dir / name)
    for bridge in plugin_build.glob("oe_pyproc_bridge_cp3*.bridge"):
        shutil.copy2(bridge, plugin_dir / bridge.name)


def start_sound_and_display(session: Session) -> None:
    session.start(
        [
            "pulseaudio",
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "-L",
            "module-null-sink",
            "-L",
            "module-native-protocol-unix",
            "-L",
            "module-always-sink",
        ],
        "pulseaudio.log",
    )
    session.start(
        ["Xvfb", session.display, "-screen", "0", f"{SCREEN_WIDTH}x{SCREEN_HEIGHT}x24", "-nolisten", "tcp"],
        "xvfb.log",
    )
    wait_for(lambda: Path(f"/tmp/.X11-unix/X{session.display[1:]}").exists(), 20, "Xvfb's socket")
    wait_for(lambda: (session.root / "run" / "pulse" / "native").exists(), 20, "PulseAudio's socket")


def wait_for(condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> float:
    """Poll until ``condition`` holds; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(interval)
    raise ProcedureError(f"timed out after {timeout:.0f} s waiting for {what}")


# ---------------------------------------------------------------------------------------------------------
# HTTP API
# ---------------------------------------------------------------------------------------------------------


def http(
    method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30
) -> tuple[float, Any]:
    """One request to the GUI's HTTP API: (seconds it took, decoded JSON or text)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(API + path, data=data, method=method)
    start = time.monotonic()
    with urllib.request.urlopen(request, timeout=timeout) as response:
        raw = response.read().decode("utf-8", "replace")
    elapsed = time.monotonic() - start
    try:
        return elapsed, json.loads(raw)
    except json.JSONDecodeError:
        return elapsed, raw


def api_answers() -> bool:
    try:
        http("GET", "/status", timeout=2)
    except (urllib.error.URLError, OSError):
        return False
    return True


def processors() -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = http("GET", "/processors")[1]["processors"]
    return listed


def processor_status(node_id: int) -> dict[str, Any]:
    """The Python Processor's ``status`` config message (JSON schema 1, plugin/openephys/README.md)."""
    _, answer = http("PUT", f"/processors/{node_id}/config", {"text": "status"})
    text = answer.get("info", "") if isinstance(answer, dict) else str(answer)
    try:
        status: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProcedureError(f"the status config message is not JSON: {text!r}") from error
    return status


# ---------------------------------------------------------------------------------------------------------
# Screen: screenshots, text read back with tesseract, mouse and keyboard with xdotool
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    width: int
    height: int

    @property
    def center(self) -> tuple[int, int]:
        return self.left + self.width // 2, self.top + self.height // 2

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height


@dataclass(frozen=True)
class Word:
    text: str
    box: Box


OCR_SCALE = 3  # the GUI's 11-12 px fonts are read reliably only enlarged


def screenshot(session: Session, name: str) -> Path:
    session.shot_count += 1
    path = session.out / "shots" / f"{session.shot_count:02d}-{name}.png"
    session.run(["import", "-window", "root", str(path)])
    return path


def read_words(session: Session, image: Path, region: Box | None = None, bright: bool = False) -> list[Word]:
    """Words tesseract finds in ``image`` (or a region of it), with boxes in screen coordinates.

    ``bright``: only text brighter than its background (white titles on coloured bars), which tesseract
    misses in plain grey.
    """
    enlarged = image.with_suffix(".ocr.png")
    crop = (
        []
        if region is None
        else ["-crop", f"{region.width}x{region.height}+{region.left}+{region.top}", "+repage"]
    )
    contrast = ["-threshold", "75%", "-negate"] if bright else []
    session.run(
        [
            "convert",
            str(image),
            *crop,
            "-colorspace",
            "Gray",
            *contrast,
            "-resize",
            f"{OCR_SCALE * 100}%",
            str(enlarged),
        ]
    )
    tsv = session.run(["tesseract", str(enlarged), "-", "--psm", "11", "tsv"], timeout=120)
    enlarged.unlink()
    offset_x, offset_y = (region.left, region.top) if region else (0, 0)
    words = []
    for line in tsv.splitlines()[1:]:
        columns = line.split("\t")
        if len(columns) < 12 or not columns[11].strip():
            continue
        left, top, width, height = (int(value) // OCR_SCALE for value in columns[6:10])
        words.append(Word(columns[11].strip(), Box(left + offset_x, top + offset_y, width, height)))
    return words


def text_of(words: list[Word]) -> str:
    return " ".join(word.text for word in words)


def normalized(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def find_phrase(words: list[Word], phrase: str, below: int = 0) -> Box | None:
    """The box around consecutive words reading ``phrase`` (letters and digits compared, case-insensitive)."""
    target = normalized(phrase)
    for start in range(len(words)):
        joined = ""
        for end in range(start, min(start + 8, len(words))):
            joined += normalized(words[end].text)
            if not target.startswith(joined):
                break
            if joined == target and words[start].box.top >= below:
                boxes = [word.box for word in words[start : end + 1]]
                left, top = min(b.left for b in boxes), min(b.top for b in boxes)
                return Box(left, top, max(b.right for b in boxes) - left, max(b.bottom for b in boxes) - top)
    return None


def require_phrase(words: list[Word], phrase: str, where: str, below: int = 0) -> Box:
    box = find_phrase(words, phrase, below)
    if box is None:
        raise ProcedureError(f"{where}: {phrase!r} not found on screen; read: {text_of(words)[:600]!r}")
    return box


def click(session: Session, x: int, y: int, button: int = 1) -> None:
    session.run(["xdotool", "mousemove", "--sync", str(x), str(y)])
    time.sleep(0.15)
    session.run(["xdotool", "click", str(button)])
    time.sleep(0.3)


def drag(session: Session, start: tuple[int, int], end: tuple[int, int]) -> None:
    """Press, move in small steps (JUCE starts a drag only after movement), release."""
    session.run(["xdotool", "mousemove", "--sync", str(start[0]), str(start[1]), "mousedown", "1"])
    steps = 20
    for step in range(1, steps + 1):
        x = start[0] + (end[0] - start[0]) * step // steps
        y = start[1] + (end[1] - start[1]) * step // steps
        session.run(["xdotool", "mousemove", "--sync", str(x), str(y)])
        time.sleep(0.05)
    time.sleep(0.3)
    session.run(["xdotool", "mouseup", "1"])
    time.sleep(0.5)


def type_text(session: Session, text: str) -> None:
    session.run(["xdotool", "type", "--delay", "30", text], timeout=120)


def key(session: Session, name: str) -> None:
    session.run(["xdotool", "key", name])
    time.sleep(0.3)


def window_ids(session: Session, name: str) -> list[str]:
    result = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", name],
        env=session.env(),
        capture_output=True,
        text=True,
    )
    return result.stdout.split()


def wait_for_window(session: Session, name: str, timeout: float) -> str:
    """The id of a visible window whose title matches ``name`` (a regular expression), once there is one."""
    found: list[str] = []

    def shown() -> bool:
        found[:] = window_ids(session, name)
        return bool(found)

    wait_for(shown, timeout, f"the window {name!r}")
    return found[-1]


def window_box(session: Session, window: str) -> Box:
    values = dict(
        line.split("=", 1)
        for line in session.run(["xdotool", "getwindowgeometry", "--shell", window]).splitlines()
    )
    return Box(int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"]))


# ---------------------------------------------------------------------------------------------------------
# The test script the steps load, edit and break
# ---------------------------------------------------------------------------------------------------------

TEST_SCRIPT = '''"""Written by editor_procedure.py, version {version}: one marker line per __init__."""

import json

MARKER = {marker!r}
VERSION = {version}


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        with open(MARKER, "a", encoding="utf-8") as marker:
            line = {{"version": VERSION, "channels": num_channels, "rate": sample_rate}}
            marker.write(json.dumps(line) + "\\n")
        self.blocks = 0

    def process(self, data):
        self.blocks += 1
        {raise_line}

    def start_acquisition(self):
        pass

    def stop_acquisition(self):
        pass

    def start_recording(self, recording_dir):
        pass

    def stop_recording(self):
        pass

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        pass

    def handle_spike(self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id,
                     spike_data):
        pass
'''

FAULT_TEXT = "procedure fault in block"


def write_test_script(path: Path, marker: Path, version: int, raises: bool) -> None:
    raise_line = f'raise ValueError(f"{FAULT_TEXT} {{self.blocks}}")' if raises else "data *= 1.0"
    temporary = path.with_suffix(".tmp")
    temporary.write_text(TEST_SCRIPT.format(version=version, marker=str(marker), raise_line=raise_line))
    temporary.replace(path)


def marker_lines(marker: Path) -> list[dict[str, Any]]:
    if not marker.exists():
        return []
    return [json.loads(line) for line in marker.read_text().splitlines() if line.strip()]


def make_slow_home(real_home: Path, folder: Path, seconds: float) -> Path:
    """A venv beside the real one whose ``bin/python3`` sleeps first: its Home check takes ``seconds``.

    The same trick as plugin/tests/test_adapter_slow_home.cpp: the real venv's pyvenv.cfg and lib/, and a
    wrapper that runs the venv's own python3 (so numpy is found) after the delay.
    """
    home = folder / "slow-home"
    (home / "bin").mkdir(parents=True)
    shutil.copy2(real_home / "pyvenv.cfg", home / "pyvenv.cfg")
    (home / "lib").symlink_to((real_home / "lib").resolve(), target_is_directory=True)
    wrapper = home / "bin" / "python3"
    wrapper.write_text(
        f"#!/bin/sh\nsleep {seconds}\nexec '{(real_home / 'bin' / 'python3').absolute()}' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    return home


# ---------------------------------------------------------------------------------------------------------
# Where things are in GUI v1.0.1 (main window at 0,0 resized to the screen). Buttons that are icons, and
# widgets tesseract cannot read reliably (JUCE's chooser, the editor's small buttons), are placed from the
# editor's title, which it reads; every click's effect is then checked through the HTTP API or the log.
# ---------------------------------------------------------------------------------------------------------

PLAY_BUTTON = (SCREEN_WIDTH - 281, 46)
CONSOLE_CLEAR_BUTTON = (SCREEN_WIDTH - 77, 90)
PROCESSOR_LIST = Box(0, 55, 210, 360)
EDITOR_ROW = Box(30, 795, 1560, 160)  # the signal chain's editors
TITLE_OFFSET = (36, 5)  # an editor's title word ("PYTHON", "MERGER") from the editor's top-left corner
EDITOR_SIZE = (376, 136)
EDITOR_POINTS = {
    "Script...": (41, 40),
    "Reload": (102, 40),
    "Home...": (160, 40),
    "Error...": (36, 111),
    "policy": (246, 31),
    "drawer": (364, 70),  # opens the stream selector table to the editor's right
    "second stream": (414, 78),  # the table's second row
}
MERGER_PATH_B = (37, 100)
CHOOSER_FILE_BOX = (0, -65)  # from the chooser window's bottom centre
CHOOSER_OPEN_BUTTON = (-56, -24)  # from its bottom-right corner


@dataclass
class Procedure:
    """State the steps share: the processor's id, the scripts, the session."""

    session: Session
    home: Path
    slow_seconds: float
    node_id: int = 0
    reader_id: int = 0
    script: Path = Path()
    marker: Path = Path()

    def read_screen(
        self, name: str, region: Box | None = None, bright: bool = False
    ) -> tuple[Path, list[Word]]:
        shot = screenshot(self.session, name)
        return shot, read_words(self.session, shot, region, bright)

    def editor_origin(self, title: str = "PYTHON", name: str = "locate-editor") -> tuple[int, int]:
        """The top-left corner of the editor whose title word is ``title`` (read from a new screenshot)."""
        return self.origin_in(screenshot(self.session, name), title)

    def origin_in(self, shot: Path, title: str) -> tuple[int, int]:
        words = read_words(self.session, shot, EDITOR_ROW, bright=True)
        box = require_phrase(words, title, f"the {title} editor's title")
        return box.left - TITLE_OFFSET[0], box.top - TITLE_OFFSET[1]

    def click_editor(self, point: str, step: str) -> None:
        x, y = self.editor_origin(name=f"{step}-before")
        click(self.session, x + EDITOR_POINTS[point][0], y + EDITOR_POINTS[point][1])

    def editor_text(self, name: str) -> tuple[Path, str, Box]:
        """One screenshot, and the text tesseract reads in the Python Processor's editor on it."""
        shot = screenshot(self.session, name)
        x, y = self.origin_in(shot, "PYTHON")
        box = Box(x - 2, y - 2, EDITOR_SIZE[0] + 4, EDITOR_SIZE[1] + 4)
        return shot, text_of(read_words(self.session, shot, box)), box

    def crop_editor(self, shot: Path, box: Box, name: str) -> Path:
        return self.crop_region(shot, box, f"editor-{name}")

    def crop_region(self, shot: Path, box: Box, name: str) -> Path:
        """A small PNG of part of a screenshot (64 colours), for the README."""
        target = self.session.out / f"{name}.png"
        geometry = f"{box.width}x{box.height}+{box.left}+{box.top}"
        self.session.run(
            ["convert", str(shot), "-crop", geometry, "+repage", "-colors", "64", "-strip", str(target)]
        )
        return target

    def status(self) -> dict[str, Any]:
        return processor_status(self.node_id)

    def wait_status(
        self, condition: Callable[[dict[str, Any]], bool], timeout: float, what: str
    ) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def check() -> bool:
            nonlocal seen
            seen = self.status()
            return condition(seen)

        try:
            wait_for(check, timeout, what, interval=0.3)
        except ProcedureError as error:
            raise ProcedureError(f"{error}; last status: {json.dumps(seen)}") from None
        return seen

    def type_into_chooser(self, title: str, path: Path, step: str) -> None:
        """In JUCE's own chooser: click its file box, type the path, Return; a folder then needs Open."""
        window = wait_for_window(self.session, title, 15)
        time.sleep(0.8)  # the dialog lists its folder after it appears
        dialog = window_box(self.session, window)
        screenshot(self.session, f"{step}-chooser")
        click(self.session, dialog.center[0] + CHOOSER_FILE_BOX[0], dialog.bottom + CHOOSER_FILE_BOX[1])
        key(self.session, "ctrl+a")
        type_text(self.session, str(path))
        key(self.session, "Return")  # a folder: the chooser opens it; a file: it is selected
        time.sleep(0.8)
        screenshot(self.session, f"{step}-typed")
        if path.is_dir():
            click(self.session, dialog.right + CHOOSER_OPEN_BUTTON[0], dialog.bottom + CHOOSER_OPEN_BUTTON[1])
        else:
            key(self.session, "Return")
        wait_for(lambda: not window_ids(self.session, title), 10, f"the chooser {title!r} to close")


def step_gui_starts(proc: Procedure) -> str:
    session = proc.session
    session.gui = session.start([str(session.gui_bin)], "gui.log")
    took = wait_for(api_answers, 120, "the GUI's HTTP API")
    main_window = wait_for_window(session, "^Open Ephys GUI$", 60)
    # A fresh HOME gets the "Load a Default Configuration" dialog: closed, the chain is built below.
    try:
        wait_for(
            lambda: bool(window_ids(session, "Load a Default Configuration")), 10, "the first-start dialog"
        )
        key(session, "Escape")
    except ProcedureError:
        pass
    session.run(["xdotool", "windowmove", main_window, "0", "0"])
    session.run(["xdotool", "windowsize", main_window, str(SCREEN_WIDTH), str(SCREEN_HEIGHT)])
    time.sleep(2)
    _, words = proc.read_screen("gui-started", PROCESSOR_LIST, bright=True)
    require_phrase(words, "Python Processor", "the Processor List (is the adapter installed?)")
    return f"HTTP API after {took:.1f} s; main window; the Processor List offers Python Processor"


def step_drop_processor(proc: Procedure) -> str:
    http("GET", "/processors/clear")
    http("PUT", "/processors/add", {"name": "File Reader"})
    readers = [p for p in processors() if p["name"] == "File Reader"]
    if len(readers) != 1:
        raise ProcedureError(f"expected one File Reader in the chain, got {processors()}")
    proc.reader_id = int(readers[0]["id"])
    time.sleep(1)
    _, words = proc.read_screen("file-reader", PROCESSOR_LIST, bright=True)
    item = require_phrase(words, "Python Processor", "the Processor List")
    reader_x, reader_y = proc.editor_origin("FILE", "file-reader-editor")
    # Dropped to the right of the File Reader's editor (about 265 px wide): appended after it.
    drag(proc.session, item.center, (reader_x + 400, reader_y + 65))
    added: list[dict[str, Any]] = []

    def dropped() -> bool:
        added[:] = [p for p in processors() if p["name"] == "Python Processor"]
        return bool(added)

    wait_for(dropped, 15, "a Python Processor in the chain after the drop")
    if added[0].get("predecessor") != proc.reader_id:
        raise ProcedureError(
            f"the Python Processor's source is {added[0].get('predecessor')}, not the File Reader"
        )
    proc.node_id = int(added[0]["id"])
    time.sleep(1)
    _, text, _ = proc.editor_text("dropped")
    if "Home" not in text or "Script" not in text:
        raise ProcedureError(f"the new editor does not show its status lines: {text!r}")
    return f"Python Processor {proc.node_id} after File Reader {proc.reader_id}; editor reads {text!r}"


def parameter_value(node_id: int, name: str) -> str:
    return str(http("GET", f"/processors/{node_id}/parameters/{name}")[1]["value"])


def step_choose_home(proc: Procedure, home: Path) -> str:
    """Home... offers the Homes found on the machine (judged), then "Other folder...": the chooser."""
    proc.click_editor("Home...", "home")
    menu = window_box(proc.session, wait_for_window(proc.session, "^menu$", 90))
    time.sleep(0.5)
    _, words = proc.read_screen("home-menu", menu)
    offered = text_of(words)
    click(proc.session, *require_phrase(words, "Other folder", "the Home menu").center)
    proc.type_into_chooser("Choose the Python Home", home, "home")
    wait_for(
        lambda: parameter_value(proc.node_id, "python_home") == str(home),
        10,
        "python_home to be the Home typed",
    )
    return f"the Home menu read {offered[:300]!r}; Other folder..., typed: python_home = {home}"


def measure_answers(proc: Procedure, script: Path, busy_field: str, busy_word: str, minimum_s: float) -> str:
    """Set ``script_path`` over HTTP, then time the GUI's answers until the script is loaded.

    While the slow part runs (the status field ``busy_field`` is set) the HTTP API must answer in under
    ``ANSWER_LIMIT_S``: ``GET /api/status`` (answered on the server's thread) and the ``status`` config
    message (answered on the GUI's message thread, so it measures whether that thread is free); the editor
    must show ``busy_word``; the script must then load, no sooner than ``minimum_s`` (else nothing slow was
    measured).
    """
    put_s, _ = http("PUT", f"/processors/{proc.node_id}/parameters/script_path", {"value": str(script)})
    started = time.monotonic()
    status_s: list[float] = []
    config_s: list[float] = []
    seen_busy = False
    editor_busy = ""
    loaded_after = 0.0
    shot_before: list[int] = []  # poll numbers that followed the editor's screenshot
    while time.monotonic() - started < minimum_s + 60:
        status_s.append(http("GET", "/status")[0])
        before = time.monotonic()
        status = proc.status()
        config_s.append(time.monotonic() - before)
        if status.get(busy_field):
            seen_busy = True
            if not editor_busy and time.monotonic() - started > 0.7:  # the editor polls every 500 ms
                shot, editor_busy, box = proc.editor_text(f"{busy_word}")
                shot_before.append(len(status_s))
                proc.crop_editor(shot, box, busy_word)
        if status.get("loaded") and status.get("script_path") == str(script) and not status.get(busy_field):
            loaded_after = time.monotonic() - started
            break
        time.sleep(0.25)
    proc.session.numbers[busy_field] = {
        "put_script_path_s": round(put_s, 3),
        "get_status_max_s": round(max(status_s), 3),
        "config_status_max_s": round(max(config_s), 3),
        "polls": len(status_s),
        "loaded_after_s": round(loaded_after, 2),
        "slow_part_s": minimum_s,
        # Each poll's config-message time and whether the editor was screenshotted just before it.
        "config_status_ms": [round(seconds * 1000) for seconds in config_s],
        "screenshot_before_poll": shot_before,
    }
    report = (
        f"PUT script_path {put_s * 1000:.0f} ms; {len(status_s)} polls meanwhile: GET /api/status max "
        f"{max(status_s) * 1000:.0f} ms, status config message max {max(config_s) * 1000:.0f} ms; "
        f"loaded after {loaded_after:.1f} s"
    )
    if not loaded_after:
        raise ProcedureError(f"the script did not load; {report}; status {json.dumps(proc.status())}")
    if loaded_after < minimum_s:
        raise ProcedureError(f"loaded after {loaded_after:.1f} s: nothing slow was measured; {report}")
    if not seen_busy:
        raise ProcedureError(f"the status never showed {busy_field}; {report}")
    if busy_word not in editor_busy.lower():
        raise ProcedureError(f"the editor did not show {busy_word!r} meanwhile: {editor_busy!r}")
    slowest = max(put_s, *status_s, *config_s)
    if slowest >= ANSWER_LIMIT_S:
        raise ProcedureError(f"an answer took {slowest:.2f} s (limit {ANSWER_LIMIT_S} s); {report}")
    return report + f"; the editor read {editor_busy[:100]!r}"


def step_choose_script(proc: Procedure) -> str:
    proc.click_editor("Script...", "script")
    proc.type_into_chooser("Choose a Python processor script", proc.script, "script")
    status = proc.wait_status(
        lambda s: s.get("script_path") == str(proc.script) and bool(s.get("loaded")),
        30,
        "the chosen script to load",
    )
    versions = [line["version"] for line in marker_lines(proc.marker)]
    if versions != [1]:
        raise ProcedureError(f"the script's __init__ ran for versions {versions}, expected [1]")
    time.sleep(1)
    shot, text, box = proc.editor_text("script-loaded")
    if proc.script.name not in text.replace(" ", "") or "loaded" not in text.lower():
        raise ProcedureError(f"the editor does not show {proc.script.name} loaded: {text!r}")
    proc.crop_editor(shot, box, "idle")
    return f"loaded {status['script_path']} (Python {status.get('python_version')}); editor reads {text!r}"


def acquisition_mode() -> str:
    return str(http("GET", "/status")[1]["mode"])


def step_start_acquisition(proc: Procedure) -> str:
    click(proc.session, *PLAY_BUTTON)
    wait_for(lambda: acquisition_mode() == "ACQUIRE", 10, "acquisition to start after the play button")
    status = proc.wait_status(lambda s: int(s.get("blocks", 0)) > 50, 30, "blocks to reach the script")
    time.sleep(1.5)  # the editor polls the status every 500 ms
    shot, text, box = proc.editor_text("running")
    # "Block: 0.05 ms mean, 0.08 ms max of 23.20 ms (0%)": the script's time against the block's duration.
    if "mean" not in text or "max of" not in text:
        raise ProcedureError(f"the editor does not show the time per block against the budget: {text!r}")
    proc.crop_editor(shot, box, "running")
    return (
        f"acquiring; {status['blocks']} blocks, script {status.get('script_us_mean')} us mean of "
        f"{status.get('budget_us')} us budget; editor reads {text!r}"
    )


def step_edit_and_reload(proc: Procedure) -> str:
    write_test_script(proc.script, proc.marker, version=2, raises=False)
    proc.click_editor("Reload", "reload-edited")
    proc.wait_status(
        lambda s: bool(s.get("loaded")) and not s.get("faulted"), 15, "the edited script to load"
    )
    wait_for(
        lambda: [line["version"] for line in marker_lines(proc.marker)][-1:] == [2],
        15,
        "version 2's __init__",
    )
    versions = [line["version"] for line in marker_lines(proc.marker)]
    blocks_before = int(proc.status()["blocks"])
    status = proc.wait_status(
        lambda s: int(s.get("blocks", 0)) > blocks_before + 20, 15, "blocks after the reload"
    )
    if acquisition_mode() != "ACQUIRE":
        raise ProcedureError("acquisition stopped during the reload")
    screenshot(proc.session, "reloaded")
    return f"__init__ ran for versions {versions}; {status['blocks']} blocks, still acquiring"


def step_script_raises(proc: Procedure) -> str:
    write_test_script(proc.script, proc.marker, version=3, raises=True)
    proc.click_editor("Reload", "reload-raising")
    status = proc.wait_status(lambda s: bool(s.get("faulted")), 15, "the raising script to fault")
    if FAULT_TEXT not in str(status.get("last_error", "")):
        raise ProcedureError(f"last_error does not name the exception: {status.get('last_error')!r}")
    if acquisition_mode() != "ACQUIRE":
        raise ProcedureError("acquisition stopped when the script raised")
    time.sleep(1.5)
    shot, text, box = proc.editor_text("faulted")
    if "faulted" not in text.lower() or "valueerror" not in text.lower():
        raise ProcedureError(f"the editor does not show the fault and the exception: {text!r}")
    proc.crop_editor(shot, box, "faulted")
    return f"faulted with {str(status['last_error']).strip().splitlines()[-1]!r}; editor reads {text!r}"


def step_error_view(proc: Procedure) -> str:
    x, y = proc.editor_origin(name="error-before")
    button = (x + EDITOR_POINTS["Error..."][0], y + EDITOR_POINTS["Error..."][1])
    # The call-out opens above the Error... button; the GUI's console behind it may show the same traceback,
    # so the region must not read it before the click.
    region = Box(max(button[0] - 340, 0), max(button[1] - 330, 0), 680, 310)
    click(proc.session, *CONSOLE_CLEAR_BUTTON)  # the console logged the traceback too
    _, before = proc.read_screen("error-view-before", region)
    if "Traceback" in text_of(before):
        raise ProcedureError(
            f"the region where the error view opens already reads a traceback: {text_of(before)!r}"
        )
    click(proc.session, *button)
    time.sleep(1)
    shot, words = proc.read_screen("error-view", region)
    text = text_of(words)
    if "Traceback" not in text or "ValueError" not in text:
        raise ProcedureError(f"the error view does not show the traceback: {text[:600]!r}")
    proc.crop_region(shot, region, "error-view")
    key(proc.session, "Escape")
    time.sleep(0.5)
    screenshot(proc.session, "error-view-closed")
    return f"the call-out reads {text[:200]!r}"


def step_error_policy(proc: Procedure) -> str:
    proc.click_editor("policy", "policy")
    menu = window_box(proc.session, wait_for_window(proc.session, "^menu$", 5))
    _, words = proc.read_screen("policy-menu", menu)
    click(proc.session, *require_phrase(words, "continue", "the error policy menu").center)
    status = proc.wait_status(lambda s: s.get("policy") == "continue", 10, "the policy to become continue")
    screenshot(proc.session, "policy-continue")
    return (
        f"policy {status['policy']}; parameter error_policy = {parameter_value(proc.node_id, 'error_policy')}"
    )


def step_change_stream(proc: Procedure) -> str:
    """Two File Readers through a Merger give the processor two streams; its stream table selects one."""
    write_test_script(proc.script, proc.marker, version=4, raises=False)
    proc.click_editor("Reload", "reload-fixed")
    proc.wait_status(lambda s: bool(s.get("loaded")) and not s.get("faulted"), 15, "the fixed script to load")
    click(proc.session, *PLAY_BUTTON)
    wait_for(lambda: acquisition_mode() == "IDLE", 10, "acquisition to stop after the play button")
    http("PUT", "/processors/add", {"name": "Merger", "dest_id": proc.node_id})
    time.sleep(1)
    merger_x, merger_y = proc.editor_origin("MERGER", "merger")
    click(proc.session, merger_x + MERGER_PATH_B[0], merger_y + MERGER_PATH_B[1])  # its input B
    merger_id = next(int(p["id"]) for p in processors() if p["name"] == "Merger")
    http("PUT", "/processors/add", {"name": "File Reader", "dest_id": merger_id})
    streams = wait_for_streams(proc.node_id, 2)
    inits_before = len(marker_lines(proc.marker))
    proc.click_editor("drawer", "stream-table")
    time.sleep(0.8)
    proc.click_editor("second stream", "second-stream")
    wait_for(lambda: parameter_value(proc.node_id, "current_stream") == "1", 10, "current_stream to become 1")
    wait_for(
        lambda: len(marker_lines(proc.marker)) > inits_before, 10, "the script's __init__ for the new stream"
    )
    status = proc.status()
    if not status.get("loaded") or status.get("faulted"):
        raise ProcedureError(f"after the stream change the script is not running: {json.dumps(status)}")
    screenshot(proc.session, "second-stream")
    return f"streams {streams}; current_stream 1; the script re-initialised ({marker_lines(proc.marker)[-1]})"


def wait_for_streams(node_id: int, count: int) -> list[str]:
    names: list[str] = []

    def enough() -> bool:
        node = next(p for p in processors() if int(p["id"]) == node_id)
        names[:] = [f"{stream['source_id']}.{stream['name']}" for stream in node["streams"]]
        return len(names) >= count

    wait_for(enough, 15, f"{count} streams at the Python Processor")
    return names


def step_fresh_gui(proc: Procedure, plugin_build: Path, home_name: str) -> str:
    """The GUI again, in a fresh HOME: Python starts once per process, so a Home check needs a new one."""
    proc.session.home_name = home_name
    prepare_home(proc.session, plugin_build)
    return step_gui_starts(proc)


def chain_over_http(proc: Procedure, home: Path) -> None:
    """File Reader -> Python Processor with ``home`` as its Home, set up through the HTTP API."""
    http("GET", "/processors/clear")
    http("PUT", "/processors/add", {"name": "File Reader"})
    proc.reader_id = next(int(p["id"]) for p in processors() if p["name"] == "File Reader")
    http("PUT", "/processors/add", {"name": "Python Processor", "source_id": proc.reader_id})
    proc.node_id = next(int(p["id"]) for p in processors() if p["name"] == "Python Processor")
    http("PUT", f"/processors/{proc.node_id}/parameters/python_home", {"value": str(home)})


def step_acquire_during_check(proc: Procedure, home: Path, script: Path, marker: Path) -> str:
    """Acquisition starts during a Home check: blocks pass the script by until it loads, then reach it."""
    chain_over_http(proc, home)
    http("PUT", f"/processors/{proc.node_id}/parameters/script_path", {"value": str(script)})
    proc.wait_status(lambda s: bool(s.get("checking_home")), 5, "the Home check to start")
    acquire_s, _ = http("PUT", "/status", {"mode": "ACQUIRE"})
    if acquisition_mode() != "ACQUIRE":
        raise ProcedureError("acquisition did not start during the Home check")
    time.sleep(1)
    during = proc.status()
    if not during.get("checking_home") or during.get("loaded") or int(during.get("blocks", 0)) != 0:
        raise ProcedureError(f"expected a running check and no script calls yet: {json.dumps(during)}")
    screenshot(proc.session, "acquiring-during-check")
    status = proc.wait_status(
        lambda s: bool(s.get("loaded")) and int(s.get("blocks", 0)) > 20,
        proc.slow_seconds + 30,
        "blocks after the load",
    )
    inits = marker_lines(marker)
    http("PUT", "/status", {"mode": "IDLE"})
    if len(inits) != 1:
        raise ProcedureError(f"expected one __init__ after the check, the marker has {inits}")
    proc.session.numbers["acquire_during_check_put_status_s"] = round(acquire_s, 3)
    return (
        f"PUT /api/status ACQUIRE {acquire_s * 1000:.0f} ms during the check; 1 s later still checking, "
        f"0 script calls; then loaded and {status['blocks']} blocks reached the script"
    )


def step_quit_during_check(proc: Procedure, home: Path, script: Path) -> str:
    """The GUI quits while a Home is being checked: it neither waits for the check nor crashes."""
    chain_over_http(proc, home)
    http("PUT", f"/processors/{proc.node_id}/parameters/script_path", {"value": str(script)})
    proc.wait_status(lambda s: bool(s.get("checking_home")), 5, "the Home check to start")
    time.sleep(1)
    gui = proc.session.gui
    if gui is None:
        raise ProcedureError("the GUI is not running")
    started = time.monotonic()
    with contextlib.suppress(urllib.error.URLError, OSError):  # the GUI may close the connection as it quits
        http("PUT", "/quit", {}, timeout=10)
    try:
        code = gui.wait(timeout=proc.slow_seconds + 30)
    except subprocess.TimeoutExpired:
        raise ProcedureError("the GUI hung on quitting during a Home check") from None
    took = time.monotonic() - started
    proc.session.numbers["quit_during_check_s"] = round(took, 2)
    if code != 0:
        raise ProcedureError(f"the GUI exited with {code} when quitting during a Home check")
    if took >= proc.slow_seconds - 1:
        raise ProcedureError(f"quitting took {took:.1f} s: it waited for the Home check")
    return f"quit 1 s into the {proc.slow_seconds:.0f} s check: the GUI exited with 0 after {took:.1f} s"


def step_quit(proc: Procedure) -> str:
    gui = proc.session.gui
    if gui is None:
        raise ProcedureError("the GUI is not running")
    with contextlib.suppress(urllib.error.URLError, OSError):  # the GUI may close the connection as it quits
        http("PUT", "/quit", {}, timeout=10)
    try:
        code = gui.wait(timeout=30)
    except subprocess.TimeoutExpired:
        raise ProcedureError("the GUI did not exit within 30 s of /api/quit") from None
    log = proc.session.activity_log.read_text(errors="replace") if proc.session.activity_log.exists() else ""
    python_lines = [line for line in log.splitlines() if "Python Processor" in line]
    if not python_lines:
        raise ProcedureError(f"activity.log has no Python Processor lines ({proc.session.activity_log})")
    return f"exit code {code}; activity.log has {len(python_lines)} Python Processor lines"


# ---------------------------------------------------------------------------------------------------------
# Running it
# ---------------------------------------------------------------------------------------------------------


@dataclass
class StepResult:
    name: str
    passed: bool
    seconds: float
    detail: str


def run_steps(steps: list[tuple[str, Callable[[], str]]]) -> list[StepResult]:
    """Run in order; the first failure stops the rest (each step needs the ones before it)."""
    results = []
    for name, step in steps:
        start = time.monotonic()
        try:
            detail, passed = step(), True
        except (
            ProcedureError,
            subprocess.SubprocessError,
            urllib.error.URLError,
            OSError,
            KeyError,
        ) as error:
            detail, passed = f"{type(error).__name__}: {error}", False
        results.append(StepResult(name, passed, time.monotonic() - start, detail))
        print(f"{'PASS' if passed else 'FAIL'} {name} ({results[-1].seconds:.1f} s): {detail}", flush=True)
        if not passed:
            break
    return results


def check_inputs(gui_bin: str | None, home: Path, plugin_build: Path) -> Path:
    missing_tools = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing_tools:
        raise UsageError(
            f"missing tools: {', '.join(missing_tools)} (apt: xvfb xdotool imagemagick tesseract-ocr "
            "pulseaudio libasound2-plugins)"
        )
    native = [tool for tool in ("zenity", "kdialog") if shutil.which(tool)]
    if native:
        raise UsageError(
            f"{', '.join(native)} is installed: JUCE would open it instead of the GUI's own chooser, "
            "which this procedure types into"
        )
    if not gui_bin:
        raise UsageError(
            "set OE_GUI_BIN to the built GUI's executable (e.g. plugin-GUI/Build/Release/open-ephys)"
        )
    gui = Path(gui_bin)
    if not gui.is_file() or not os.access(gui, os.X_OK):
        raise UsageError(f"OE_GUI_BIN={gui_bin} is not an executable file")
    if not (home / "pyvenv.cfg").is_file() or not (home / "bin" / "python3").exists():
        raise UsageError(f"--home {home} is not a venv (pyvenv.cfg and bin/python3 expected)")
    absent = [name for name in PLUGIN_FILES if not (plugin_build / name).is_file()]
    if absent or not list(plugin_build.glob("oe_pyproc_bridge_cp3*.bridge")):
        raise UsageError(
            f"--plugin-build {plugin_build} lacks {absent or 'a bridge'}: build the targets "
            "python_processor and oe_pyproc_bridge_cp3XY there (plugin/openephys/README.md)"
        )
    if port_in_use(API_PORT):
        raise UsageError(f"port {API_PORT} is in use: another Open Ephys GUI is running")
    return gui


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--home", type=Path, required=True, help="a venv Home with numpy (its Python has a bridge)"
    )
    parser.add_argument(
        "--plugin-build", type=Path, required=True, help="the CMake build folder with the adapter"
    )
    parser.add_argument(
        "--out", type=Path, help="folder for screenshots and logs (default: a new temporary one)"
    )
    parser.add_argument(
        "--slow-seconds", type=float, default=8.0, help="how long the slow Home's check takes"
    )
    args = parser.parse_args(argv)

    try:
        gui_bin = check_inputs(os.environ.get("OE_GUI_BIN"), args.home.absolute(), args.plugin_build)
    except UsageError as error:
        print(f"editor_procedure: {error}", file=sys.stderr)
        return 2
    out = (args.out or Path(tempfile.mkdtemp(prefix="oe-editor-proof-"))).absolute()
    (out / "shots").mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="oe-editor-session-"))
    session = Session(root=root, out=out, display=free_display_number(), gui_bin=gui_bin)
    proc = Procedure(session=session, home=args.home.absolute(), slow_seconds=args.slow_seconds)
    results: list[StepResult] = []
    try:
        session.gui_bin = gui_folder(session, gui_bin)
        prepare_home(session, args.plugin_build)
        start_sound_and_display(session)
        scripts = root / "scripts"
        scripts.mkdir()
        proc.script, proc.marker = scripts / "procedure_script.py", root / "procedure_marker.jsonl"
        measured_script = scripts / "measured_script.py"
        write_test_script(proc.script, proc.marker, version=1, raises=False)
        write_test_script(measured_script, root / "measured_marker.jsonl", version=1, raises=False)
        slow_home = make_slow_home(proc.home, root, args.slow_seconds)
        second_script, second_marker = scripts / "second_script.py", root / "second_marker.jsonl"
        write_test_script(second_script, second_marker, version=1, raises=False)
        slow_script = scripts / "slow_import.py"
        slow_script.write_text(
            f"import time\n\ntime.sleep({SLOW_IMPORT_S})\n\n" + measured_script.read_text()
        )
        steps: list[tuple[str, Callable[[], str]]] = [
            ("gui-starts", lambda: step_gui_starts(proc)),
            ("drop-python-processor", lambda: step_drop_processor(proc)),
            ("home-chooser", lambda: step_choose_home(proc, slow_home)),
            (
                "slow-home-check",
                lambda: measure_answers(
                    proc, measured_script, "checking_home", "checking", args.slow_seconds
                ),
            ),
            (
                "slow-script-load",
                lambda: measure_answers(proc, slow_script, "loading_script", "loading", SLOW_IMPORT_S),
            ),
            ("script-chooser", lambda: step_choose_script(proc)),
            ("start-acquisition", lambda: step_start_acquisition(proc)),
            ("edit-and-reload", lambda: step_edit_and_reload(proc)),
            ("script-raises", lambda: step_script_raises(proc)),
            ("error-view", lambda: step_error_view(proc)),
            ("error-policy", lambda: step_error_policy(proc)),
            ("change-stream", lambda: step_change_stream(proc)),
            ("quit", lambda: step_quit(proc)),
            ("fresh-gui", lambda: step_fresh_gui(proc, args.plugin_build, "home-acquire")),
            (
                "acquire-during-check",
                lambda: step_acquire_during_check(proc, slow_home, second_script, second_marker),
            ),
            ("quit-again", lambda: step_quit(proc)),
            ("fresh-gui-again", lambda: step_fresh_gui(proc, args.plugin_build, "home-quit")),
            ("quit-during-check", lambda: step_quit_during_check(proc, slow_home, second_script)),
        ]
        results = run_steps(steps)
    finally:
        session.stop_all()
        for log in root.glob("home*/.config/open-ephys/configs-api10/activity.log"):
            shutil.copy2(log, out / f"activity-{log.parents[3].name}.log")
        shutil.rmtree(root, ignore_errors=True)
    summary = {
        "steps": [vars(result) for result in results],
        "numbers": session.numbers,
        "gui": str(gui_bin),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    passed = len(results) == len(steps) and all(result.passed for result in results)
    print(f"{'ALL STEPS PASSED' if passed else 'FAILED'}; screenshots and logs in {out}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
