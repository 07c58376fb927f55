"""Normalises each spike waveform in place, keeps them all, and flags large ones with an event."""

import numpy as np
from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor
        self.kept = []

    def handle_spike(
        self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id, spike_data
    ):
        peak = float(np.abs(spike_data).max())
        spike_data -= spike_data.mean(axis=1, keepdims=True)
        spike_data /= peak if peak else 1.0
        self.kept.append(spike_data)
        if peak > 60.0:
            self.processor.add_python_event(2, True)
        record(
            "spike",
            source_node,
            electrode_name,
            num_channels,
            num_samples,
            sample_number,
            sorted_id,
            peak,
            spike_data.dtype.str,
            list(spike_data.shape),
        )

    def process(self, data):
        data[3] = float(len(self.kept))

    def stop_acquisition(self):
        record("kept", [float(kept.sum()) for kept in self.kept])
