"""Skeleton with every method of the Python Processor's script contract, each one documented.

Start here when no other template fits. The plugin calls the methods below on the GUI's audio thread
(``process`` and the event handlers) or its message thread (the others); keep ``process`` fast and
allocation-free: a 30 kHz stream arrives as blocks of about 700 samples, roughly every 23 ms.

Parameters (edit the constants below):
    GAIN: the factor ``process`` multiplies every sample by; 1.0 leaves the data unchanged.
"""

import numpy as np

GAIN = 1.0


class PyProcessor:
    """The plugin creates one instance per loaded script and calls its methods in this order:
    ``__init__``, ``start_acquisition``, then per block: that block's TTL events, its spikes, ``process``;
    ``start_recording``/``stop_recording`` whenever recording starts or stops; ``stop_acquisition``.
    """

    def __init__(self, processor, num_channels, sample_rate):
        """Called on load, on reload, and when the selected stream or its channel count changes.

        processor: the plugin's object; ``processor.add_python_event(line, state, offset=0)`` sends a TTL
            event (line 0-255) downstream at sample ``offset`` of the current block.
        num_channels: the number of rows of ``data`` in ``process``.
        sample_rate: the stream's sample rate in Hz.
        """
        self.processor = processor
        self.num_channels = int(num_channels)
        self.sample_rate = float(sample_rate)
        self.gain = np.float32(GAIN)

    def process(self, data):
        """Called for every block of the selected stream, after that block's events.

        data: float32 array of shape (num_channels, num_samples), C-contiguous. Modify it in place
            (``data *= 2``, ``data[:] = ...``); rebinding the name ``data`` changes nothing downstream.
            Do not keep a reference to it after returning: its memory belongs to the GUI.
        """
        if self.gain != 1.0:
            data *= self.gain

    def start_acquisition(self):
        """Called when acquisition starts, before the first block."""

    def stop_acquisition(self):
        """Called when acquisition stops, after the last block."""

    def start_recording(self, recording_dir):
        """Called when recording starts; recording_dir is the absolute path of the recording folder."""

    def stop_recording(self):
        """Called when recording stops."""

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        """Called for each TTL event on the selected stream, before ``process`` of its block.

        source_node: the id of the processor that created the event.
        channel: the event channel's name.
        sample_number: the event's sample number in the stream.
        line: the TTL line (0-255). state: True for a rising edge, False for a falling one.
        """

    def handle_spike(
        self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id, spike_data
    ):
        """Called for each spike on the selected stream, before ``process`` of its block.

        source_node: the id of the processor that detected the spike.
        electrode_name: the electrode's name. num_channels, num_samples: the waveform's shape.
        sample_number: the spike's peak sample number in the stream. sorted_id: its unit (0 = unsorted).
        spike_data: the waveform, float32 (num_channels, num_samples), a fresh copy you may modify or keep.
        """
