// Command-line flags of oe-pyproc-host (documented in plugin/host/README.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oe_pyproc::host {

enum ExitCode {
    kExitOk = 0,
    kExitScriptRaised = 1,
    kExitUsage = 2,
    kExitHome = 3,
    kExitScript = 4,
    kExitIo = 5,
    kExitInternal = 6,  // out of memory (std::bad_alloc) or another internal error of the host
};

struct Removal {
    int64_t block = 0;
    int instance = 0;
};

struct Options {
    // Home
    std::string python_home;
    std::string gui_root;
    int api = 10;
    bool no_default_home = false;
    std::string bridge_dir;
    double import_timeout_s = 20.0;
    bool check_home = false;
    // stream
    int channels = 16;
    double sample_rate = 30000.0;
    int block_size = 697;
    int block_jitter = 1;
    int callback_size = 1024;
    double duration_s = 1.0;
    int64_t blocks = -1;
    int64_t first_sample_number = 0;  // sample number of the stream's first sample, as the script sees it
    bool realtime = false;
    bool zero_copy = false;
    // synthetic source
    uint64_t seed = 1;
    double noise_std = 10.0;
    double oscillation_hz = 10.0;
    double oscillation_amplitude = 50.0;
    double spike_rate = 0.0;
    int ttl_lines = 1;
    double ttl_period_s = 0.5;
    int source_node = 100;
    // raw input/output
    std::string input;
    std::string input_format = "float32";
    double input_scale = 1.0;
    std::string events;
    std::string output;
    int chunk = 1024;
    bool json = false;
    std::string json_file;
    // instances
    std::vector<std::string> scripts;
    int instances = 0;
    bool policy_continue = false;
    std::string record_dir;
    int64_t reload_at_block = -1;
    bool reload_wait_stdin = false;
    bool reload_concurrent = false;  // the audio thread goes on while the message thread reloads
    std::vector<Removal> removals;
    int audio_restarts = 0;
    int64_t max_events = 10000;
    // watchdog (bridge set_watchdog); < 0: the adapter's default (10 block budgets, at least 1 s)
    double watchdog_s = -1.0;
    double load_watchdog_s = 60.0;
    int64_t parent_pid = 0;  // Linux: the host dies with this process (PR_SET_PDEATHSIG), checked at start

    double call_limit_s() const;

    int max_block_samples() const { return block_size + block_jitter; }
};

enum class ParseResult { Ok, Help, Error };

ParseResult parse_options(int argc, char** argv, Options& options, std::string& problem);
std::string usage_text();

}  // namespace oe_pyproc::host
