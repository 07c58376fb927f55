import numpy as np


def moving_average(row, width):
    kernel = np.ones(width, dtype=np.float32) / np.float32(width)
    return np.convolve(row, kernel, mode="same").astype(np.float32)
