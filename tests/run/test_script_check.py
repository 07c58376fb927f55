"""The static check `run` does before anything starts: findings with line numbers, nothing imported."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.script_check import check_script, check_source

from .conftest import REPO_ROOT


def _check(source: str):  # type: ignore[no-untyped-def]
    return check_source(textwrap.dedent(source).lstrip("\n"), Path("script.py"))


def _at(result, line: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"{f.severity}: {f.message}" for f in result.findings if f.line == line]


@pytest.mark.parametrize(
    "template", ["processor", "bandpass", "ttl_threshold", "spike_rate", "recording_log"]
)
def test_every_template_is_clean(template: str) -> None:
    result = check_script(REPO_ROOT / "templates" / f"{template}.py")
    assert result.findings == [], result.render()


def test_syntax_error_has_line_column_and_caret() -> None:
    result = _check(
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                pass
            def process(self, data)
                pass
        """
    )
    assert not result.ok
    (finding,) = result.findings
    assert (finding.line, finding.severity) == (4, "error")
    assert finding.message.startswith("syntax error")
    assert "def process(self, data)" in finding.hint and finding.hint.rstrip().endswith("^")
    assert result.render().startswith("script.py:4:")


def test_missing_class_and_near_miss_class_name() -> None:
    assert "no class PyProcessor" in _check("x = 1\n").findings[0].message
    result = _check(
        """
        import numpy as np

        class PyProcesor:
            pass
        """
    )
    assert _at(result, 3) == [
        "error: no class PyProcessor at the top level of the script; class 'PyProcesor' looks like it"
    ]


def test_required_methods_and_their_signatures() -> None:
    result = _check(
        """
        class PyProcessor:
            def __init__(self, processor, num_channels):
                pass
        """
    )
    assert not result.ok
    assert any("takes (processor, num_channels)" in m and "3 arguments" in m for m in _at(result, 2))
    assert any("has no process() method" in m for m in _at(result, 1))

    ok = _check(
        """
        class PyProcessor:
            def __init__(self, *args):
                pass
            def process(self, data, extra=None):
                pass
            def handle_ttl_event(self, source_node, channel, sample_number, line, state):
                pass
            def start_recording(self, recording_dir):
                pass
        """
    )
    assert ok.findings == []

    wrong = _check(
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                pass
            def process(self):
                pass
            def handle_ttl_event(self, line, state):
                pass
            def start_recording(self):
                pass
            async def stop_acquisition(self):
                pass
        """
    )
    assert [f.line for f in wrong.errors] == [4, 6, 8, 10]
    assert "plugin calls it with 1 argument (data)" in wrong.errors[0].message
    assert "async def" in wrong.errors[3].message


def test_swapped_argument_names_are_a_warning() -> None:
    result = _check(
        """
        class PyProcessor:
            def __init__(self, processor, sample_rate, num_channels):
                pass
            def process(self, data):
                pass
        """
    )
    assert result.ok
    assert any("another order" in m for m in _at(result, 2))


def test_misspelled_optional_methods_are_found_with_suggestions() -> None:
    result = _check(
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                pass
            def process(self, data):
                pass
            def handle_ttl(self, source_node, channel, sample_number, line, state):
                pass
            def start_recoding(self, recording_dir):
                pass
            def stop_aquisition(self):
                pass
            def handle_spikes(self, *args):
                pass
            def reset(self):
                pass
            def compute_threshold(self):
                pass
        """
    )
    assert result.ok  # the script still runs; the handlers just never get called
    assert _at(result, 6) == [
        "warning: PyProcessor.handle_ttl is never called by the plugin; did you mean handle_ttl_event?"
    ]
    assert "did you mean start_recording?" in _at(result, 8)[0]
    assert "did you mean stop_acquisition?" in _at(result, 10)[0]
    assert "did you mean handle_spike?" in _at(result, 12)[0]
    assert _at(result, 14) == [] and _at(result, 16) == []


