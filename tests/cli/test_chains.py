"""Signal-chain XML edits keep every other byte: round trips on GUI 1.0 and 0.6.x style chains, CRLF,
a BOM, another encoding, missing parameter elements, malformed files, read-only files."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from oe_pyproc_setup.chains import (
    escape_attribute,
    parse_chain,
    planned_python_home_edit,
    read_chain,
    reload_on_startup,
    sections_equivalent,
    set_parameter,
)
from oe_pyproc_setup.errors import UserFacingError

NEW_HOME = "/home/me/Mes envs/oe-python-plugin ü"


def elements_without(data: bytes, attribute: str) -> list[tuple[str, list[tuple[str, str]], str, str]]:
    """Every element in document order with its attributes (in order) minus `attribute`, text and tail."""
    root = ET.fromstring(data)
    return [
        (e.tag, [(k, v) for k, v in e.attrib.items() if k != attribute], e.text or "", e.tail or "")
        for e in root.iter()
    ]


def test_reads_python_processors_of_a_gui_1_chain(chain_data: Path) -> None:
    document = read_chain(chain_data / "chain_v1.xml")
    assert [p.node_id for p in document.processors] == ["101", "105"]
    first, second = document.processors
    assert first.python_home == "/home/me/miniconda3/envs/old-env"
    assert first.script_path == "/home/me/scripts/filter.py"
    assert first.current_stream == "10001"
    assert first.library_version == "0.1.0"
    assert first.parameters_tag is not None and first.parameters_tag.name == "PROCESSOR_PARAMETERS"
    assert second.python_home is None
    assert second.script_path == r"C:\Users\me\scripts\spikes <v2>.py"  # entities decoded


def test_round_trip_changes_only_python_home(chain_data: Path) -> None:
    original = (chain_data / "chain_v1.xml").read_bytes()
    edited = set_parameter(parse_chain(original), "python_home", NEW_HOME)
    escaped = escape_attribute(NEW_HOME).encode()
    # Byte-exact expectation built by hand: the one value replaced, the missing one appended.
    expected = original.replace(
        b'python_home="/home/me/miniconda3/envs/old-env"', b'python_home="' + escaped + b'"'
    )
    expected = expected.replace(
        b'current_stream="10002"/>', b'current_stream="10002" python_home="' + escaped + b'"/>'
    )
    assert edited == expected
    assert [p.python_home for p in parse_chain(edited).processors] == [NEW_HOME, NEW_HOME]
    assert elements_without(edited, "python_home") == elements_without(original, "python_home")
    assert b"<!-- Saved by hand-editing tests: a comment the edit must keep. -->" in edited


def test_gui_06_global_parameters(chain_data: Path) -> None:
    original = (chain_data / "chain_v06.xml").read_bytes()
    document = parse_chain(original)
    [processor] = document.processors
    assert processor.parameters_tag is not None and processor.parameters_tag.name == "GLOBAL_PARAMETERS"
    assert processor.python_home == r"C:\Users\me\miniconda3\envs\oe-python-plugin"
    edited = set_parameter(document, "python_home", r"D:\envs\oe")
    assert edited == original.replace(rb"C:\Users\me\miniconda3\envs\oe-python-plugin", rb"D:\envs\oe")


def test_crlf_and_bom_are_kept(chain_data: Path) -> None:
    original = b"\xef\xbb\xbf" + (chain_data / "chain_v1.xml").read_bytes().replace(b"\n", b"\r\n")
    edited = set_parameter(parse_chain(original), "python_home", "C:\\oe")
    assert edited.startswith(b"\xef\xbb\xbf<?xml")
    assert edited.count(b"\r\n") == original.count(b"\r\n")
    assert b"\n" not in edited.replace(b"\r\n", b"")
    assert [p.python_home for p in parse_chain(edited).processors] == ["C:\\oe", "C:\\oe"]


def test_other_8bit_encoding_is_respected() -> None:
    original = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<SETTINGS>\n  <SIGNALCHAIN>\n'
        '    <PROCESSOR pluginName="Python Processor" nodeId="7" note="café">\n'
        "      <PROCESSOR_PARAMETERS python_home='/old' script_path='/s.py'/>\n"
        "    </PROCESSOR>\n  </SIGNALCHAIN>\n</SETTINGS>\n"
    ).encode("latin-1")
    edited = set_parameter(parse_chain(original), "python_home", "/opt/é'env")
    assert edited == original.replace(b"'/old'", "'/opt/é&apos;env'".encode("latin-1"))
    assert parse_chain(edited).processors[0].python_home == "/opt/é'env"


def test_processor_without_parameter_element_gets_one() -> None:
    original = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n\n<SETTINGS>\n  <SIGNALCHAIN>\n'
        b'    <PROCESSOR name="Python Processor" pluginName="Python Processor" nodeId="101">\n'
        b'      <EDITOR isCollapsed="0"/>\n    </PROCESSOR>\n'
        b'    <PROCESSOR name="Python Processor" pluginName="Python Processor" nodeId="102"/>\n'
        b'  </SIGNALCHAIN>\n  <AUDIO bufferSize="1024"/>\n</SETTINGS>\n'
    )
    edited = set_parameter(parse_chain(original), "python_home", "/h")
    assert edited == original.replace(
        b'nodeId="101">\n', b'nodeId="101">\n      <PROCESSOR_PARAMETERS python_home="/h"/>\n'
    ).replace(
        b'nodeId="102"/>\n',
        b'nodeId="102">\n      <PROCESSOR_PARAMETERS python_home="/h"/>\n    </PROCESSOR>\n',
    )
    assert [p.python_home for p in parse_chain(edited).processors] == ["/h", "/h"]


def test_no_python_processor_leaves_file_byte_identical(tmp_path: Path, chain_data: Path) -> None:
    chain = tmp_path / "no python.xml"
    chain.write_bytes((chain_data / "chain_no_python.xml").read_bytes())
    document, new_data = planned_python_home_edit(chain, NEW_HOME)
    assert not document.processors and new_data == document.data  # configure then leaves it untouched


@pytest.mark.parametrize(
    "broken",
    [
        b'<?xml version="1.0"?>\n<SETTINGS>\n  <SIGNALCHAIN>\n</SETTINGS>\n',
        b'<SETTINGS><PROCESSOR pluginName="Python Processor" a=1/></SETTINGS>',
        b"",
        b"not xml at all",
    ],
)
def test_malformed_xml_is_refused_and_untouched(tmp_path: Path, broken: bytes) -> None:
    chain = tmp_path / "lastConfig.xml"
    chain.write_bytes(broken)
    with pytest.raises(UserFacingError, match="not well-formed XML"):
        planned_python_home_edit(chain, NEW_HOME)
    assert chain.read_bytes() == broken
    assert sorted(os.listdir(tmp_path)) == ["lastConfig.xml"]


def test_not_a_chain_and_unreadable_paths(tmp_path: Path, chain_data: Path) -> None:
    other = tmp_path / "windowState.xml"
    other.write_bytes((chain_data / "windowState.xml").read_bytes())
    with pytest.raises(UserFacingError, match="not an Open Ephys signal chain"):
        read_chain(other)
    with pytest.raises(UserFacingError, match="does not exist"):
        read_chain(tmp_path / "missing.xml")
    with pytest.raises(UserFacingError, match="is a folder"):
        read_chain(tmp_path)


def test_sections_compared_like_the_gui(chain_data: Path) -> None:
    original = (chain_data / "chain_v1.xml").read_bytes()
    edited = set_parameter(parse_chain(original), "python_home", "/x")
    assert sections_equivalent(original, original) is True
    assert sections_equivalent(edited, set_parameter(parse_chain(original), "python_home", "/x")) is True
    assert sections_equivalent(original, edited) is False
    other_audio = original.replace(b'bufferSize="1024"', b'bufferSize="512"')
    assert sections_equivalent(original, other_audio) is False
    # Outside SIGNALCHAIN and AUDIO the GUI does not look.
    other_ui = original.replace(b'<DATAVIEWPORT selectedTab="2"/>', b'<DATAVIEWPORT selectedTab="1"/>')
    assert sections_equivalent(original, other_ui) is True
    assert sections_equivalent(original, b"<broken") is None


def test_reload_on_startup(tmp_path: Path, chain_data: Path) -> None:
    state = tmp_path / "windowState.xml"
    state.write_bytes((chain_data / "windowState.xml").read_bytes())
    assert reload_on_startup(state) is True
    state.write_bytes(state.read_bytes().replace(b'shouldReloadOnStartup="1"', b'shouldReloadOnStartup="0"'))
    assert reload_on_startup(state) is False
    assert reload_on_startup(tmp_path / "missing.xml") is None


def test_escape_attribute() -> None:
    assert escape_attribute('a&b<c>"d"\n') == "a&amp;b&lt;c&gt;&quot;d&quot;&#10;"
    assert escape_attribute("it's", b"'") == "it&apos;s"
