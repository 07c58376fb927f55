"""oe-pyproc: set up, check and try the Open Ephys GUI's Python Processor."""

__version__ = "0.1.0"
