"""Behaves as upstream's published bandpass example: a 2nd-order Butterworth band-pass (500-2000 Hz) as
second-order sections, applied with sosfilt to every channel of every block, each block filtered from a
zero state (no zi: the output is discontinuous at block edges, as upstream's is), errors swallowed."""

import numpy as np
from scipy import signal


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.num_channels = num_channels
        sections = signal.butter(2, [500, 2000], btype="bandpass", output="sos", fs=sample_rate)
        self.sections = np.asarray([sections] * num_channels)

    def process(self, data):
        try:
            for channel in range(self.num_channels):
                data[channel] = signal.sosfilt(self.sections[channel], data[channel])
        except Exception:
            pass
