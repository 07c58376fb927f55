"""The GUI's `plugins-api<N>/installedPlugins.xml`, edited as its Plugin Installer edits it.

Format facts from the GUI's source (v1.0.x, PluginInstaller): root `PluginInstaller@gui_version`, its first
child `InstalledPlugins`, one element per plugin named after the plugin with the attributes `version` and
`dllName` (the plugin's file or folder, relative to plugins-api<N>). When the installer opens, it drops
every entry whose `dllName` no longer exists there; uninstalling a plugin removes its entry. So when
`install --replace-upstream` moves upstream's plugin aside, its entry goes, exactly as the GUI would drop
it; the rest of the file keeps every byte (entries are cut out of the original bytes, nothing is
re-serialized). `uninstall` writes the recorded original back, byte for byte; if the GUI rewrote the file
meanwhile, the removed entries are put back into its InstalledPlugins instead.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from xml.parsers import expat

from oe_pyproc_setup.chains import scan_start_tag
from oe_pyproc_setup.fsutil import read_regular_bytes

_CLOSING = re.compile(rb"</InstalledPlugins\s*>")


@dataclass(frozen=True)
class Entry:
    """One plugin's element: its byte span [start, end) in the file and its dllName."""

    name: str
    dll_name: str
    start: int
    end: int


def read_entries(data: bytes) -> list[Entry] | None:
    """The entries of PluginInstaller/InstalledPlugins; None when the data is not such a file (the GUI
    then starts a new one; we leave it alone)."""
    stack: list[str] = []
    lists: list[int] = []  # InstalledPlugins elements seen under the root
    found: list[tuple[str, dict[str, str], int]] = []
    ends: dict[int, int] = {}
    parser = expat.ParserCreate()

    def on_start(name: str, attributes: dict[str, str]) -> None:
        if stack == ["PluginInstaller"] and name == "InstalledPlugins":
            lists.append(parser.CurrentByteIndex)
        if stack == ["PluginInstaller", "InstalledPlugins"] and len(lists) == 1:
            found.append((name, attributes, parser.CurrentByteIndex))
        stack.append(name)

    def on_end(name: str) -> None:
        stack.pop()
        if stack == ["PluginInstaller", "InstalledPlugins"] and len(lists) == 1:
            ends[len(found) - 1] = parser.CurrentByteIndex

    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    try:
        parser.Parse(data, True)
    except expat.ExpatError:
        return None
    if not lists:
        return None
    entries = []
    for number, (name, attributes, start) in enumerate(found):
        tag = scan_start_tag(data, start, "utf-8", attributes)
        end = tag.end if tag.self_closing else data.index(b">", ends[number]) + 1
        entries.append(Entry(name, attributes.get("dllName", ""), start, end))
    return entries


def _line_span(data: bytes, start: int, end: int) -> tuple[int, int]:
    """[start, end) widened to whole lines when the element is alone on its line(s)."""
    line_start = data.rfind(b"\n", 0, start) + 1
    line_end = data.find(b"\n", end)
    line_end = len(data) if line_end < 0 else line_end + 1
    if data[line_start:start].strip() or data[end:line_end].strip():
        return start, end
    return line_start, line_end


@dataclass(frozen=True)
class PlannedEdit:
    previous: bytes
    new: bytes
    removed: list[bytes]  # each removed entry's lines, as they were


def plan_removal(xml_file: Path, plugins_dir: Path, moved: list[Path]) -> PlannedEdit | None:
    """installedPlugins.xml without the entries whose dllName names one of the `moved` plugin files or
    folders (or something inside one). None: no such file, not the GUI's format, or nothing to remove."""
    try:
        data = read_regular_bytes(xml_file)
    except OSError:
        return None
    entries = read_entries(data)
    if not entries:
        return None
    moved_real = [os.path.realpath(p) for p in moved]
    spans = []
    for entry in entries:
        if not entry.dll_name:
            continue
        target = os.path.realpath(plugins_dir / entry.dll_name)
        if any(target == m or os.path.commonpath([target, m]) == m for m in moved_real):
            spans.append(_line_span(data, entry.start, entry.end))
    if not spans:
        return None
    new = bytearray(data)
    for start, end in sorted(spans, reverse=True):
        del new[start:end]
    return PlannedEdit(data, bytes(new), [data[start:end] for start, end in spans])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def with_entries_put_back(current: bytes, removed: list[bytes]) -> bytes | None:
    """`current` (a file the GUI rewrote since install) with the `removed` entries added back at the end of
    its InstalledPlugins, skipping those whose dllName it lists again. None when that cannot be done
    safely: `current` is not the GUI's format, or an entry is not one well-formed element."""
    entries = read_entries(current)
    closing = _CLOSING.search(current)
    if entries is None or closing is None:
        return None
    present = {e.dll_name for e in entries}
    insertion = b""
    for raw in removed:
        wrapped = b"<PluginInstaller><InstalledPlugins>" + raw + b"</InstalledPlugins></PluginInstaller>"
        parsed = read_entries(wrapped)
        if parsed is None or len(parsed) != 1:
            return None
        if parsed[0].dll_name not in present:
            insertion += raw if raw.endswith(b"\n") else raw + b"\n"
    if not insertion:
        return current
    line_start = current.rfind(b"\n", 0, closing.start()) + 1
    at = line_start if not current[line_start : closing.start()].strip() else closing.start()
    result = current[:at] + insertion + current[at:]
    return result if read_entries(result) is not None else None
