"""Keeps the whole previous block (and a closure over it) and subtracts its last sample from this block."""

from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.previous = None
        self.peek_previous = None

    def process(self, data):
        if self.previous is not None:
            record("previous", float(self.previous.sum()), self.peek_previous())
            data -= self.previous[:, -1:]
        self.previous = data
        self.peek_previous = lambda: float(data[2, 0])
