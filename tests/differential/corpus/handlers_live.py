"""Adds handle_ttl_event after __init__ (from process), removes handle_spike from the class after three
spikes, and echoes TTL events back out: handlers are looked up on every call."""

from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor
        self.block = 0
        self.spikes = 0

    def process(self, data):
        self.block += 1
        if self.block == 5:
            self.handle_ttl_event = self.on_ttl
        data[0] += self.spikes

    def on_ttl(self, source_node, channel, sample_number, line, state):
        record("ttl", source_node, channel, sample_number, line, state, self.block)
        self.processor.add_python_event(line + 10, not state)

    def handle_spike(
        self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id, spike_data
    ):
        self.spikes += 1
        record("spike", electrode_name, sample_number, self.block)
        if self.spikes == 3:
            del type(self).handle_spike
