"""Keeps nothing for its first 80 blocks, then keeps a row of every block and sums the last three: the
case copy-on-keep does not cover on contiguous rows (README, script contract)."""

import numpy as np
from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.block = 0
        self.rows = []

    def process(self, data):
        self.block += 1
        if self.block > 80:
            self.rows = [*self.rows[-2:], data[0, :100]]
            data[1] = np.float32(sum(float(row.sum()) for row in self.rows))
            record("rows", [float(row.sum()) for row in self.rows])
