"""Writes a plain-text log into each recording's folder: start and stop times, TTL events, block counts.

``start_recording(recording_dir)`` opens LOG_NAME inside the recording folder (created if missing) and
writes a header; while recording, every TTL event on the selected stream gets a line; ``stop_recording``
writes a summary and closes the file. The continuous data passes through unchanged. With the upstream
plugin, which passes only the folder's name, the file lands relative to the GUI's working directory.

Parameters (edit the constants below):
    LOG_NAME: the log file's name inside the recording folder.
    LOG_TTL_EVENTS: True to write one line per TTL event while recording.
"""

import os
import time

LOG_NAME = "python_processor_log.txt"
LOG_TTL_EVENTS = True


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor
        self.num_channels = int(num_channels)
        self.sample_rate = float(sample_rate)
        self.log = None
        self.log_path = None
        self.samples_recorded = 0
        self.blocks_recorded = 0
        self.events_logged = 0

    def start_recording(self, recording_dir):
        self.stop_recording()  # a recording that never got its stop: close its log first
        os.makedirs(recording_dir, exist_ok=True)
        self.log_path = os.path.join(recording_dir, LOG_NAME)
        self.log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - stays open while recording
        self.samples_recorded = 0
        self.blocks_recorded = 0
        self.events_logged = 0
        self.log.write(
            f"recording started {time.strftime('%Y-%m-%d %H:%M:%S')} in {recording_dir}: "
            f"{self.num_channels} channels at {self.sample_rate:g} Hz\n"
        )

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        if self.log is not None and LOG_TTL_EVENTS:
            self.log.write(
                f"ttl sample={sample_number} line={line} state={int(bool(state))} "
                f"channel={channel} source={source_node}\n"
            )
            self.events_logged += 1

    def process(self, data):
        if self.log is not None:
            self.blocks_recorded += 1
            self.samples_recorded += data.shape[1]

    def stop_recording(self):
        if self.log is None:
            return
        seconds = self.samples_recorded / self.sample_rate if self.sample_rate else 0.0
        self.log.write(
            f"recording stopped {time.strftime('%Y-%m-%d %H:%M:%S')}: {self.blocks_recorded} blocks, "
            f"{self.samples_recorded} samples ({seconds:.3f} s), {self.events_logged} TTL events\n"
        )
        self.log.close()
        self.log = None

    def stop_acquisition(self):
        self.stop_recording()
