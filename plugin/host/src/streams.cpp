#include "streams.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <climits>
#include <fstream>
#include <iterator>
#include <iomanip>
#include <sstream>

#if !defined(_WIN32)
#include <sys/mman.h>
#include <sys/stat.h>
#endif
#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#endif
#include <filesystem>

namespace oe_pyproc::host {

namespace {

// Paths arrive in UTF-8 (on Windows the host's argv comes from its UTF-16 command line): Windows' narrow
// fopen would read them in the ANSI code page, and a user folder named "Jörg" would not open.
std::FILE* open_file(const std::string& path, bool write) {
#if defined(_WIN32)
    return _wfopen(std::filesystem::u8path(path).c_str(), write ? L"wb" : L"rb");
#else
    return std::fopen(path.c_str(), write ? "wb" : "rb");
#endif
}

// stdin/stdout as binary streams: in Windows' text mode a 0x1A byte ends the input and "\n" gains a "\r".
void use_binary_mode(std::FILE* stream) {
#if defined(_WIN32)
    _setmode(_fileno(stream), _O_BINARY);
#else
    (void)stream;
#endif
}

}  // namespace

AudioBuffer::AudioBuffer(int channels, int callback_size)
    : callback_size_(callback_size),
      storage_(static_cast<size_t>(channels) * static_cast<size_t>(callback_size), 0.0f),
      pointers_(static_cast<size_t>(channels)) {
    for (int channel = 0; channel < channels; ++channel) {
        pointers_[static_cast<size_t>(channel)] = storage_.data() + static_cast<size_t>(channel) * callback_size;
    }
}

namespace {

constexpr double kPi = 3.14159265358979323846;

// The part of a line before its comment: `#` outside double quotes.
std::string strip_comment(const std::string& line) {
    bool quoted = false;
    for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\\' && quoted) {
            ++i;
        } else if (line[i] == '"') {
            quoted = !quoted;
        } else if (line[i] == '#' && !quoted) {
            return line.substr(0, i);
        }
    }
    return line;
}

// Stable, allocation-free sort by sample number (a block holds few events, mostly in order already).
template <typename T, typename Key>
void sort_by_sample(std::vector<T>& items, Key key) {
    for (size_t i = 1; i < items.size(); ++i) {
        T item = std::move(items[i]);
        size_t j = i;
        for (; j > 0 && key(items[j - 1]) > key(item); --j) {
            items[j] = std::move(items[j - 1]);
        }
        items[j] = std::move(item);
    }
}

constexpr uint32_t kMaxSpikeChannels = 1024;
constexpr uint32_t kMaxSpikeSamples = 8192;

// The binary event stream's magic (its first 8 bytes) and version; its sections' kinds.
constexpr char kBinaryMagic[] = "OEPYEVNT";
constexpr uint32_t kBinaryVersion = 1;
constexpr uint32_t kSectionTtl = 1;
constexpr uint32_t kSectionSpikes = 2;

// Little-endian fields read from a byte buffer (x86-64, arm64: memcpy is the load). `take` never reads past
// the end: callers check the sizes they announce against remaining() first.
struct BinaryReader {
    const char* data;
    size_t size;
    size_t offset;
    size_t remaining() const { return size - offset; }
    template <typename T>
    bool read(T& value) {
        if (remaining() < sizeof(T)) {
            return false;
        }
        std::memcpy(&value, data + offset, sizeof(T));
        offset += sizeof(T);
        return true;
    }
    const char* take(size_t bytes) {
        const char* at = data + offset;
        offset += std::min(bytes, remaining());
        return at;
    }
};

