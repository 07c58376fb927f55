"""Windows DLL search check (24-windows): imports oe_libbin_probe, a test extension in the conda-style
Home's site-packages whose DLL is only in that Home's Library\\bin. It imports only because the loader
added Library\\bin to the DLL search path; the data is scaled by the DLL's answer (42)."""

import numpy as np
import oe_libbin_probe


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.scale = np.float32(oe_libbin_probe.answer())

    def process(self, data):
        data *= self.scale
