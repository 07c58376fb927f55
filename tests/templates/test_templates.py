"""Every template runs in the plugin's call order on synthetic data and does what its docstring says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import signal
from template_harness import Spike, Ttl, load_template, random_block_sizes, run_template

from oe_pyproc_setup.templates import TEMPLATE_IDS, template_description, template_path, templates_dir

FS = 30000.0
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def constant_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper())
    return names


def test_every_id_has_a_file_and_nothing_else_is_there() -> None:
    assert templates_dir() == TEMPLATES
    assert sorted(p.stem for p in TEMPLATES.glob("*.py")) == sorted(TEMPLATE_IDS)
    for template_id in TEMPLATE_IDS:
        assert template_path(template_id) == TEMPLATES / f"{template_id}.py"


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_docstring_documents_every_parameter(template_id: str) -> None:
    path = TEMPLATES / f"{template_id}.py"
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    assert docstring
    assert template_description(template_id) == docstring.splitlines()[0]
    assert template_description(template_id).endswith(".")
    parameters = docstring.split("Parameters (edit the constants below):", 1)
    assert len(parameters) == 2, "the docstring must list the parameters"
    documented = set(re.findall(r"^\s{4}([A-Z][A-Z0-9_]*):", parameters[1], flags=re.MULTILINE))
    assert documented == constant_names(path)
    assert documented, "every template has at least one parameter"


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_every_template_runs_cleanly_with_events_spikes_and_recording(
    template_id: str, tmp_path: Path
) -> None:
    rng = np.random.default_rng(1)
    data = (rng.standard_normal((8, 20000)) * 50).astype(np.float32)
    data[0, 5000:5010] += 400  # a crossing for ttl_threshold
    ttl = [Ttl(100, 1, True), Ttl(800, 1, False), Ttl(15000, 3, True)]
    spikes = [Spike(s, f"Electrode {s % 3}") for s in range(50, 20000, 450)]
    run = run_template(
        TEMPLATES / f"{template_id}.py",
        data,
        FS,
        random_block_sizes(2, 1, 1500),
        ttl,
        spikes,
        recording_dir=tmp_path / "Record Node 101",
        record_blocks=(2, 10),
    )
    assert np.isfinite(run.output).all()
    assert len(run.block_starts) > 10


def test_processor_template_passes_data_through_and_applies_gain() -> None:
    data = np.random.default_rng(3).standard_normal((4, 3000)).astype(np.float32)
    run = run_template(TEMPLATES / "processor.py", data, FS, iter(lambda: 697, None))
    np.testing.assert_array_equal(run.output, data)
    run = run_template(TEMPLATES / "processor.py", data, FS, iter(lambda: 697, None), constants={"GAIN": 2.0})
    np.testing.assert_array_equal(run.output, data * np.float32(2.0))


def test_processor_template_has_every_method_of_the_contract() -> None:
    module = load_template(TEMPLATES / "processor.py")
    for method in (
        "__init__",
        "process",
        "start_acquisition",
        "stop_acquisition",
        "start_recording",
        "stop_recording",
        "handle_ttl_event",
        "handle_spike",
    ):
        assert getattr(module.PyProcessor, method).__doc__, method


# --- bandpass -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_bandpass_blockwise_equals_whole_signal_filtering(seed: int) -> None:
    rng = np.random.default_rng(seed)
    channels = int(rng.integers(1, 40))
    data = (rng.standard_normal((channels, 12000)) * 100).astype(np.float32)
    run = run_template(TEMPLATES / "bandpass.py", data, FS, random_block_sizes(seed, 1, 2000))
    module = load_template(TEMPLATES / "bandpass.py")
    sos = signal.butter(module.ORDER, [module.LOW_HZ, module.HIGH_HZ], btype="bandpass", fs=FS, output="sos")
    expected, _ = signal.sosfilt(sos, data, axis=-1, zi=np.zeros((sos.shape[0], channels, 2)))
    assert_allclose(run.output, expected.astype(np.float32), rtol=1e-6, atol=1e-4)
    assert not np.allclose(run.output, data)


def test_bandpass_is_a_band_pass_and_restarts_with_zero_state() -> None:
    fs = 30000.0
    t = np.arange(30000) / fs
    in_band = np.sin(2 * np.pi * 1000 * t)
    below = np.sin(2 * np.pi * 20 * t)
    above = np.sin(2 * np.pi * 12000 * t)
    data = np.stack([in_band, below, above]).astype(np.float32)
    first = run_template(TEMPLATES / "bandpass.py", data, fs, iter(lambda: 697, None))
    settled = first.output[:, 6000:]
    assert 0.9 < np.abs(settled[0]).max() < 1.1
    assert np.abs(settled[1]).max() < 0.01
    assert np.abs(settled[2]).max() < 0.05
    # A second run (new instance) starts from zero state: identical output.
    second = run_template(TEMPLATES / "bandpass.py", data, fs, iter(lambda: 1024, None))
    assert_allclose(second.output, first.output, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("sample_rate", "low", "high"), [(10000.0, 300.0, 6000.0), (30000.0, 300.0, 15000.0)]
)
def test_bandpass_refuses_a_band_above_nyquist(sample_rate: float, low: float, high: float) -> None:
    data = np.zeros((2, 100), dtype=np.float32)
    with pytest.raises(ValueError, match=r"Nyquist = .* Hz .*edit LOW_HZ/HIGH_HZ"):
        run_template(
            TEMPLATES / "bandpass.py", data, sample_rate, [100], constants={"LOW_HZ": low, "HIGH_HZ": high}
        )


def test_bandpass_refuses_an_inverted_band() -> None:
    with pytest.raises(ValueError, match="LOW_HZ < HIGH_HZ"):
        run_template(
            TEMPLATES / "bandpass.py",
            np.zeros((1, 10), np.float32),
            FS,
            [10],
            constants={"LOW_HZ": 500.0, "HIGH_HZ": 400.0},
        )


def test_bandpass_modifies_the_block_in_place() -> None:
    module = load_template(TEMPLATES / "bandpass.py")
    instance = module.PyProcessor(None, 3, FS)
    block = np.random.default_rng(0).standard_normal((3, 697)).astype(np.float32)
    before = block.copy()
    address = block.__array_interface__["data"][0]
    assert instance.process(block) is None
    assert block.__array_interface__["data"][0] == address
    assert block.dtype == np.float32
    assert not np.allclose(block, before)


# --- ttl_threshold --------------------------------------------------------------------------------


def pulse_signal(positions: list[int], length: int, level: float = 300.0) -> np.ndarray:
    data = np.zeros((3, length), dtype=np.float32)
    for position in positions:
        data[1, position : position + 5] = level  # channel 1 is the watched one below
    return data


def expected_pulses(positions: list[int], pulse: int, refractory: int, length: int) -> list[tuple[int, bool]]:
    events: list[tuple[int, bool]] = []
    next_allowed = 0
    for position in positions:
        if position < next_allowed:
            continue
        events.append((position, True))
        if position + pulse < length:
            events.append((position + pulse, False))
        next_allowed = position + refractory
    return sorted(events, key=lambda event: (event[0], event[1]))


@pytest.mark.parametrize("seed", range(6))
def test_ttl_threshold_offsets_exact_and_refractory_across_blocks(seed: int) -> None:
    # 1 ms pulse = 30 samples, 10 ms refractory = 300 samples at 30 kHz.
    positions = [100, 250, 697, 1000, 1290, 1300, 1394, 1401, 2090, 2391, 2600, 5000, 5299, 5310, 5999]
    data = pulse_signal(positions, 6000)
    sizes = random_block_sizes(seed, 1, 700) if seed else iter(lambda: 697, None)
    run = run_template(
        TEMPLATES / "ttl_threshold.py", data, FS, sizes, constants={"CHANNEL": 1, "TTL_LINE": 7}
    )
    got = [(event.sample, event.state) for event in run.processor.events]
    assert got == expected_pulses(positions, 30, 300, 6000)
    assert {event.line for event in run.processor.events} == {7}
    np.testing.assert_array_equal(run.output, data)  # data passes through


def test_ttl_threshold_block_boundary_crossing_has_offset_zero() -> None:
    data = pulse_signal([697, 1394 + 696], 3000)
    run = run_template(
        TEMPLATES / "ttl_threshold.py", data, FS, iter(lambda: 697, None), constants={"CHANNEL": 1}
    )
    rising = [(e.block, e.offset) for e in run.processor.events if e.state]
    assert rising == [(1, 0), (2, 696)]
    falling = [(e.block, e.offset) for e in run.processor.events if not e.state]
    assert falling == [(1, 30), (3, 696 + 30 - 697)]


def test_ttl_threshold_falling_direction_and_no_trigger_when_already_beyond() -> None:
    data = np.zeros((1, 4000), dtype=np.float32)
    data[0, :50] = -500  # beyond from the start: not a crossing
    data[0, 1000:1003] = -500
    data[0, 2000:2003] = 500  # the wrong direction
    run = run_template(
        TEMPLATES / "ttl_threshold.py",
        data,
        FS,
        random_block_sizes(9, 1, 300),
        constants={"RISING": False, "THRESHOLD": -100.0, "CHANNEL": 0},
    )
    assert [(e.sample, e.state) for e in run.processor.events] == [(1000, True), (1030, False)]


def test_ttl_threshold_checks_its_parameters() -> None:
    data = np.zeros((2, 10), dtype=np.float32)
    with pytest.raises(ValueError, match="CHANNEL = 5"):
        run_template(TEMPLATES / "ttl_threshold.py", data, FS, [10], constants={"CHANNEL": 5})
    with pytest.raises(ValueError, match="0-255"):
        run_template(TEMPLATES / "ttl_threshold.py", data, FS, [10], constants={"TTL_LINE": 256})


# --- spike_rate -----------------------------------------------------------------------------------


def test_spike_rate_counts_and_rates_per_electrode(capsys: pytest.CaptureFixture[str]) -> None:
    length = int(3 * FS)
    spikes = [Spike(s, "E1") for s in range(10, length, 300)]  # 100 Hz
    spikes += [Spike(s, "E2", sorted_id=2) for s in range(20, length, 1500)]  # 20 Hz
    data = np.zeros((2, length), dtype=np.float32)
    run = run_template(
        TEMPLATES / "spike_rate.py",
        data,
        FS,
        random_block_sizes(4, 200, 900),
        spikes=spikes,
        constants={"REPORT_EVERY_S": 1.0},
    )
    assert run.instance.total_spikes == {
        "E1": len(range(10, length, 300)),
        "E2": len(range(20, length, 1500)),
    }
    rates = run.instance.rates()
    assert rates["E1"] == pytest.approx(100.0, rel=0.05)
    assert rates["E2"] == pytest.approx(20.0, rel=0.1)
    assert 1.0 <= run.instance.window_length / FS < 1.0 + 900 / FS
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 3
    assert printed[-1].startswith("spike_rate: E1: ")
    np.testing.assert_array_equal(run.output, data)


def test_spike_rate_sorted_only_and_rate_drops_to_zero() -> None:
    spikes = [Spike(s, "E1", sorted_id=0) for s in range(0, 30000, 100)]
    spikes += [Spike(s, "E2", sorted_id=1) for s in range(0, 30000, 100)]
    data = np.zeros((1, 90000), dtype=np.float32)  # two silent seconds after the spikes
    run = run_template(
        TEMPLATES / "spike_rate.py",
        data,
        FS,
        iter(lambda: 697, None),
        spikes=spikes,
        constants={"SORTED_ONLY": True, "REPORT_EVERY_S": 0},
    )
    assert run.instance.total_spikes == {"E2": 300}
    assert run.instance.rates() == {"E2": 0.0}


# --- recording_log --------------------------------------------------------------------------------


def test_recording_log_writes_into_the_recording_folder(tmp_path: Path) -> None:
    folder = tmp_path / "Record Node 101 ü" / "experiment1" / "recording1"
    data = np.zeros((4, 7000), dtype=np.float32)
    ttl = [Ttl(10, 0, True), Ttl(1500, 0, False), Ttl(3000, 2, True), Ttl(6990, 2, False)]
    run = run_template(
        TEMPLATES / "recording_log.py",
        data,
        FS,
        iter(lambda: 697, None),
        ttl_events=ttl,
        recording_dir=folder,
        record_blocks=(1, 8),  # samples 697..6272: events at 1500 and 3000 are inside
    )
    log = (folder / "python_processor_log.txt").read_text(encoding="utf-8")
    lines = log.splitlines()
    assert lines[0].startswith("recording started ") and str(folder) in lines[0]
    assert "4 channels at 30000 Hz" in lines[0]
    assert lines[1:3] == [
        "ttl sample=1500 line=0 state=0 channel=TTL source=100",
        "ttl sample=3000 line=2 state=1 channel=TTL source=100",
    ]
    assert lines[3].startswith("recording stopped ") and "8 blocks, 5576 samples" in lines[3]
    assert "2 TTL events" in lines[3]
    assert len(lines) == 4
    assert run.instance.log is None  # closed


def test_recording_log_stop_acquisition_closes_an_open_log(tmp_path: Path) -> None:
    module = load_template(TEMPLATES / "recording_log.py")
    instance = module.PyProcessor(None, 2, FS)
    instance.start_recording(str(tmp_path))
    instance.process(np.zeros((2, 100), np.float32))
    instance.stop_acquisition()
    assert instance.log is None
    assert "1 blocks, 100 samples" in (tmp_path / module.LOG_NAME).read_text(encoding="utf-8")
    instance.stop_recording()  # a second stop is harmless
