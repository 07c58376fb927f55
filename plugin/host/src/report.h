// The host's report (schema 1, plugin/host/README.md): JSON and text renderings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace oe_pyproc::host {

struct Fatal {
    std::string stage;  // arguments | home | python | script | io
    std::string message;
};

struct CandidateEntry {
    std::string path;
    std::string origin;
    bool accepted = false;
    std::string reason;
};

struct EmittedEvent {
    int64_t sample_number = 0;
    int32_t line = 0;
    bool state = false;
    int64_t block = 0;
};

// Blocks listed in an instance's block_budget_percent (4 bytes each; about 39 min of 697-sample blocks at
// 30 kHz).
constexpr size_t kMaxBlockTimings = 100000;

struct InstanceReport {
    int index = 0;
    std::string script;
    std::optional<int64_t> removed_at_block;
    bool faulted = false;
    uint64_t error_count = 0;
    uint64_t blocks_processed = 0;
    uint64_t blocks_bypassed = 0;
    uint64_t events_dropped = 0;             // add_python_event calls lost to a full queue (bridge)
    uint64_t events_dropped_placement = 0;   // drained events the adapter's placement refused (line > 255)
    uint64_t events_dropped_at_removal = 0;  // still queued when the instance was removed or the run ended
    uint64_t blocks_passed_busy = 0;         // blocks that found the session held by a reload: passed through
    uint64_t path_counts[4] = {0, 0, 0, 0};  // none, view, staging, strided
    std::vector<int64_t> overhead_ns, script_ns, gil_wait_ns;
    std::vector<double> budget_percent;
    // Budget use of each processed block in order, at most kMaxBlockTimings; the storage is reserved before
    // the audio thread starts and never grows there.
    std::vector<float> block_budget_percent;
    uint64_t events_emitted_count = 0;
    std::vector<EmittedEvent> events;

    void count_path(uint32_t path) {
        if (path < 4) {
            ++path_counts[path];
        }
    }
};

struct ErrorEntry {
    int instance = 0;
    int64_t block = -1;          // -1: not during a block (load, start/stop)
    int64_t sample_number = -1;  // first sample of that block
    std::string method;
    std::string message;
    std::string traceback;
};

// A reload the message thread did while the audio thread ran (--reload-at-block).
struct ReloadEntry {
    int64_t requested_at_block = -1;  // the audio thread asked before this block
    int64_t started_at_block = -1;    // the block the audio thread was at when the reload began
    int64_t finished_at_block = -1;   // ... and when it ended (later than started: audio went on meanwhile)
    double duration_s = 0;
    bool ok = false;
    bool waited = false;           // the audio thread waited for it (default) or went on (--reload-concurrent)
    bool on_audio_thread = false;  // always false: reloads run on the message thread
};

struct WarningEntry {
    int instance = -1;
    int64_t block = -1;
    std::string message;
};

struct Report {
    bool ok = false;
    int exit_code = 0;
    std::optional<Fatal> fatal;
    struct {
        std::string chosen, origin, python_version, numpy_version, bridge;
        bool venv = false;
        std::vector<CandidateEntry> candidates;
    } home;
    struct {
        int channels = 0;
        double sample_rate = 0;
        int callback_size = 0;
        int64_t blocks = 0;
        int64_t samples = 0;
        double duration_s = 0;
        bool contiguous = false;
        std::string source;
        int64_t first_sample_number = 0;
        uint64_t ttl_events_in = 0;  // TTL events delivered to the scripts (per instance)
        uint64_t spikes_in = 0;      // spikes delivered to the scripts (per instance)
    } stream;
    struct {
        double wall_time_s = 0;
        double realtime_factor = 0;
        double cpu_time_s = 0;
        double cpu_realtime_factor = 0;
        double audio_cpu_time_s = 0;
        double audio_cpu_realtime_factor = 0;
        int audio_threads = 0;
    } run;
    std::vector<InstanceReport> instances;
    std::vector<ErrorEntry> errors;
    uint64_t error_total = 0;
    std::vector<WarningEntry> warnings;
    std::vector<ReloadEntry> reloads;

    std::string to_json() const;
    std::string to_text() const;
};

// temp file + rename; false and a message on failure.
bool write_file_atomically(const std::string& path, const std::string& content, std::string& problem);

}  // namespace oe_pyproc::host
