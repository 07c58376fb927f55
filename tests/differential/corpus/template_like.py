"""Behaves as upstream's published processor template: prints the stream, defines every method and
does nothing else."""

import numpy as np  # noqa: F401  (the template imports both)
import oe_pyprocessor  # noqa: F401


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        print("Num Channels: ", num_channels, " | Sample Rate: ", sample_rate)

    def process(self, data):
        pass

    def start_acquisition(self):
        pass

    def stop_acquisition(self):
        pass

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        pass

    def handle_spike(
        self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id, spike_data
    ):
        pass

    def start_recording(self, recording_dir):
        pass

    def stop_recording(self):
        pass
