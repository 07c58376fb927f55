"""Uses a helper module and a helper package from its own folder."""

import dsp_helpers
from dsp_package.smoothing import moving_average


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        pass

    def process(self, data):
        data[0] = moving_average(data[0], 5)
        data *= dsp_helpers.SCALE
        dsp_helpers.clip(data, 150.0)
