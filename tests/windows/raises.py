"""Windows fault check: raises in process() from the third block on (the host reports the fault)."""

import numpy as np


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.blocks = 0

    def process(self, data):
        self.blocks += 1
        if self.blocks >= 3:
            raise RuntimeError("raised on purpose under wine")
        data *= np.float32(0.5)
