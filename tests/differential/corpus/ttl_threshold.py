"""Threshold crossings on channel 0 become TTL events (several per block; line 3 is set low when
acquisition starts); incoming TTL events are recorded with the block they arrive before, and toggle a
gain."""

import numpy as np
from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor
        self.block = 0
        self.gain = np.float32(1.0)

    def start_acquisition(self):
        self.processor.add_python_event(3, False)  # line 3 starts low

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        record("ttl", source_node, channel, sample_number, line, state, type(state).__name__, self.block)
        self.gain = np.float32(2.0) if state else np.float32(1.0)

    def process(self, data):
        above = data[0] > 40.0
        rising = np.flatnonzero(above[1:] & ~above[:-1])
        for _ in rising[:3]:
            self.processor.add_python_event(3, True)
            self.processor.add_python_event(3, False)
        data *= self.gain
        self.block += 1