def test_rebinding_data_and_returning_a_new_array_are_found() -> None:
    result = _check(
        """
        from scipy import signal

        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                self.kept = None
            def process(self, data):
                data *= 0.5
                data[:] = data * 2
                view = data[:, :10]
                data = data[:, ::2]
                data, self.zi = signal.sosfilt(self.sos, data, zi=self.zi)
                data = data * 2
                self.kept = data; self.history.append(data); self.history.append(data.copy())
                def helper(data):
                    data = 1
                    return data
                return data
        """
    )
    assert result.ok
    assert [_at(result, line) for line in (7, 8, 9, 10)] == [[], [], [], []]  # in place, or a view
    assert "rebinds the name 'data'" in _at(result, 11)[0]
    assert "rebinds the name 'data'" in _at(result, 12)[0]
    # Keeping the block is information with its cost (copy-on-keep), not a warning; so is keeping a view.
    assert _at(result, 13)[0].startswith("info: process() keeps `data` after it returns: it holds that")
    assert "one allocation and one copy of the whole block" in _at(result, 13)[0]
    assert _at(result, 13)[1].startswith("info: process() stores `data` in a container")
    assert len(_at(result, 13)) == 2  # `self.history.append(data.copy())` keeps nothing of the block
    assert _at(result, 15) == [] and _at(result, 16) == []  # a nested function's own `data`
    assert "returns a value" in _at(result, 17)[0]


def test_keeping_the_block_or_a_view_of_it_is_information_with_its_cost() -> None:
    result = _check(
        """
        import collections

        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                self.rows = collections.deque(maxlen=4)
            def process(self, data):
                self.rows.append(data[0])
                self.by_block[3] = data.T
                self.previous = data
                self.copies.append(data[0].copy())
                local = data[1]
        """
    )
    assert result.ok and result.warnings == []
    assert [finding.severity for finding in result.findings] == ["info"] * 3
    assert _at(result, 7)[0].startswith("info: process() stores `data[0]` in a container: it holds that")
    assert _at(result, 8)[0].startswith("info: process() keeps `data.T` after it returns")
    assert _at(result, 9)[0].startswith("info: process() keeps `data` after it returns")
    assert "up to one allocation and one copy of the whole block" in _at(result, 9)[0]
    assert result.findings[0].hint.endswith("keep a copy (`data[0].copy()`): a view keeps its whole block.")
    assert result.findings[2].hint == "Nothing to fix: a copy (`data.copy()`) would cost the same."
    assert _at(result, 10) == [] and _at(result, 11) == []  # a copy, a local view: nothing kept
    assert ":7:9: info: process() stores `data[0]`" in result.render()


def test_module_level_contract_function_is_flagged() -> None:
    result = _check(
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                pass
            def process(self, data):
                pass

        def handle_ttl_event(source_node, channel, sample_number, line, state):
            pass
        """
    )
    assert "module-level function" in _at(result, 7)[0]


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(UserFacingError, match="does not exist"):
        check_script(tmp_path / "missing.py")
    with pytest.raises(UserFacingError, match="is a folder"):
        check_script(tmp_path)
    binary = tmp_path / "binary.py"
    binary.write_bytes(b"x = 1\n\xff\xfe")
    assert check_script(binary).findings[0].message == "the script is not UTF-8 text"
    assert check_script(binary).findings[0].line == 2


def test_a_coding_declaration_is_honoured_as_python_does(tmp_path: Path) -> None:
    """Python (and so the plugin) reads a script in its declared encoding: a Latin-1 script loads there."""
    latin1 = tmp_path / "latin1.py"
    latin1.write_bytes(
        b"# -*- coding: latin-1 -*-\n# caf\xe9\nclass PyProcessor:\n"
        b"    def __init__(self, processor, num_channels, sample_rate):\n        pass\n"
        b"    def process(self, data):\n        pass\n"
    )
    assert check_script(latin1).ok and check_script(latin1).findings == []
    unknown = tmp_path / "unknown.py"
    unknown.write_bytes(b"# coding: klingon\nclass PyProcessor:\n    pass\n")
    assert (
        check_script(unknown).findings[0].message
        == "Python cannot read the script: unknown encoding: klingon"
    )
    not_ascii = tmp_path / "ascii.py"
    not_ascii.write_bytes(b"# coding: ascii\nx = 1\n# caf\xe9\n")
    finding = check_script(not_ascii).findings[0]
    assert (finding.line, finding.message) == (3, "the script is not ascii (its coding declaration) text")
