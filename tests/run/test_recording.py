"""Reading and writing Open Ephys Binary recordings, checked against the official reader
(`open-ephys-python-tools` from PyPI) on recordings made from the published format."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from open_ephys.analysis import Session

from oe_pyproc_setup.recording import (
    RecordingError,
    RecordingWriter,
    TtlEvents,
    find_recording_folder,
    iter_blocks,
    open_recording,
)

TTL = [
    (100, 0, True),
    (2500, 0, False),
    (4000, 3, True),
    (4001, 1, True),
    (9000, 3, False),
    (29000, 1, False),
]


def _official(path: Path):  # type: ignore[no-untyped-def]
    session = Session(str(path))
    if getattr(session, "recordnodes", None):
        return session.recordnodes[0].recordings[0]
    return session.recordings[0]


def test_reads_what_the_official_reader_reads(make_recording) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(
        channels=6, samples=20000, bit_volts=[0.195, 0.195, 0.5, 0.195, 0.195, 2.0], ttl=TTL[:5]
    )
    ours = open_recording(made.session)  # found below the session folder
    official = _official(made.session)
    stream = ours.select_stream(None)
    theirs = official.continuous[0]

    assert ours.directory == made.folder
    assert stream.num_samples == theirs.samples.shape[0] == 20000
    assert np.array_equal(stream.samples, theirs.samples)
    assert np.array_equal(stream.sample_numbers, theirs.sample_numbers)
    assert np.array_equal(stream.timestamps, theirs.timestamps)
    assert stream.sample_rate == theirs.metadata.sample_rate
    assert [c.name for c in stream.channels] == theirs.metadata.channel_names
    # Our float32 blocks equal the official µV values (float64) to float32 precision.
    block = stream.scaled_block(1000, 1697)
    assert block.dtype == np.float32 and block.shape == (6, 697) and block.flags.c_contiguous
    np.testing.assert_allclose(block, theirs.get_samples(1000, 1697).T, rtol=1e-6)

    events = official.events
    assert len(stream.ttl) == len(events) == 5
    assert np.array_equal(stream.ttl.sample_numbers, events.sample_number.to_numpy())
    assert np.array_equal(stream.ttl.lines + 1, events.line.to_numpy())  # the reader's lines are 1-based
    assert np.array_equal(stream.ttl.states, events.state.to_numpy().astype(bool))


def test_finds_the_recording_from_any_level(make_recording) -> None:  # type: ignore[no-untyped-def]
    made = make_recording()
    for level in (
        made.session,
        made.session / "Record Node 101",
        made.folder,
        made.folder / "structure.oebin",
    ):
        assert find_recording_folder(level) == made.folder


def test_selects_streams_by_name_or_folder(make_recording) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(streams=("ProbeA-AP", "ProbeA-LFP"), samples=3000)
    recording = open_recording(made.folder)
    assert recording.stream_names() == ["ProbeA-AP", "ProbeA-LFP"]
    assert recording.select_stream("ProbeA-LFP").folder_name == "Neuropix-PXI-100.ProbeA-LFP"
    assert recording.select_stream("neuropix-pxi-100.probea-lfp").stream_name == "ProbeA-LFP"
    with pytest.raises(RecordingError) as raised:
        recording.select_stream("ProbeB-AP")
    message = raised.value.format_message()
    assert "no stream 'ProbeB-AP'" in message and "'ProbeA-AP'" in message and "'ProbeA-LFP'" in message


def _write_copy(stream, output: Path, python_events: TtlEvents | None = None, block: int = 697):  # type: ignore[no-untyped-def]
    writer = RecordingWriter(output, stream)
    for start, stop in iter_blocks(stream.num_samples, block):
        writer.append_block(
            stream.scaled_block(start, stop), stream.sample_numbers[start:stop], stream.timestamps[start:stop]
        )
    writer.add_ttl(stream.ttl)
    if python_events is not None:
        writer.add_ttl(python_events, python_node=105)
    return writer.close()


def test_what_we_write_the_official_reader_reads_back(make_recording, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(channels=5, samples=12000, bit_volts=[0.195, 0.195, 0.195, 0.5, 0.05], ttl=TTL[:5])
    stream = open_recording(made.folder).select_stream(None)
    sent = TtlEvents(
        sample_numbers=made.streams[0].sample_numbers[[10, 700, 701, 5000]],
        lines=np.array([2, 2, 7, 7], dtype=np.int16),
        states=np.array([True, False, True, False]),
    )
    summary = _write_copy(stream, tmp_path / "out", sent)
    assert summary.samples == 12000 and summary.events == 9 and summary.clipped_samples == 0

    official = _official(tmp_path / "out")
    theirs = official.continuous[0]
    assert np.array_equal(theirs.samples, made.streams[0].raw)  # int16 identical after float32 round trip
    assert np.array_equal(theirs.sample_numbers, made.streams[0].sample_numbers)
    assert np.array_equal(theirs.timestamps, made.streams[0].timestamps)
    assert theirs.metadata.bit_volts == made.streams[0].bit_volts
    assert theirs.metadata.stream_name == "ProbeA-AP"

    events = official.events
    recorded = events[events.processor_id == 100]
    python = events[events.processor_id == 105]
    assert np.array_equal(recorded.sample_number.to_numpy(), made.streams[0].ttl_sample_numbers)
    assert np.array_equal(recorded.line.to_numpy(), made.streams[0].ttl_lines + 1)
    assert np.array_equal(recorded.state.to_numpy().astype(bool), made.streams[0].ttl_states)
    assert np.array_equal(python.sample_number.to_numpy(), sent.sample_numbers)
    assert np.array_equal(python.line.to_numpy(), sent.lines + 1)
    assert np.array_equal(python.state.to_numpy().astype(bool), sent.states)

    # And our own reader agrees with itself on what we wrote.
    again = open_recording(tmp_path / "out").select_stream(None)
    assert np.array_equal(again.samples, made.streams[0].raw)
    words = np.load(
        summary.directory / "events" / "Python_Processor-105.ProbeA-AP" / "TTL" / "full_words.npy"
    )
    assert words.tolist() == [4, 0, 128, 0]


def test_processed_values_are_rounded_and_clipped_like_the_gui(make_recording, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(channels=2, samples=4, bit_volts=[0.5, 0.5])
    stream = open_recording(made.folder).select_stream(None)
    writer = RecordingWriter(tmp_path / "out", stream)
    data = np.array([[0.74, 0.76, -0.76, 1e9], [-1e9, 16383.5, 0.0, 0.25]], dtype=np.float32)
    writer.append_block(data, stream.sample_numbers, stream.timestamps)
    summary = writer.close()
    assert summary.clipped_samples == 2
    written = np.fromfile(
        summary.directory / "continuous" / stream.folder_name / "continuous.dat", dtype="<i2"
    )
    assert written.reshape(4, 2).T.tolist() == [[1, 2, -2, 32767], [-32768, 32767, 0, 0]]


def test_output_folder_is_never_overwritten_and_abort_leaves_nothing(make_recording, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(samples=100)
    stream = open_recording(made.folder).select_stream(None)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "mine.txt").write_text("keep me")
    with pytest.raises(RecordingError, match="already exists and is not an empty folder"):
        RecordingWriter(taken, stream)
    assert (taken / "mine.txt").read_text() == "keep me"

    writer = RecordingWriter(tmp_path / "fresh", stream)
    writer.append_block(stream.scaled_block(0, 50), stream.sample_numbers[:50], stream.timestamps[:50])
    writer.abort()
    assert not (tmp_path / "fresh").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    empty = tmp_path / "empty"
    empty.mkdir()
    assert _write_copy(stream, empty).directory == empty / "experiment1" / "recording1"


def test_legacy_gui_05_layout_is_read(tmp_path: Path) -> None:
    """GUI 0.5: sample numbers in timestamps.npy (int64), channel_states.npy for TTL."""
    folder = tmp_path / "experiment1" / "recording1"
    cont = folder / "continuous" / "Rhythm_FPGA-100.0"
    cont.mkdir(parents=True)
    raw = np.arange(30, dtype="<i2").reshape(10, 3)
    raw.tofile(cont / "continuous.dat")
    np.save(cont / "timestamps.npy", np.arange(500, 510, dtype=np.int64))
    ttl = folder / "events" / "Rhythm_FPGA-100.0" / "TTL_1"
    ttl.mkdir(parents=True)
    np.save(ttl / "channel_states.npy", np.array([2, -2], dtype=np.int16))
    np.save(ttl / "timestamps.npy", np.array([503, 507], dtype=np.int64))
    oebin = {
        "GUI version": "0.5.5",
        "continuous": [
            {
                "folder_name": "Rhythm_FPGA-100.0/",
                "sample_rate": 30000,
                "source_processor_name": "Rhythm FPGA",
                "source_processor_id": 100,
                "num_channels": 3,
                "channels": [{"channel_name": f"CH{i}", "bit_volts": 0.195} for i in range(3)],
            }
        ],
    }
    (folder / "structure.oebin").write_text(json.dumps(oebin))
    stream = open_recording(tmp_path).select_stream(None)
    assert np.array_equal(stream.samples, raw)
    assert stream.sample_numbers.tolist() == list(range(500, 510))
    assert stream.ttl.sample_numbers.tolist() == [503, 507]
    assert stream.ttl.lines.tolist() == [1, 1] and stream.ttl.states.tolist() == [True, False]


# ---------------------------------------------------------------------------------------------- broken inputs


def _message(raised: pytest.ExceptionInfo[RecordingError]) -> str:
    return raised.value.format_message()


def test_missing_structure_oebin(tmp_path: Path) -> None:
    (tmp_path / "experiment1" / "recording1" / "continuous").mkdir(parents=True)
    with pytest.raises(RecordingError) as raised:
        open_recording(tmp_path)
    assert "no structure.oebin" in _message(raised) and "not an Open Ephys recording" in _message(raised)
    with pytest.raises(RecordingError, match="no such file or folder"):
        open_recording(tmp_path / "nowhere")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(RecordingError, match="is a file"):
        open_recording(tmp_path / "notes.txt")


def test_truncated_dat_partial_sample(make_recording) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(channels=4, samples=1000)
    dat = made.folder / "continuous" / made.streams[0].folder_name / "continuous.dat"
    os.truncate(dat, dat.stat().st_size - 3)
    with pytest.raises(RecordingError) as raised:
        open_recording(made.folder)
    assert "is truncated" in _message(raised) and "5 of its 8 bytes" in _message(raised)


def test_truncated_dat_whole_samples_disagrees_with_sample_numbers(make_recording) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(channels=4, samples=1000)
    dat = made.folder / "continuous" / made.streams[0].folder_name / "continuous.dat"
    os.truncate(dat, dat.stat().st_size - 8 * 10)
    with pytest.raises(RecordingError) as raised:
        open_recording(made.folder)
    assert "holds 990 samples" in _message(raised) and "sample_numbers.npy has shape (1000,)" in _message(
        raised
    )


def test_missing_dat_and_malformed_oebin(make_recording) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(samples=100)
    oebin = made.folder / "structure.oebin"
    original = oebin.read_text()
    oebin.write_text(original[:-20])
    with pytest.raises(RecordingError, match=r"is not valid JSON \(line \d+, column \d+"):
        open_recording(made.folder)
    oebin.write_text(original)
    (made.folder / "continuous" / made.streams[0].folder_name / "continuous.dat").unlink()
    with pytest.raises(RecordingError, match=r"continuous data of stream .* is missing"):
        open_recording(made.folder)


def test_ambiguous_session_lists_its_recordings(make_recording, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(samples=10)
    second = made.session / "Record Node 101" / "experiment1" / "recording2"
    second.mkdir()
    (second / "structure.oebin").write_text(json.dumps({"GUI version": "1.0.1", "continuous": []}))
    with pytest.raises(RecordingError) as raised:
        find_recording_folder(made.session)
    assert "holds 2 recordings" in _message(raised) and "recording2" in _message(raised)


def test_empty_stream_opens_and_corrupt_npy_is_named(make_recording) -> None:  # type: ignore[no-untyped-def]
    empty = make_recording(channels=2, samples=0, signal=np.zeros((0, 2), dtype=np.int16))
    assert open_recording(empty.folder).select_stream(None).num_samples == 0

    made = make_recording(channels=2, samples=10)
    numbers = made.folder / "continuous" / made.streams[0].folder_name / "sample_numbers.npy"
    numbers.write_bytes(numbers.read_bytes()[:20])
    with pytest.raises(RecordingError) as raised:
        open_recording(made.folder)
    assert str(numbers) in _message(raised) and "truncated or corrupt" in _message(raised)


@pytest.mark.parametrize("count", [0, 1, 255, 256, 257, 4096, 5000])
def test_channel_major_is_the_transpose(count: int) -> None:
    from oe_pyproc_setup.run.inputs import channel_major

    samples = np.random.default_rng(count).integers(-30000, 30000, size=(count, 7)).astype("<i2")
    result = channel_major(samples[:, :5])  # a strided view, as a channel subset of a memory map is
    assert result.flags.c_contiguous and result.dtype == np.dtype("<i2")
    assert np.array_equal(result, samples[:, :5].T)


@pytest.mark.parametrize(
    ("bit_volts", "why"),
    [
        (0.0, "must be positive"),
        (-0.195, "must be positive"),
        (float("nan"), "not a finite number"),
        (float("inf"), "not a finite number"),
        (1e12, "beyond any recording system's"),
        (1e-20, "beyond any recording system's"),
    ],
)
def test_impossible_bit_volts_is_refused_with_the_field_named(
    make_recording, bit_volts: float, why: str
) -> None:  # type: ignore[no-untyped-def]
    """One bad channel among good ones: once produced a silent channel of zeros with exit code 0."""
    made = make_recording(samples=100, channels=4, bit_volts=[0.195, 0.195, bit_volts, 0.195])
    with pytest.raises(RecordingError) as refused:
        open_recording(made.folder)
    message = refused.value.message
    assert "'bit_volts'" in message and "channel 2" in message and why in message


def test_impossible_channel_count_and_sample_rate_are_refused(make_recording) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(samples=100, channels=4)
    oebin = made.folder / "structure.oebin"
    original = json.loads(oebin.read_text())
    for field, value, expected in (
        ("num_channels", 5, "num_channels is 5 but 4 channels are listed"),
        ("num_channels", "4", "'num_channels' is not a whole number"),
        ("sample_rate", 0, "sample_rate must be positive"),
        ("sample_rate", -30000.0, "sample_rate must be positive"),
        ("sample_rate", 1e12, "beyond any acquisition board's"),
    ):
        changed = json.loads(json.dumps(original))
        changed["continuous"][0][field] = value
        oebin.write_text(json.dumps(changed))
        with pytest.raises(RecordingError, match=expected):
            open_recording(made.folder)
