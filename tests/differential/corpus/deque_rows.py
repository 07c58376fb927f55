"""Keeps a view of channel 0's row of every block in a deque and computes a threshold from the last eight:
the kept rows must still hold their own blocks' values (upstream gives a fresh array per block)."""

from collections import deque

import numpy as np
from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor
        self.rows = deque(maxlen=8)

    def process(self, data):
        self.rows.append(data[0])
        recent = np.concatenate(self.rows)
        threshold = np.float32(3.0) * recent.std()
        if np.any(data[0] > threshold):
            self.processor.add_python_event(1, True)
        data[1] = threshold
        record("threshold", float(threshold))
