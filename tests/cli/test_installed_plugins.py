"""installedPlugins.xml edits (install/installed_plugins.py): entries cut out of the original bytes exactly,
whatever the file's layout, and put back into a file the GUI rewrote."""

from __future__ import annotations

from pathlib import Path

import pytest

from oe_pyproc_setup.install.installed_plugins import plan_removal, read_entries, with_entries_put_back

HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n\n<PluginInstaller gui_version="1.0.1">\n  <InstalledPlugins>\n'
)
TAIL = b"  </InstalledPlugins>\n</PluginInstaller>\n"
OTHER = b'    <OtherPlugin version="1.2.0" dllName="other.so"/>\n'
OURS_SELF_CLOSING = b'    <python-processor version="0.1.6" dllName="python-processor.so"/>\n'
OURS_EXPLICIT = b'    <python-processor version="0.1.6" dllName="python-processor.so"></python-processor>\n'


def plugins(tmp_path: Path, data: bytes) -> tuple[Path, Path]:
    folder = tmp_path / "plugins-api10"
    folder.mkdir()
    (folder / "installedPlugins.xml").write_bytes(data)
    return folder, folder / "installedPlugins.xml"


@pytest.mark.parametrize("entry", [OURS_SELF_CLOSING, OURS_EXPLICIT], ids=["self-closing", "explicit-end"])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_the_moved_plugins_entry_is_cut_out_exactly(tmp_path: Path, entry: bytes, newline: bytes) -> None:
    original = (HEAD + OTHER + entry + TAIL).replace(b"\n", newline)
    folder, xml = plugins(tmp_path, original)
    edit = plan_removal(xml, folder, [folder / "python-processor.so"])
    assert edit is not None
    assert edit.new == (HEAD + OTHER + TAIL).replace(b"\n", newline)
    assert edit.removed == [entry.replace(b"\n", newline)]
    assert with_entries_put_back(edit.new, edit.removed) == original


def test_entries_on_one_line_keep_the_rest_of_the_line(tmp_path: Path) -> None:
    original = b'<PluginInstaller><InstalledPlugins><A dllName="a.so"/><B dllName="python-processor.so"/>' + (
        b"</InstalledPlugins></PluginInstaller>"
    )
    folder, xml = plugins(tmp_path, original)
    edit = plan_removal(xml, folder, [folder / "python-processor.so"])
    assert edit is not None
    assert (
        edit.new
        == b'<PluginInstaller><InstalledPlugins><A dllName="a.so"/></InstalledPlugins></PluginInstaller>'
    )
    assert read_entries(with_entries_put_back(edit.new, edit.removed) or b"") is not None


@pytest.mark.parametrize(
    "data",
    [b"", b"<not xml", b"<Other><InstalledPlugins/></Other>", HEAD + OTHER + TAIL],
    ids=["empty", "malformed", "other-root", "no-entry"],
)
def test_nothing_to_do_leaves_the_file_alone(tmp_path: Path, data: bytes) -> None:
    folder, xml = plugins(tmp_path, data)
    assert plan_removal(xml, folder, [folder / "python-processor.so"]) is None
    assert xml.read_bytes() == data


def test_a_tampered_entry_is_not_put_back(tmp_path: Path) -> None:
    current = HEAD + OTHER + TAIL
    assert with_entries_put_back(current, [b"</InstalledPlugins><Evil/>"]) is None
    assert with_entries_put_back(current, [b"<a/><b/>"]) is None
    assert with_entries_put_back(current, [OTHER]) == current  # listed again already: not doubled