// Events from an --events file (sorted by sample number, in the script's numbering), handed out block by block.
class EventFile {
public:
    bool load(const std::string& path, int64_t origin, std::string& problem) {
        origin_ = origin;
        if (path.empty()) {
            return true;
        }
        std::ifstream stream(std::filesystem::u8path(path), std::ios::binary);
        if (!stream) {
            problem = "cannot read the events file " + path;
            return false;
        }
        char magic[sizeof(kBinaryMagic) - 1] = {};
        stream.read(magic, sizeof(magic));
        if (stream.gcount() == static_cast<std::streamsize>(sizeof(magic)) &&
            std::memcmp(magic, kBinaryMagic, sizeof(magic)) == 0) {
            stream.seekg(0);
            std::vector<char> data((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
            return load_binary(path, data, problem);
        }
        stream.clear();
        stream.seekg(0);
        std::string line;
        int number = 0;
        int64_t last_sample = INT64_MIN;
        while (std::getline(stream, line)) {
            ++number;
            std::istringstream fields(strip_comment(line));
            std::string first;
            if (!(fields >> first)) {
                continue;  // blank or comment line
            }
            const std::string where = path + ":" + std::to_string(number) + ": ";
            int64_t sample = 0;
            if (first == "spike") {
                SpikeEvent spike;
                if (!read_spike(fields, spike)) {
                    problem = where +
                              "expected 'spike sample_number source_node electrode num_channels num_samples "
                              "sorted_id' and num_channels × num_samples values (sample >= 0, electrode quoted "
                              "if it has spaces, 1..1024 channels, 1..8192 samples)";
                    return false;
                }
                sample = spike.sample_number;
                spikes_.push_back(std::move(spike));
            } else {
                long long ttl_line = 0;
                long long state = 0;
                std::string extra;
                std::istringstream sample_field(first);
                long long parsed_sample = 0;
                if (!(sample_field >> parsed_sample) || (sample_field >> extra) || !(fields >> ttl_line >> state) ||
                    (fields >> extra) || parsed_sample < 0 || ttl_line < 0 || ttl_line > 255 ||
                    (state != 0 && state != 1)) {
                    problem = where + "expected 'sample_number line state' (sample >= 0, line 0..255, state 0|1)";
                    return false;
                }
                sample = parsed_sample;
                ttl_.push_back(TtlEvent{sample, static_cast<int32_t>(ttl_line), state == 1});
            }
            if (sample < last_sample) {
                problem = where + "events must be sorted by sample number";
                return false;
            }
            last_sample = sample;
        }
        return true;
    }

    // The events with position first_sample <= p < first_sample + samples (sample numbers origin + p).
    void take(int64_t first_sample, int samples, BlockEvents& out) {
        const int64_t begin = origin_ + first_sample;
        const int64_t end = begin + samples;
        while (next_ttl_ < ttl_.size() && ttl_[next_ttl_].sample_number < end) {
            if (ttl_[next_ttl_].sample_number >= begin) {
                out.ttl.push_back(ttl_[next_ttl_]);
            }
            ++next_ttl_;
        }
        while (next_spike_ < spikes_.size() && spikes_[next_spike_].sample_number < end) {
            if (spikes_[next_spike_].sample_number >= begin) {
                out.spikes.push_back(&spikes_[next_spike_]);
            }
            ++next_spike_;
        }
    }

private:
    // The binary event stream (plugin/host/README.md, "Binary events"): after the magic, a version and then
    // sections of TTL events or of one electrode's spikes, little-endian. Sections may come in any order;
    // the events are ordered here by sample number (stable).
    bool load_binary(const std::string& path, const std::vector<char>& data, std::string& problem) {
        BinaryReader in{data.data(), data.size(), sizeof(kBinaryMagic) - 1};
        uint32_t version = 0;
        uint32_t flags = 0;
        if (!in.read(version) || !in.read(flags)) {
            problem = path + ": truncated binary events header";
            return false;
        }
        if (version != kBinaryVersion) {
            problem = path + ": binary events version " + std::to_string(version) + "; this host reads version " +
                      std::to_string(kBinaryVersion);
            return false;
        }
        while (in.remaining() > 0) {
            const size_t section_at = in.offset;
            uint32_t kind = 0;
            uint64_t count = 0;
            if (!in.read(kind) || !in.read(count)) {
                problem = path + ": truncated section header at byte " + std::to_string(section_at);
                return false;
            }
            const std::string where = path + ": section at byte " + std::to_string(section_at) + ": ";
            if (kind == kSectionTtl) {
                if (count > in.remaining() / 10) {
                    problem = where + "truncated (" + std::to_string(count) + " TTL events announced)";
                    return false;
                }
                const char* samples = in.take(count * 8);
                const char* lines = in.take(count);
                const char* states = in.take(count);
                ttl_.reserve(ttl_.size() + count);
                for (uint64_t k = 0; k < count; ++k) {
                    int64_t sample = 0;
                    std::memcpy(&sample, samples + k * 8, 8);
                    const auto state = static_cast<unsigned char>(states[k]);
                    if (sample < 0 || state > 1) {
                        problem = where + "TTL event " + std::to_string(k) + ": sample number < 0 or state not 0|1";
                        return false;
                    }
                    ttl_.push_back(TtlEvent{sample, static_cast<unsigned char>(lines[k]), state == 1});
                }
            } else if (kind == kSectionSpikes) {
                int32_t source_node = 0;
                uint32_t channels = 0;
                uint32_t samples = 0;
                uint32_t name_bytes = 0;
                if (!in.read(source_node) || !in.read(channels) || !in.read(samples) || !in.read(name_bytes) ||
                    name_bytes > in.remaining()) {
                    problem = where + "truncated electrode header";
                    return false;
                }
                if (source_node < 0 || channels < 1 || channels > kMaxSpikeChannels || samples < 1 ||
                    samples > kMaxSpikeSamples) {
                    problem = where + "source node < 0, or not 1..1024 channels × 1..8192 samples";
                    return false;
                }
                const std::string electrode(in.take(name_bytes), name_bytes);
                const uint64_t values = uint64_t(channels) * samples;
                if (count > in.remaining() / (12 + 4 * values)) {
                    problem = where + "truncated (" + std::to_string(count) + " spikes announced)";
                    return false;
                }
                const char* numbers = in.take(count * 8);
                const char* sorted_ids = in.take(count * 4);
                const char* waveforms = in.take(count * 4 * values);
                spikes_.reserve(spikes_.size() + count);
                for (uint64_t k = 0; k < count; ++k) {
                    SpikeEvent spike;
                    std::memcpy(&spike.sample_number, numbers + k * 8, 8);
                    std::memcpy(&spike.sorted_id, sorted_ids + k * 4, 4);
                    if (spike.sample_number < 0) {
                        problem = where + "spike " + std::to_string(k) + ": sample number < 0";
                        return false;
                    }
                    spike.source_node = source_node;
                    spike.electrode = electrode;
                    spike.num_channels = static_cast<int32_t>(channels);
                    spike.num_samples = static_cast<int32_t>(samples);
                    spike.waveform.resize(values);
                    std::memcpy(spike.waveform.data(), waveforms + k * 4 * values, 4 * values);
                    spikes_.push_back(std::move(spike));
                }
            } else {
                problem = where + "unknown section kind " + std::to_string(kind);
                return false;
            }
        }
        std::stable_sort(ttl_.begin(), ttl_.end(),
                         [](const TtlEvent& a, const TtlEvent& b) { return a.sample_number < b.sample_number; });
        std::stable_sort(spikes_.begin(), spikes_.end(),
                         [](const SpikeEvent& a, const SpikeEvent& b) { return a.sample_number < b.sample_number; });
        return true;
    }

    static bool read_spike(std::istringstream& fields, SpikeEvent& spike) {
        long long sample = 0;
        long long source_node = 0;
        long long channels = 0;
        long long samples = 0;
        long long sorted_id = 0;
        if (!(fields >> sample >> source_node >> std::quoted(spike.electrode) >> channels >> samples >> sorted_id) ||
            sample < 0 || source_node < 0 || source_node > INT32_MAX || channels < 1 || channels > kMaxSpikeChannels ||
            samples < 1 || samples > kMaxSpikeSamples || sorted_id < INT32_MIN || sorted_id > INT32_MAX) {
            return false;
        }
        spike.sample_number = sample;
        spike.source_node = static_cast<int32_t>(source_node);
        spike.num_channels = static_cast<int32_t>(channels);
        spike.num_samples = static_cast<int32_t>(samples);
        spike.sorted_id = static_cast<int32_t>(sorted_id);
        spike.waveform.resize(static_cast<size_t>(channels * samples));
        for (float& value : spike.waveform) {
            if (!(fields >> value)) {
                return false;
            }
        }
        std::string extra;
        return !(fields >> extra);
    }

    int64_t origin_ = 0;
    std::vector<TtlEvent> ttl_;
    std::vector<SpikeEvent> spikes_;
    size_t next_ttl_ = 0;
    size_t next_spike_ = 0;
};

class SyntheticSource final : public BlockSource {
public:
    SyntheticSource(const Options& options, EventFile events)
        : options_(options), events_(std::move(events)), rng_(options.seed) {
        std::normal_distribution<float> normal(0.0f, 1.0f);
        noise_.resize(1 << 16);
        for (float& value : noise_) {
            value = normal(rng_) * static_cast<float>(options.noise_std);
        }
        sine_.resize(4096);
        for (size_t i = 0; i < sine_.size(); ++i) {
            sine_[i] = static_cast<float>(options.oscillation_amplitude * std::sin(2 * kPi * i / sine_.size()));
        }
        total_samples_ =
            options.blocks > 0 ? -1 : static_cast<int64_t>(std::llround(options.duration_s * options.sample_rate));
        for (int i = 0; i < 40; ++i) {
            const double t = i / 40.0;
            waveform_.push_back(static_cast<float>(-80.0 * std::exp(-std::pow((t - 0.3) / 0.08, 2)) +
                                                   30.0 * std::exp(-std::pow((t - 0.55) / 0.12, 2))));
        }
    }

    int64_t planned_blocks(int block_size) const override {
        return options_.blocks > 0 ? options_.blocks : (total_samples_ + block_size - 1) / block_size;
    }

    int next_block(AudioBuffer& buffer, int64_t first_sample, int wanted, BlockEvents& events) override {
        if (options_.blocks > 0 ? blocks_done_ >= options_.blocks : first_sample >= total_samples_) {
            return 0;
        }
        const int samples =
            total_samples_ < 0 ? wanted : static_cast<int>(std::min<int64_t>(wanted, total_samples_ - first_sample));
        ++blocks_done_;
        const size_t noise_mask = noise_.size() - 1;
        const double rate = options_.sample_rate;
        for (int channel = 0; channel < buffer.channels(); ++channel) {
            float* row = buffer.row(channel);
            const double frequency = options_.oscillation_hz * (1.0 + static_cast<double>(channel) / buffer.channels());
            const double step = frequency / rate * static_cast<double>(sine_.size());
            double phase = std::fmod(static_cast<double>(first_sample) * step, static_cast<double>(sine_.size()));
            const size_t noise_offset = static_cast<size_t>(channel) * 7919u + static_cast<size_t>(first_sample);
            for (int i = 0; i < samples; ++i) {
                row[i] = noise_[(noise_offset + static_cast<size_t>(i)) & noise_mask] +
                         sine_[static_cast<size_t>(phase) & (sine_.size() - 1)];
                phase += step;
                if (phase >= static_cast<double>(sine_.size())) {
                    phase -= static_cast<double>(sine_.size());
                }
            }
        }
        // TTL: line l toggles every period * (l + 1) seconds (first rising edge after one period).
        const int64_t origin = options_.first_sample_number;
        for (int line = 0; line < options_.ttl_lines; ++line) {
            const int64_t period = std::max<int64_t>(1, std::llround(options_.ttl_period_s * (line + 1) * rate));
            for (int64_t k = std::max<int64_t>(1, (first_sample + period - 1) / period);
                 k * period < first_sample + samples; ++k) {
                events.ttl.push_back(TtlEvent{origin + k * period, line, k % 2 == 1});
            }
        }
        events_.take(first_sample, samples, events);
        sort_by_sample(events.ttl, [](const TtlEvent& event) { return event.sample_number; });
        if (options_.spike_rate > 0) {
            add_spikes(buffer, first_sample, samples, events);
        }
        return samples;
    }

private:
    // Poisson spikes, each the template waveform added to one channel; kept in spikes_ (reused: electrode
    // names fit the small-string buffer and waveforms keep their capacity) until the next block.
    void add_spikes(AudioBuffer& buffer, int64_t first_sample, int samples, BlockEvents& events) {
        std::poisson_distribution<int> count(options_.spike_rate * samples / options_.sample_rate);
        std::uniform_int_distribution<int> channel_pick(0, buffer.channels() - 1);
        std::uniform_int_distribution<int> offset_pick(0, samples - 1);
        const size_t made = static_cast<size_t>(count(rng_));
        if (spikes_.size() < made) {
            spikes_.resize(made);
        }
        for (size_t n = 0; n < made; ++n) {
            const int channel = channel_pick(rng_);
            const int offset = offset_pick(rng_);
            SpikeEvent& spike = spikes_[n];
            spike.sample_number = options_.first_sample_number + first_sample + offset;
            spike.source_node = options_.source_node;
            spike.electrode = "Electrode " + std::to_string(channel);
            spike.num_channels = 1;
            spike.num_samples = static_cast<int32_t>(waveform_.size());
            spike.sorted_id = 0;
            spike.waveform.assign(waveform_.begin(), waveform_.end());
            float* row = buffer.row(channel);
            for (int i = 0; i < static_cast<int>(waveform_.size()) && offset + i < samples; ++i) {
                row[offset + i] += waveform_[static_cast<size_t>(i)];
            }
            events.spikes.push_back(&spike);
        }
        sort_by_sample(events.spikes, [](const SpikeEvent* spike) { return spike->sample_number; });
    }

    const Options& options_;
    EventFile events_;
    std::vector<SpikeEvent> spikes_;
    std::mt19937_64 rng_;
    std::vector<float> noise_;
    std::vector<float> sine_;
    std::vector<float> waveform_;
    int64_t total_samples_ = 0;
    int64_t blocks_done_ = 0;
};

// Channel-major chunks of `chunk` samples, float32 or int16 * scale, little-endian.
class RawSource final : public BlockSource {
public:
    RawSource(const Options& options, EventFile events)
        : options_(options),
          events_(std::move(events)),
          chunk_values_(static_cast<size_t>(options.channels) * static_cast<size_t>(options.chunk)) {}

    ~RawSource() override {
#if !defined(_WIN32)
        if (mapped_ != nullptr) {
            munmap(const_cast<unsigned char*>(mapped_), mapped_bytes_);
        }
#endif
        if (file_ != nullptr && file_ != stdin) {
            std::fclose(file_);
        }
    }

    bool open(std::string& problem) {
        if (options_.input == "-") {
            file_ = stdin;
            use_binary_mode(file_);
            return true;
        }
        file_ = open_file(options_.input, false);
        if (file_ == nullptr) {
            problem = "cannot read the input file " + options_.input + ": " + std::strerror(errno);
            return false;
        }
#if !defined(_WIN32)  // Windows reads the file with fread
        // A regular float32 file is mapped: blocks are copied straight from the page cache into the buffer.
        struct stat info {};
        if (options_.input_format == "float32" && fstat(fileno(file_), &info) == 0 && S_ISREG(info.st_mode) &&
            info.st_size > 0) {
            void* map = mmap(nullptr, static_cast<size_t>(info.st_size), PROT_READ, MAP_PRIVATE, fileno(file_), 0);
            if (map != MAP_FAILED) {
                madvise(map, static_cast<size_t>(info.st_size), MADV_SEQUENTIAL);
                mapped_ = static_cast<const unsigned char*>(map);
                mapped_bytes_ = static_cast<size_t>(info.st_size);
            }
        }
#endif
        return true;
    }

    int64_t planned_blocks(int block_size) const override {
        if (options_.blocks > 0) {
            return options_.blocks;
        }
        if (options_.duration_s > 0) {
            return static_cast<int64_t>(std::ceil(options_.duration_s * options_.sample_rate / block_size));
        }
        return -1;
    }

    int next_block(AudioBuffer& buffer, int64_t first_sample, int wanted, BlockEvents& events) override {
        if ((options_.blocks > 0 && blocks_done_ >= options_.blocks) ||
            (options_.duration_s > 0 && first_sample >= std::llround(options_.duration_s * options_.sample_rate))) {
            return 0;
        }
        int filled = 0;
        while (filled < wanted) {
            if (chunk_position_ == chunk_samples_) {
                const int loaded = load_chunk();
                if (loaded < 0) {
                    return -1;
                }
                if (loaded == 0) {
                    break;
                }
            }
            const int take = std::min(wanted - filled, chunk_samples_ - chunk_position_);
            for (int channel = 0; channel < options_.channels; ++channel) {
                std::memcpy(buffer.row(channel) + filled,
                            chunk_data_ + static_cast<size_t>(channel) * chunk_samples_ + chunk_position_,
                            static_cast<size_t>(take) * sizeof(float));
            }
            filled += take;
            chunk_position_ += take;
        }
        if (filled > 0) {
            ++blocks_done_;
            events_.take(first_sample, filled, events);
        }
        return filled;
    }

private:
    // Reads (or maps) the next chunk; returns its sample count (0 at the end, -1 on error).
    int load_chunk() {
        const size_t value_size = options_.input_format == "int16" ? 2 : 4;
        const size_t frame = static_cast<size_t>(options_.channels) * value_size;
        const size_t wanted = chunk_values_ * value_size;
        size_t got = 0;
        if (mapped_ != nullptr) {
            got = std::min(wanted, mapped_bytes_ - mapped_offset_);
        } else {
            // float32 is read straight into the chunk; int16 goes through raw_ and is scaled.
            if (chunk_.empty()) {
                chunk_.resize(chunk_values_);
            }
            unsigned char* target = reinterpret_cast<unsigned char*>(chunk_.data());
            if (value_size == 2) {
                raw_.resize(wanted);
                target = raw_.data();
            }
            while (got < wanted) {
                const size_t count = std::fread(target + got, 1, wanted - got, file_);
                if (count == 0) {
                    break;
                }
                got += count;
            }
            if (std::ferror(file_)) {
                error_ = "error reading " + options_.input;
                return -1;
            }
        }
        if (got % frame != 0) {
            error_ = options_.input + ": the input ends inside a chunk (" + std::to_string(got) +
                     " bytes are not a whole number of " + std::to_string(options_.channels) + "-channel " +
                     options_.input_format + " samples)";
            return -1;
        }
        chunk_samples_ = static_cast<int>(got / frame);
        chunk_position_ = 0;
        if (mapped_ != nullptr) {
            chunk_data_ = reinterpret_cast<const float*>(mapped_ + mapped_offset_);
            mapped_offset_ += got;
            return chunk_samples_;
        }
        chunk_data_ = chunk_.data();
        if (value_size == 2) {
            const size_t values = static_cast<size_t>(chunk_samples_) * options_.channels;
            const float scale = static_cast<float>(options_.input_scale);
            for (size_t i = 0; i < values; ++i) {
                int16_t value = 0;
                std::memcpy(&value, raw_.data() + 2 * i, 2);
                chunk_[i] = static_cast<float>(value) * scale;
            }
        }
        return chunk_samples_;
    }

    const Options& options_;
    EventFile events_;
    std::FILE* file_ = nullptr;
    size_t chunk_values_;
    std::vector<float> chunk_;
    const float* chunk_data_ = nullptr;
    const unsigned char* mapped_ = nullptr;
    size_t mapped_bytes_ = 0;
    size_t mapped_offset_ = 0;
    std::vector<unsigned char> raw_;
    int chunk_samples_ = 0;
    int chunk_position_ = 0;
    int64_t blocks_done_ = 0;
};

}  // namespace

std::unique_ptr<BlockSource> make_source(const Options& options, std::string& problem) {
    EventFile events;
    if (!events.load(options.events, options.first_sample_number, problem)) {
        return nullptr;
    }
    if (options.input.empty()) {
        return std::make_unique<SyntheticSource>(options, std::move(events));
    }
    auto source = std::make_unique<RawSource>(options, std::move(events));
    if (!source->open(problem)) {
        return nullptr;
    }
    return source;
}

OutputWriter::OutputWriter(int channels, int chunk)
    : channels_(channels), chunk_(chunk), pending_(static_cast<size_t>(channels) * static_cast<size_t>(chunk)) {}

OutputWriter::~OutputWriter() {
    if (file_ != nullptr && owns_file_) {
        std::fclose(file_);
    }
}

bool OutputWriter::open(const std::string& path) {
    if (path == "-") {
        file_ = stdout;
        use_binary_mode(file_);
        return true;
    }
    file_ = open_file(path, true);
    if (file_ == nullptr) {
        error_ = "cannot write the output file " + path + ": " + std::strerror(errno);
        return false;
    }
    owns_file_ = true;
    return true;
}

bool OutputWriter::flush_chunk() {
    if (filled_ == 0) {
        return true;
    }
    for (int channel = 0; channel < channels_; ++channel) {
        const float* row = pending_.data() + static_cast<size_t>(channel) * chunk_;
        if (std::fwrite(row, sizeof(float), static_cast<size_t>(filled_), file_) != static_cast<size_t>(filled_)) {
            error_ = "error writing the output";
            return false;
        }
    }
    filled_ = 0;
    return true;
}

bool OutputWriter::write(AudioBuffer& buffer, int samples) {
    int done = 0;
    while (done < samples) {
        const int take = std::min(samples - done, chunk_ - filled_);
        for (int channel = 0; channel < channels_; ++channel) {
            std::memcpy(pending_.data() + static_cast<size_t>(channel) * chunk_ + filled_, buffer.row(channel) + done,
                        static_cast<size_t>(take) * sizeof(float));
        }
        filled_ += take;
        done += take;
        if (filled_ == chunk_ && !flush_chunk()) {
            return false;
        }
    }
    return true;
}

bool OutputWriter::finish() {
    if (!flush_chunk()) {
        return false;
    }
    if (std::fflush(file_) != 0) {
        error_ = "error writing the output";
        return false;
    }
    return true;
}

}  // namespace oe_pyproc::host
