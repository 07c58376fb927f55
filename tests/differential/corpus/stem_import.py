"""A helper imports this script by its file stem; a class of the script pickles and unpickles."""

import pickle
import sys

import stem_helper
from record import record


class Calibration:
    def __init__(self, gain):
        self.gain = gain


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        module = sys.modules[Calibration.__module__]
        self.calibration = pickle.loads(pickle.dumps(Calibration(0.25)))
        record(
            "identity",
            __name__,
            stem_helper.script_module() is module,
            type(self.calibration) is Calibration,
            stem_helper.script_name_at_import,
        )

    def process(self, data):
        data *= stem_helper.gain_of(self.calibration)
