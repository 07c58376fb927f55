"""Prints non-ASCII text and writes it with open() without an encoding (run under LC_ALL=C)."""

import os
import tempfile

from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        print("Début de l'acquisition: µV, 30 kHz, électrodes", num_channels)
        self.blocks = 0

    def process(self, data):
        self.blocks += 1
        if self.blocks % 20 == 0:
            print(f"bloc n°{self.blocks}: moyenne {float(data.mean()):.3f} µV")

    def stop_acquisition(self):
        path = os.path.join(tempfile.mkdtemp(), "journal.txt")
        with open(path, "w") as stream:
            stream.write("température µV ✓")
        with open(path) as stream:
            record("written", stream.read())
