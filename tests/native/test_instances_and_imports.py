"""Rules 7 and 8: several instances with separate state, removal, stale handles; the import policy
(any file name, names of installed modules, helpers next to the script, reload of script and helpers)."""

from __future__ import annotations

import os
from pathlib import Path

from native_helpers import (
    read_channel_major,
    run_host,
    run_host_with_reload,
    write_channel_major,
    write_script,
)

GAIN = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor

    def process(self, data):
        data *= 2
        self.processor.add_python_event(1, True)
"""

OFFSET = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor

    def process(self, data):
        data += 1
        self.processor.add_python_event(2, False, data.shape[1] - 1)
"""


def test_two_different_scripts_in_series(home: Path, tmp_path: Path) -> None:
    gain = write_script(tmp_path / "a", "gain.py", GAIN)
    offset = write_script(tmp_path / "b", "offset.py", OFFSET)
    source = tmp_path / "in.f32"
    write_channel_major(source, 2, 1000, 500, lambda c, s: float(c + s))
    output = tmp_path / "out.f32"
    flags = ["--channels", "2", "--chunk", "500", "--block-size", "100", "--block-jitter", "0"]
    result = run_host(
        "--script", gain, "--script", offset, "--input", source, "--output", output, *flags, home=home
    )
    assert result.returncode == 0, result.stderr
    first, second = result.instance(0), result.instance(1)
    assert {event["line"] for event in first["events_emitted"]} == {1}
    assert {event["line"] for event in second["events_emitted"]} == {2}
    assert [event["sample_number"] for event in second["events_emitted"]] == [99 + 100 * k for k in range(10)]
    rows = read_channel_major(output, 2, 500)
    assert rows[1][:3] == [(1 + 0) * 2 + 1, (1 + 1) * 2 + 1, (1 + 2) * 2 + 1]


COUNTS_GLOBALLY = """
COUNT = 0


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor

    def process(self, data):
        global COUNT
        COUNT += 1
        if COUNT == 5:
            self.processor.add_python_event(5, True)
"""


def test_same_script_twice_keeps_separate_module_state(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "counter.py", COUNTS_GLOBALLY)
    result = run_host("--script", script, "--instances", "3", "--blocks", "20", home=home)
    assert result.returncode == 0, result.stderr
    for index in range(3):
        assert [event["block"] for event in result.instance(index)["events_emitted"]] == [4]


def stale_handle_script(marker: Path) -> str:
    return f"""
    import threading
    import time


    class PyProcessor:
        def __init__(self, processor, num_channels, sample_rate):
            self.processor = processor
            threading.Thread(target=self.keep_sending, daemon=True).start()

        def keep_sending(self):
            while True:
                try:
                    self.processor.add_python_event(9, True)
                except RuntimeError as error:
                    with open({str(marker)!r}, "w") as stream:
                        stream.write(str(error))
                    return
                time.sleep(0.001)

        def process(self, data):
            pass
    """


def test_removing_an_instance_leaves_the_others_and_its_handle_raises(home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "stale-handle.txt"
    stale = write_script(tmp_path, "stale.py", stale_handle_script(marker))
    other = write_script(tmp_path, "other.py", GAIN)
    result = run_host(
        "--script",
        stale,
        "--script",
        other,
        "--blocks",
        "40",
        "--realtime",
        "--remove-at-block",
        "5:0",
        home=home,
    )
    assert result.returncode == 0, result.stderr
    removed, kept = result.instance(0), result.instance(1)
    assert removed["removed_at_block"] == 5
    assert removed["blocks_processed"] == 5
    assert kept["blocks_processed"] == 40
    assert kept["events_emitted_count"] == 40
    assert "instance was removed" in marker.read_text()


HELPER_USER = """
import json
import numpy

import gain_helper


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        assert hasattr(json, "dumps") and hasattr(numpy, "ndarray")  # the real modules, not this file
        self.processor = processor

    def process(self, data):
        data *= gain_helper.GAIN
        self.processor.add_python_event(gain_helper.LINE, True)
"""


def test_file_names_like_versions_or_installed_modules_load(home: Path, tmp_path: Path) -> None:
    for name in ("v1.2.py", "json.py", "numpy.py", "my script.py"):
        folder = tmp_path / name.replace(".", "_").replace(" ", "_")
        write_script(folder, "gain_helper.py", "GAIN = 2\nLINE = 4\n")
        script = write_script(folder, name, HELPER_USER)
        result = run_host("--script", script, "--blocks", "3", home=home)
        assert result.returncode == 0, (name, result.stderr)
        assert result.instance()["events_emitted_count"] == 3


def test_reload_picks_up_changes_in_the_script_and_its_helpers(home: Path, tmp_path: Path) -> None:
    helper = write_script(tmp_path, "gain_helper.py", "GAIN = 2\nLINE = 4\n")
    script = write_script(tmp_path, "uses_helper.py", HELPER_USER)
    source = tmp_path / "in.f32"
    write_channel_major(source, 1, 1000, 1000, lambda c, s: 1.0)
    output = tmp_path / "out.f32"
    flags = ["--channels", "1", "--chunk", "1000", "--block-size", "100", "--block-jitter", "0"]

    def edit() -> None:
        helper.write_text("GAIN = 5\nLINE = 6\n")
        script.write_text(script.read_text().replace("data *= gain_helper.GAIN", "data *= -gain_helper.GAIN"))

    result = run_host_with_reload(
        "--script",
        script,
        "--input",
        source,
        "--output",
        output,
        "--reload-at-block",
        "4",
        *flags,
        home=home,
        edit=edit,
    )
    assert result.returncode == 0, result.stderr
    report = result.report
    assert report is not None
    lines = [event["line"] for event in report["instances"][0]["events_emitted"]]
    assert lines == [4] * 4 + [6] * 6
    [row] = read_channel_major(output, 1, 1000)
    assert row[:400] == [2.0] * 400 and row[400:] == [-5.0] * 600


def test_a_script_in_a_folder_whose_name_is_not_utf8_loads(home: Path, tmp_path: Path) -> None:
    # POSIX file names are bytes (here Latin-1 "été"): the bridge decodes them as Python's os module does.
    folder = tmp_path / os.fsdecode(b"recordings-\xe9t\xe9")
    write_script(folder, "gain_helper.py", "GAIN = 2\nLINE = 4\n")
    script = write_script(folder, "uses_helper.py", HELPER_USER)
    result = run_host("--script", script, "--blocks", "3", home=home)
    assert result.returncode == 0, result.stderr
    assert result.instance()["events_emitted_count"] == 3


def test_a_helper_of_the_same_name_in_another_folder_is_reported_at_load(home: Path, tmp_path: Path) -> None:
    first = tmp_path / "lab_a"
    second = tmp_path / "lab_b"
    write_script(first, "gain_helper.py", "GAIN = 2\nLINE = 4\n")
    write_script(second, "gain_helper.py", "GAIN = 3\nLINE = 5\n")
    script_a = write_script(first, "a.py", HELPER_USER)
    script_b = write_script(second, "b.py", HELPER_USER)
    result = run_host("--script", script_a, "--script", script_b, "--blocks", "3", home=home)
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    shared = [w for w in result.report["warnings"] if "helper module 'gain_helper'" in w["message"]]
    assert len(shared) == 1 and shared[0]["instance"] == 1
    assert str(first / "gain_helper.py") in shared[0]["message"]
