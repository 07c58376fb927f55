"""Records what `data` and the arguments look like in every call: dtype, shape, strides, flags, types."""

from record import record


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        record("init", type(num_channels).__name__, num_channels, type(sample_rate).__name__, sample_rate)

    def process(self, data):
        flags = data.flags
        record(
            "block",
            type(data).__name__,
            data.dtype.str,
            list(data.shape),
            list(data.strides),
            flags.c_contiguous,
            flags.writeable,
            flags.aligned,
        )
        data[0, 0] = float(data.shape[1])

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        record("ttl", *(type(value).__name__ for value in (source_node, channel, sample_number, line, state)))

    def handle_spike(
        self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id, spike_data
    ):
        values = (source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id)
        record(
            "spike",
            *(type(value).__name__ for value in values),
            spike_data.dtype.str,
            list(spike_data.strides),
            spike_data.flags.c_contiguous,
            spike_data.flags.writeable,
        )
