"""Signal-chain XML (lastConfig.xml, recoveryConfig.xml, saved chains, settings.xml): find the Python
Processors and change their parameters while leaving every other byte of the file as it was.

Nothing is re-serialized. expat (the parser under ElementTree) reports the byte offset of each start
tag; a small scanner reads that one tag's attributes with their byte spans, and an edit splices the new
attribute value into the original bytes. Declarations, comments, attribute order, quoting, whitespace and
line endings therefore survive untouched.

A value the GUI could not read back is refused before anything is written: characters XML 1.0 cannot
hold at all (control characters other than tab and line breaks, even as references) and file system
bytes that are not UTF-8 (the GUI keeps paths as Unicode text). A character the file's declared encoding
(Latin-1, ASCII) cannot hold is written as a character reference; and every edit is parsed again and must
read back exactly as intended before it may replace the file. Chain files are read only when they are
regular files: a FIFO or device in their place is refused, never opened.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import read_regular_bytes

PYTHON_PROCESSOR_NAME = "Python Processor"
PARAMETER_NAMES = ("python_home", "script_path", "current_stream")
# GUI 1.0 (API 10) keeps processor-scope parameters here; GUI 0.6.x (API 8) in GLOBAL_PARAMETERS.
PARAMETER_ELEMENTS = ("PROCESSOR_PARAMETERS", "GLOBAL_PARAMETERS")

_ATTRIBUTE = re.compile(rb"\s*([^\s=/>]+)\s*=\s*(\"[^\"]*\"|'[^']*')")
_TAG_NAME = re.compile(rb"<([^\s/>]+)")


@dataclass(frozen=True)
class AttributeSpan:
    """Byte span of an attribute's value (inside the quotes) in the original data."""

    value_start: int
    value_end: int
    quote: bytes


@dataclass(frozen=True)
class StartTag:
    """One start tag located in the original bytes: [start, end) covers `<NAME ... >` or `/>`."""

    name: str
    start: int
    end: int
    self_closing: bool
    attributes: dict[str, str]
    spans: dict[str, AttributeSpan]
    last_attribute_end: int  # where a new attribute is inserted


@dataclass(frozen=True)
class PythonProcessor:
    """A Python Processor of the chain and its parameter element (None if it has none)."""

    index: int  # 0-based, in document order
    tag: StartTag
    parameters_tag: StartTag | None

    @property
    def node_id(self) -> str | None:
        return self.tag.attributes.get("nodeId") or self.tag.attributes.get("NodeId")

    @property
    def library_version(self) -> str | None:
        return self.tag.attributes.get("libraryVersion")

    @property
    def parameters(self) -> dict[str, str]:
        return dict(self.parameters_tag.attributes) if self.parameters_tag else {}

    @property
    def python_home(self) -> str | None:
        return self.parameters.get("python_home")

    @property
    def script_path(self) -> str | None:
        return self.parameters.get("script_path")

    @property
    def current_stream(self) -> str | None:
        return self.parameters.get("current_stream")


@dataclass
class ChainDocument:
    """A parsed chain: its original bytes and the Python Processors found under SETTINGS/SIGNALCHAIN."""

    data: bytes
    encoding: str
    root_name: str
    processors: list[PythonProcessor] = field(default_factory=list)
    path: Path | None = None

    @property
    def library_versions(self) -> list[str]:
        return [p.library_version for p in self.processors if p.library_version]


def scan_start_tag(data: bytes, start: int, encoding: str, attributes: dict[str, str]) -> StartTag:
    """Locate the start tag at byte `start` and its attribute value spans; `attributes` are expat's
    decoded values for the same tag."""
    match = _TAG_NAME.match(data, start)
    if match is None:  # expat accepted it, so this cannot happen for well-formed input
        raise UserFacingError(f"unexpected XML at byte {start}")
    name = match.group(1).decode(encoding)
    position = match.end()
    spans: dict[str, AttributeSpan] = {}
    last_end = position
    while True:
        attribute = _ATTRIBUTE.match(data, position)
        if attribute is None:
            break
        key = attribute.group(1).decode(encoding)
        quoted = attribute.group(2)
        value_start = attribute.start(2) + 1
        spans[key] = AttributeSpan(value_start, attribute.end(2) - 1, quoted[:1])
        position = last_end = attribute.end()
    rest = re.compile(rb"\s*(/?)>").match(data, position)
    if rest is None:
        raise UserFacingError(f"cannot read the tag <{name}> at byte {start}")
    return StartTag(name, start, rest.end(), rest.group(1) == b"/", attributes, spans, last_end)


