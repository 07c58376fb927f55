"""Threshold crossing on one channel sends a TTL pulse downstream, at the exact sample of the crossing.

Each time CHANNEL crosses THRESHOLD (upwards, or downwards when RISING is False) the script sends
``processor.add_python_event(TTL_LINE, True, offset)`` with the crossing's sample offset in the block, and
the matching ``False`` event PULSE_MS later (in a later block if need be). After a crossing, further
crossings are ignored for REFRACTORY_MS; both periods carry across block boundaries.

Parameters (edit the constants below):
    CHANNEL: the index of the channel to watch (0 = the first channel of the selected stream).
    THRESHOLD: the level to cross, in the data's units (microvolts for most sources).
    RISING: True to trigger on upward crossings, False on downward ones (e.g. negative spikes).
    TTL_LINE: the TTL line (0-255) the events are sent on.
    PULSE_MS: how long the line stays high, in milliseconds (at least one sample).
    REFRACTORY_MS: dead time after a crossing, in milliseconds; at least PULSE_MS.
"""

import numpy as np

CHANNEL = 0
THRESHOLD = 100.0
RISING = True
TTL_LINE = 0
PULSE_MS = 1.0
REFRACTORY_MS = 10.0


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        if not 0 <= CHANNEL < num_channels:
            raise ValueError(f"ttl_threshold: CHANNEL = {CHANNEL} but the stream has {num_channels} channels")
        if not 0 <= TTL_LINE <= 255:
            raise ValueError(f"ttl_threshold: TTL_LINE = {TTL_LINE} is not a TTL line (0-255)")
        if REFRACTORY_MS < PULSE_MS:
            raise ValueError("ttl_threshold: REFRACTORY_MS must be at least PULSE_MS")
        self.processor = processor
        self.pulse_samples = max(1, round(PULSE_MS * sample_rate / 1000.0))
        self.refractory_samples = max(self.pulse_samples, round(REFRACTORY_MS * sample_rate / 1000.0))
        self.sign = np.float32(1.0 if RISING else -1.0)
        self.threshold = np.float32(THRESHOLD) * self.sign
        self.reset()

    def reset(self):
        self.samples_seen = 0  # samples before the current block, since the last reset
        self.was_beyond = True  # a signal already beyond the threshold at the start is not a crossing
        self.next_allowed = 0  # first sample where a new crossing may trigger
        self.pulse_end = None  # sample where the pending falling edge goes out, if any

    def start_acquisition(self):
        self.reset()

    def _send_pulse_end_before(self, limit):
        """Send the pending falling edge if it falls before sample `limit` (absolute)."""
        if self.pulse_end is not None and self.pulse_end < limit:
            self.processor.add_python_event(TTL_LINE, False, self.pulse_end - self.samples_seen)
            self.pulse_end = None

    def process(self, data):
        num_samples = data.shape[1]
        if num_samples == 0:
            return
        beyond = data[CHANNEL] * self.sign >= self.threshold
        crossings = np.flatnonzero(beyond[1:] & ~beyond[:-1]) + 1
        if beyond[0] and not self.was_beyond:
            crossings = np.concatenate(([0], crossings))
        for offset in crossings.tolist():
            position = self.samples_seen + offset
            if position < self.next_allowed:
                continue
            self._send_pulse_end_before(position + 1)
            self.processor.add_python_event(TTL_LINE, True, offset)
            self.pulse_end = position + self.pulse_samples
            self.next_allowed = position + self.refractory_samples
        self._send_pulse_end_before(self.samples_seen + num_samples)
        self.was_beyond = bool(beyond[-1])
        self.samples_seen += num_samples
