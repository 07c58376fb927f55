"""Upstream's script semantics the host must give too: live method lookup, writable spike data, UTF-8 mode."""

from __future__ import annotations

import json
import os
from pathlib import Path

from native_helpers import run_host, write_script

# Rebinds process in start_acquisition, adds handle_spike after __init__ and deletes it again after two
# spikes; writes each spike waveform in place and keeps it.
REBINDING = """
import json

class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.calls = dict(slow=0, fast=0, spikes=0)
        self.kept = []

    def process(self, data):
        self.calls["slow"] += 1

    def fast(self, data):
        self.calls["fast"] += 1
        data[:] = 0.0

    def on_spike(self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id,
                 spike_data):
        spike_data *= 2.0
        self.kept.append(spike_data)
        self.calls["spikes"] += 1
        if self.calls["spikes"] == 2:
            del self.handle_spike

    def start_acquisition(self):
        self.process = self.fast
        self.handle_spike = self.on_spike

    def stop_acquisition(self):
        assert all(kept.flags.writeable for kept in self.kept)
        with open({out!r}, "w") as stream:
            json.dump(self.calls, stream)
"""

UNICODE = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        print("Début µV", flush=True)
        with open({out!r}, "w") as stream:
            stream.write("Début µV")

    def process(self, data):
        pass
"""


def test_methods_and_handlers_are_looked_up_on_every_call(homes: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "calls.json"
    script = write_script(tmp_path, "rebinding.py", REBINDING.format(out=str(out)))
    for home in homes.values():
        result = run_host(
            "--script", script, "--channels", "2", "--duration", "1", "--spike-rate", "40", home=home
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        calls = json.loads(out.read_text())
        assert calls["slow"] == 0 and calls["fast"] > 0
        assert calls["spikes"] == 2


def test_utf8_mode_under_the_c_locale(homes: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "text.txt"
    script = write_script(tmp_path, "unicode.py", UNICODE.format(out=str(out)))
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    for home in homes.values():
        result = run_host("--script", script, "--channels", "1", "--duration", "0.1", home=home, env=env,
                          json_report=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "Début µV" in result.stdout + result.stderr
        assert out.read_bytes() == "Début µV".encode()


LAB_USER = """
import sys

import lab_shared


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        stdlib = min(i for i, entry in enumerate(sys.path) if entry.endswith("site-packages"))
        assert sys.path.index({lab!r}) > stdlib  # after the Home's own paths
        self.gain = lab_shared.GAIN

    def process(self, data):
        data *= self.gain
"""


def test_pythonpath_entries_come_after_the_homes_paths(homes: dict[str, Path], tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    write_script(lab, "lab_shared.py", "GAIN = 2\n")
    script = write_script(tmp_path / "scripts", "uses_lab.py", LAB_USER.format(lab=str(lab)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(["", str(lab)])}
    for home in homes.values():
        result = run_host("--script", script, "--blocks", "2", home=home, env=env)
        assert result.returncode == 0, result.stderr
        assert result.instance()["blocks_processed"] == 2


EARLY_EVENT = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor
        processor.add_python_event(1, True)
        processor.add_python_event(1, False)

    def start_acquisition(self):
        self.processor.add_python_event(3, False)

    def process(self, data):
        self.processor.add_python_event(2, True)
"""


def test_events_before_start_acquisition_are_dropped_with_one_warning(
    homes: dict[str, Path], tmp_path: Path
) -> None:
    script = write_script(tmp_path, "early.py", EARLY_EVENT)
    result = run_host("--script", script, "--blocks", "3", home=homes["3.12"])
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    early = [w for w in result.report["warnings"] if "before start_acquisition" in w["message"]]
    assert len(early) == 1
    # __init__'s are dropped; start_acquisition's goes out at the first block's first sample, as upstream's
    # (the GUI is acquiring while start_acquisition runs), then process's, one per block.
    events = [
        (e["line"], e["state"], e["block"], e["sample_number"]) for e in result.instance()["events_emitted"]
    ]
    assert events[:2] == [(3, False, 0, 0), (2, True, 0, 0)]
    assert result.instance()["events_emitted_count"] == 4