def parse_chain(data: bytes, path: Path | None = None) -> ChainDocument:
    """Parse chain XML. Malformed XML or a root other than SETTINGS is a UserFacingError."""
    where = str(path) if path else "the chain"
    declared: list[str] = []
    events: list[tuple[int, str, dict[str, str], tuple[str, ...]]] = []
    stack: list[str] = []
    parser = expat.ParserCreate()
    parser.ordered_attributes = False

    def on_declaration(version: str, encoding: str | None, standalone: int) -> None:
        if encoding:
            declared.append(encoding)

    def on_start(name: str, attributes: dict[str, str]) -> None:
        events.append((parser.CurrentByteIndex, name, attributes, tuple(stack)))
        stack.append(name)

    def on_end(name: str) -> None:
        stack.pop()

    parser.XmlDeclHandler = on_declaration
    parser.StartElementHandler = on_start
    parser.EndElementHandler = on_end
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise UserFacingError(
            f"{where} is not well-formed XML (line {error.lineno}, column {error.offset + 1}: "
            f"{expat.ErrorString(error.code)}); the file was left untouched"
        ) from None
    encoding = (declared[0] if declared else "utf-8").lower()
    if encoding.replace("-", "").replace("_", "") in ("utf16", "utf32", "ucs2", "ucs4", "utf16le", "utf16be"):
        raise UserFacingError(f"{where} is {encoding}-encoded; only 8-bit encodings (UTF-8) are supported")
    if not events:
        raise UserFacingError(f"{where} has no XML element")
    root_name = events[0][1]
    if root_name != "SETTINGS":
        raise UserFacingError(
            f"{where} is not an Open Ephys signal chain (root element <{root_name}>, expected <SETTINGS>)"
        )

    document = ChainDocument(data, encoding, root_name, path=path)
    for number, (offset, name, attributes, ancestors) in enumerate(events):
        is_python_processor = (
            name == "PROCESSOR"
            and attributes.get("pluginName") == PYTHON_PROCESSOR_NAME
            and ancestors[:2] == ("SETTINGS", "SIGNALCHAIN")
        )
        if not is_python_processor:
            continue
        tag = scan_start_tag(data, offset, encoding, attributes)
        parameters_tag = None
        depth = len(ancestors) + 1
        for child_offset, child_name, child_attributes, child_ancestors in events[number + 1 :]:
            if len(child_ancestors) < depth or child_ancestors[: depth - 1] != ancestors:
                break
            if len(child_ancestors) == depth and child_name in PARAMETER_ELEMENTS:
                parameters_tag = scan_start_tag(data, child_offset, encoding, child_attributes)
                break
        document.processors.append(PythonProcessor(len(document.processors), tag, parameters_tag))
    return document


def read_chain(path: Path) -> ChainDocument:
    """Read and parse a chain file; unreadable, a folder or malformed → UserFacingError."""
    path = Path(path)
    if path.is_dir():
        raise UserFacingError(f"{path} is a folder; a signal-chain XML file was expected")
    try:
        data = read_regular_bytes(path)
    except FileNotFoundError:
        if path.is_symlink():
            raise UserFacingError(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist"
            ) from None
        raise UserFacingError(f"{path} does not exist") from None
    except OSError as error:
        raise UserFacingError(f"cannot read {path}: {error.strerror or error}") from None
    return parse_chain(data, path)


def unreadable_character(value: str) -> str | None:
    """Why the GUI could not read `value` back from XML, or None: a character outside XML 1.0's Char
    production (C0 controls but tab/LF/CR, U+FFFE/U+FFFF) or a byte that is not UTF-8 (Python keeps
    those of a file system path as lone surrogates)."""
    for position, character in enumerate(value):
        code = ord(character)
        if 0xDC80 <= code <= 0xDCFF:
            return (
                f"byte 0x{code - 0xDC00:02X} at position {position} is not UTF-8: the GUI keeps paths as "
                "Unicode text and could not name this folder"
            )
        if 0xD800 <= code <= 0xDFFF:
            return f"it holds an unpaired surrogate U+{code:04X} at position {position}"
        if (code < 0x20 and character not in "\t\n\r") or code in (0xFFFE, 0xFFFF):
            return (
                f"it holds the control character U+{code:04X} at position {position}, which an XML file "
                "cannot hold (not even as a character reference): no XML parser, the GUI's included, "
                "would read the settings file"
            )
    return None


def refuse_unreadable_value(value: str, what: str) -> None:
    """UserFacingError when the GUI could not read `value` back from its settings (see above)."""
    why = unreadable_character(value)
    if why is not None:
        raise UserFacingError(
            f"{what} {value!r} cannot be written into the GUI's settings: {why}; nothing was written",
            hint="Rename the folder (or use another one) so that its path is plain text.",
        )


def _encode(text: str, encoding: str) -> bytes:
    """`text` in the document's encoding; characters it cannot hold become character references (an
    encoding Python does not know: ASCII with references, readable in any ASCII-compatible file)."""
    try:
        return text.encode(encoding, errors="xmlcharrefreplace")
    except LookupError:
        return text.encode("ascii", errors="xmlcharrefreplace")


def escape_attribute(value: str, quote: bytes = b'"') -> str:
    """XML-escape an attribute value for the given quote character (control characters as references)."""
    text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace('"', "&quot;") if quote == b'"' else text.replace("'", "&apos;")
    return text.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")


