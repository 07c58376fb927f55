// The host's data: a JUCE-like buffer, the synthetic and raw block sources, the raw output writer.
#pragma once

#include "options.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace oe_pyproc::host {

// Channel rows spaced by the callback size, like juce::AudioBuffer.
class AudioBuffer {
public:
    AudioBuffer(int channels, int callback_size);
    float* const* channel_pointers() const { return pointers_.data(); }
    float* row(int channel) { return pointers_[static_cast<size_t>(channel)]; }
    int64_t row_stride() const { return callback_size_; }
    int channels() const { return static_cast<int>(pointers_.size()); }

private:
    int callback_size_;
    std::vector<float> storage_;
    std::vector<float*> pointers_;
};

struct TtlEvent {
    int64_t sample_number = 0;
    int32_t line = 0;
    bool state = false;
};

// A spike as the bridge's `spike` entry takes it; waveform is channel-major (num_channels × num_samples).
struct SpikeEvent {
    int64_t sample_number = 0;
    int32_t source_node = 0;
    std::string electrode;
    int32_t num_channels = 1;
    int32_t num_samples = 0;
    int32_t sorted_id = 0;
    std::vector<float> waveform;
};

// The events of one block, each list sorted by sample number. The spikes point into storage the source keeps
// until its next block. Reused from block to block (cleared, capacity kept).
struct BlockEvents {
    std::vector<TtlEvent> ttl;
    std::vector<const SpikeEvent*> spikes;
    void clear() {
        ttl.clear();
        spikes.clear();
    }
};

class BlockSource {
public:
    virtual ~BlockSource() = default;
    // Fills buffer rows [0, n) for samples [first_sample, first_sample + n), n <= wanted, counted from the
    // stream's start; 0 at the end, -1 on an I/O error (error() says why). The events carry sample numbers as
    // the script sees them (--first-sample-number + position).
    virtual int next_block(AudioBuffer& buffer, int64_t first_sample, int wanted, BlockEvents& events) = 0;
    // Blocks expected (for splitting over audio threads); -1 if unknown.
    virtual int64_t planned_blocks(int block_size) const = 0;
    const std::string& error() const { return error_; }

protected:
    std::string error_;
};

std::unique_ptr<BlockSource> make_source(const Options& options, std::string& problem);

// float32 channel-major chunks of `chunk` samples.
class OutputWriter {
public:
    OutputWriter(int channels, int chunk);
    ~OutputWriter();
    bool open(const std::string& path);
    bool write(AudioBuffer& buffer, int samples);
    bool finish();
    const std::string& error() const { return error_; }

private:
    bool flush_chunk();
    int channels_;
    int chunk_;
    int filled_ = 0;
    std::vector<float> pending_;
    std::FILE* file_ = nullptr;
    bool owns_file_ = false;
    std::string error_;
};

}  // namespace oe_pyproc::host
