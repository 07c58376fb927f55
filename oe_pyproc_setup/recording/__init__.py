"""Open Ephys recordings in the Binary format: read one continuous stream and its TTL events, write one back.

`reading` opens recordings, `writing` writes one; `model` holds what both share. Only `oe-pyproc run` imports
this package (numpy is the `run` extra). Facts from the published format (GUI
≥ 0.6, "Binary Format" in the GUI documentation) and from what the GUI's Record Node writes:

- A recording folder (`<Record Node>/experimentE/recordingR/`) holds `structure.oebin` (JSON: "GUI version",
  "continuous", "events", "spikes"), `continuous/<folder>/` and `events/<folder>/TTL[_N]/`, where
  `<folder>` is `<source node name>-<source node id>.<stream name>`.
- `continuous.dat`: little-endian int16, interleaved (sample-major: ch1 s1, ch2 s1, … chN s1, ch1 s2, …);
  value × the channel's `bit_volts` is the physical value (µV for headstage channels).
  `sample_numbers.npy` (int64, one per sample), `timestamps.npy` (float64 seconds, one per sample).
  GUI 0.5 wrote the sample numbers to `timestamps.npy` (integer) and had no `sample_numbers.npy`.
- TTL events: `states.npy` (int16, +(line+1) for a rising edge, -(line+1) for a falling one; GUI 0.5:
  `channel_states.npy`), `sample_numbers.npy` (int64), `timestamps.npy` (float64 s), `full_words.npy`
  (uint64, the state of all lines after the event; optional).
- The GUI converts its float buffer to int16 by dividing by `bit_volts`, rounding and clipping.
- Spikes (GUI ≥ 0.6): each entry of the "spikes" list is one electrode ("name", "source_processor_id",
  "stream_name", "num_channels", "folder", "source_channels": [{"bit_volts", ...}]); `spikes/<folder>/` holds
  `waveforms.npy` (n, channels, samples), `sample_numbers.npy` (n, int64), `clusters.npy` (n, the sorted id,
  0 unsorted), `electrode_indices.npy` and `timestamps.npy`. Waveform value × bit_volts is µV (the official
  reader, open-ephys-python-tools, scales every channel by the last source channel's bit_volts; here each
  channel by its own, the same when they are equal).
"""

from oe_pyproc_setup.recording.model import (
    Channel,
    Recording,
    RecordingError,
    SpikeChannel,
    Stream,
    TtlEvents,
    iter_blocks,
)
from oe_pyproc_setup.recording.reading import find_recording_folder, open_recording
from oe_pyproc_setup.recording.writing import RecordingWriter, WrittenSummary

__all__ = [
    "Channel",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "SpikeChannel",
    "Stream",
    "TtlEvents",
    "WrittenSummary",
    "find_recording_folder",
    "iter_blocks",
    "open_recording",
]
