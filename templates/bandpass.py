"""Butterworth band-pass filter on every channel, with each channel's filter state carried across blocks.

The filter runs as second-order sections (``scipy.signal.sosfilt``) over all channels at once, keeping
its state (``zi``) from one block to the next, so the output is the same as filtering the whole
recording in one go: no discontinuity at block edges. The state starts at zero on every ``__init__``
(load, reload, stream or channel-count change) and on ``start_acquisition``.

Parameters (edit the constants below):
    LOW_HZ: the lower edge of the pass band in Hz (> 0).
    HIGH_HZ: the upper edge of the pass band in Hz; it must lie below the Nyquist frequency
        (half the sample rate), e.g. below 15000 Hz for a 30 kHz stream.
    ORDER: the Butterworth order of each edge (the band-pass has 2 * ORDER poles).
"""

import numpy as np
from scipy import signal

LOW_HZ = 300.0
HIGH_HZ = 6000.0
ORDER = 3


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        nyquist = sample_rate / 2.0
        if not 0.0 < LOW_HZ < HIGH_HZ < nyquist:
            raise ValueError(
                f"bandpass: the band {LOW_HZ:g}-{HIGH_HZ:g} Hz must satisfy 0 < LOW_HZ < HIGH_HZ < "
                f"Nyquist = {nyquist:g} Hz (half the sample rate {sample_rate:g} Hz); "
                f"edit LOW_HZ/HIGH_HZ at the top of the script"
            )
        self.processor = processor
        self.num_channels = int(num_channels)
        self.sos = signal.butter(ORDER, [LOW_HZ, HIGH_HZ], btype="bandpass", fs=sample_rate, output="sos")
        self.reset()

    def reset(self):
        """Zero the filter state of every channel: shape (sections, channels, 2) for filtering along rows."""
        self.zi = np.zeros((self.sos.shape[0], self.num_channels, 2))

    def start_acquisition(self):
        self.reset()

    def process(self, data):
        if data.shape[1] == 0:
            return
        filtered, self.zi = signal.sosfilt(self.sos, data, axis=-1, zi=self.zi)
        data[:] = filtered
