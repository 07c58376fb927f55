"""A lab's shared code, imported from PYTHONPATH by corpus/from_pythonpath.py."""

import numpy as np


def common_average_reference(data):
    """Subtracts the mean over channels from every channel, in place."""
    data -= data.mean(axis=0, keepdims=True)


def zero_crossings(row):
    return int(np.count_nonzero(np.diff(np.signbit(row))))
