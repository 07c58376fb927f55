"""Imports a lab module from PYTHONPATH (tests/differential/lab)."""

import lab_filters
from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        pass

    def process(self, data):
        lab_filters.common_average_reference(data)
        record("crossings", lab_filters.zero_crossings(data[0]))