def _line_indent(data: bytes, offset: int) -> bytes:
    line_start = data.rfind(b"\n", 0, offset) + 1
    prefix = data[line_start:offset]
    return prefix if prefix.strip() == b"" else b""


def _newline(data: bytes) -> bytes:
    return b"\r\n" if b"\r\n" in data else b"\n"


def set_parameter(document: ChainDocument, name: str, value: str, only: Iterable[int] | None = None) -> bytes:
    """The document's bytes with parameter `name` = `value` in every Python Processor (or those whose index
    is in `only`). An existing attribute's value is replaced in place; a missing one is appended to the
    parameter element's start tag; a missing parameter element is added as the processor's first child
    (PROCESSOR_PARAMETERS, or GLOBAL_PARAMETERS in a chain that uses that). Nothing else changes."""
    wanted = None if only is None else set(only)
    edits: list[tuple[int, int, bytes]] = []  # (start, end, replacement), non-overlapping
    data = document.data
    uses_global = b"<GLOBAL_PARAMETERS" in data and b"<PROCESSOR_PARAMETERS" not in data
    element = "GLOBAL_PARAMETERS" if uses_global else "PROCESSOR_PARAMETERS"
    for processor in document.processors:
        if wanted is not None and processor.index not in wanted:
            continue
        parameters = processor.parameters_tag
        if parameters is not None and name in parameters.spans:
            span = parameters.spans[name]
            replacement = _encode(escape_attribute(value, span.quote), document.encoding)
            edits.append((span.value_start, span.value_end, replacement))
        elif parameters is not None:
            insertion = _encode(f' {name}="{escape_attribute(value)}"', document.encoding)
            edits.append((parameters.last_attribute_end, parameters.last_attribute_end, insertion))
        else:
            tag = processor.tag
            newline = _newline(data)
            indent = _line_indent(data, tag.start)
            child = (
                indent
                + b"  "
                + _encode(f'<{element} {name}="{escape_attribute(value)}"/>', document.encoding)
            )
            if tag.self_closing:
                closing = data[tag.last_attribute_end : tag.end]  # e.g. b"/>" or b" />"
                replacement = b">" + newline + child + newline + indent + b"</PROCESSOR>"
                edits.append((tag.end - len(closing), tag.end, replacement))
            else:
                edits.append((tag.end, tag.end, newline + child))
    result = bytearray(data)
    for start, end, replacement in sorted(edits, reverse=True):
        result[start:end] = replacement
    return bytes(result)


def planned_python_home_edit(path: Path, home: str) -> tuple[ChainDocument, bytes]:
    """Parse `path` and compute its new bytes with python_home = `home`, without writing. The new bytes
    are parsed again: every Python Processor must read back `home` exactly, else UserFacingError."""
    refuse_unreadable_value(home, "the Python Home")
    document = read_chain(path)
    new_data = set_parameter(document, "python_home", home)
    try:
        read_back = parse_chain(new_data, path).processors
    except UserFacingError as error:
        raise UserFacingError(
            f"the edited {path} would not be well-formed ({error.message}); nothing was written"
        ) from None
    if len(read_back) != len(document.processors) or any(p.python_home != home for p in read_back):
        raise UserFacingError(
            f"the edited {path} would not read back the Python Home as written; nothing was written"
        )
    return document, new_data


# ------------------------------------------------------------- what the GUI compares on start-up


def _signature(element: ET.Element) -> tuple[object, ...]:
    """An element as JUCE's XmlElement::isEquivalentTo(other, false) sees it: name, attributes in order,
    text, children in order."""
    text = (element.text or "").strip()
    return (
        element.tag,
        tuple(element.attrib.items()),
        text,
        tuple(_signature(child) for child in element),
    )


def sections_equivalent(first: bytes, second: bytes) -> bool | None:
    """Whether the GUI would see these two configs as the same (first SIGNALCHAIN and AUDIO compared, as
    MainWindow::compareConfigFiles does). None when either cannot be parsed."""
    try:
        first_root, second_root = ET.fromstring(first), ET.fromstring(second)
    except ET.ParseError:
        return None
    for tag in ("SIGNALCHAIN", "AUDIO"):
        a, b = first_root.find(tag), second_root.find(tag)
        if (a is None) != (b is None):
            return False
        if a is not None and b is not None and _signature(a) != _signature(b):
            return False
    return True


def reload_on_startup(window_state: Path) -> bool | None:
    """windowState.xml's MAINWINDOW@shouldReloadOnStartup (the GUI's default when absent: off).
    None when the file is missing or unreadable (the GUI then opens its default-config window instead)."""
    try:
        root = ET.fromstring(read_regular_bytes(window_state))
    except (OSError, ET.ParseError):
        return None
    element = root if root.tag == "MAINWINDOW" else root.find(".//MAINWINDOW")
    if element is None:
        return None
    value = element.get("shouldReloadOnStartup", "0").strip().lower()
    return value in ("1", "true", "yes")
