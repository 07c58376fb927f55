"""Running spike rate per electrode, from the spikes the GUI's spike detector sends (handle_spike).

The spikes of each block arrive before the block itself, so each call to ``process`` closes a block:
its spike counts per electrode join a sliding window of the last WINDOW_S seconds of blocks, and the rate
of an electrode is its spike count in the window divided by the window's duration. Every REPORT_EVERY_S
seconds of data the rates are printed (the GUI's console and log). The continuous data passes through
unchanged.

Parameters (edit the constants below):
    WINDOW_S: the length of the sliding window, in seconds.
    REPORT_EVERY_S: how often the rates are printed, in seconds of data; 0 turns printing off.
    SORTED_ONLY: True to count only spikes a sorter assigned to a unit (sorted_id > 0).
"""

from collections import deque

WINDOW_S = 1.0
REPORT_EVERY_S = 5.0
SORTED_ONLY = False


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        if WINDOW_S <= 0:
            raise ValueError("spike_rate: WINDOW_S must be positive")
        self.processor = processor
        self.sample_rate = float(sample_rate)
        self.window_samples = max(1, round(WINDOW_S * sample_rate))
        self.report_samples = round(REPORT_EVERY_S * sample_rate)
        self.reset()

    def reset(self):
        self.pending = {}  # electrode name -> spikes of the block not processed yet
        self.blocks = deque()  # (num_samples, {electrode: spikes}) of the blocks in the window
        self.window_counts = {}  # electrode name -> spikes in the window
        self.window_length = 0  # samples in the window
        self.total_spikes = {}  # electrode name -> spikes since the last reset
        self.samples_seen = 0
        self.next_report = self.report_samples

    def start_acquisition(self):
        self.reset()

    def handle_spike(
        self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id, spike_data
    ):
        if SORTED_ONLY and sorted_id <= 0:
            return
        self.pending[electrode_name] = self.pending.get(electrode_name, 0) + 1
        self.total_spikes[electrode_name] = self.total_spikes.get(electrode_name, 0) + 1

    def rates(self):
        """The spike rate of each electrode seen so far, in Hz, over the window."""
        if self.window_length == 0:
            return {name: 0.0 for name in self.total_spikes}
        seconds = self.window_length / self.sample_rate
        return {name: self.window_counts.get(name, 0) / seconds for name in self.total_spikes}

    def process(self, data):
        num_samples = data.shape[1]
        counts, self.pending = self.pending, {}
        self.blocks.append((num_samples, counts))
        self.window_length += num_samples
        for name, count in counts.items():
            self.window_counts[name] = self.window_counts.get(name, 0) + count
        # Drop the oldest blocks as long as the rest still covers the window.
        while len(self.blocks) > 1 and self.window_length - self.blocks[0][0] >= self.window_samples:
            old_samples, old_counts = self.blocks.popleft()
            self.window_length -= old_samples
            for name, count in old_counts.items():
                self.window_counts[name] -= count
        self.samples_seen += num_samples
        if self.report_samples > 0 and self.samples_seen >= self.next_report:
            self.next_report += self.report_samples
            summary = ", ".join(f"{name}: {rate:.1f} Hz" for name, rate in sorted(self.rates().items()))
            print(f"spike_rate: {summary or 'no spikes yet'}", flush=True)
