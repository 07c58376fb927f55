"""Keeps the last four blocks in a list, concatenates them and removes their mean from this block."""

import numpy as np
from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.blocks = []
        self.by_length = {}

    def process(self, data):
        self.blocks = [*self.blocks[-3:], data]
        self.by_length[data.shape[1]] = data[:, :10]
        window = np.concatenate(self.blocks, axis=1)
        data -= window.mean(axis=1, keepdims=True)
        record(
            "window",
            window.shape[1],
            float(window[0].sum()),
            sorted((length, float(kept.sum())) for length, kept in self.by_length.items()),
        )
