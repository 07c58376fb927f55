#include "options.h"

#include "oe_pyproc_script_session.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

namespace oe_pyproc::host {
namespace {

bool parse_int(const std::string& text, int64_t low, int64_t high, int64_t& out) {
    if (text.empty()) {
        return false;
    }
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (errno != 0 || end == nullptr || *end != '\0' || value < low || value > high) {
        return false;
    }
    out = value;
    return true;
}

bool parse_double(const std::string& text, double low, double high, double& out) {
    if (text.empty()) {
        return false;
    }
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(text.c_str(), &end);
    if (errno != 0 || end == nullptr || *end != '\0' || !std::isfinite(value) || value < low || value > high) {
        return false;
    }
    out = value;
    return true;
}

}  // namespace

std::string usage_text() {
    return R"(usage: oe-pyproc-host --script FILE [--script FILE ...] [options]
       oe-pyproc-host --check-home [--python-home DIR] [--json]

Runs Open Ephys Python Processor scripts through the plugin's loader and bridge, headless.

Python Home:  --python-home DIR  --gui-root DIR  --api N  --no-default-home  --bridge-dir DIR
              --import-timeout S  --check-home
Stream:       --channels N (16)  --sample-rate HZ (30000)  --block-size N (697)  --block-jitter N (1)
              --callback-size N (1024)  --duration S (1.0)  --blocks N  --realtime  --zero-copy
              --contiguous  --first-sample-number N (0)
Synthetic:    --seed N  --noise-std UV  --oscillation-hz HZ  --oscillation-amplitude UV  --spike-rate HZ
              --ttl-lines N  --ttl-period S  --source-node ID
Raw input:    --input FILE|-  --input-format float32|int16  --input-scale S  --events FILE  --chunk K
Output:       --output FILE|-  --json  --json-file PATH
Instances:    --instances N  --policy bypass|continue  --record-dir DIR  --reload-at-block N
              --reload-wait-stdin  --reload-concurrent  --remove-at-block N:I  --audio-restarts N
              --max-events N  --watchdog S  --load-watchdog S (60)  --parent-pid PID

Exit codes: 0 ok, 1 a script raised, 2 bad arguments, 3 no valid Home / Python did not start,
4 script could not be loaded, 5 input/output problem, 6 out of memory / internal error.
Details: plugin/host/README.md.
)";
}

double Options::call_limit_s() const {
    return watchdog_s >= 0 ? watchdog_s : adapter::default_call_limit_seconds(max_block_samples(), sample_rate);
}

ParseResult parse_options(int argc, char** argv, Options& options, std::string& problem) {
    bool contiguous = false;
    bool block_size_given = false;
    bool jitter_given = false;
    bool callback_given = false;
    bool duration_given = false;
    std::string policy = "bypass";

    using Handler = std::function<bool(const std::string&)>;
    auto integer = [&](auto& target, int64_t low, int64_t high) {
        return Handler([&target, low, high](const std::string& value) {
            int64_t parsed = 0;
            if (!parse_int(value, low, high, parsed)) {
                return false;
            }
            target = static_cast<std::remove_reference_t<decltype(target)>>(parsed);
            return true;
        });
    };
    auto real = [&](double& target, double low, double high) {
        return Handler(
            [&target, low, high](const std::string& value) { return parse_double(value, low, high, target); });
    };
    auto text = [&](std::string& target) {
        return Handler([&target](const std::string& value) {
            target = value;
            return !value.empty();
        });
    };
    std::map<std::string, std::pair<Handler, std::string>> with_value = {
        {"--python-home", {text(options.python_home), "a folder"}},
        {"--gui-root", {text(options.gui_root), "a folder"}},
        {"--api", {integer(options.api, 1, 100), "an integer"}},
        {"--bridge-dir", {text(options.bridge_dir), "a folder"}},
        {"--import-timeout", {real(options.import_timeout_s, 0.1, 3600), "seconds (0.1..3600)"}},
        {"--channels", {integer(options.channels, 1, 4096), "an integer in 1..4096"}},
        {"--sample-rate", {real(options.sample_rate, 1.0, 1e7), "Hz (1..1e7)"}},
        {"--block-size",
         {[&](const std::string& v) { return block_size_given = integer(options.block_size, 1, 1 << 20)(v); },
          "an integer in 1..1048576"}},
        {"--block-jitter",
         {[&](const std::string& v) { return jitter_given = integer(options.block_jitter, 0, 1 << 19)(v); },
          "a non-negative integer"}},
        {"--callback-size",
         {[&](const std::string& v) { return callback_given = integer(options.callback_size, 1, 1 << 21)(v); },
          "an integer in 1..2097152"}},
        {"--duration",
         {[&](const std::string& v) { return duration_given = real(options.duration_s, 1e-6, 1e6)(v); },
          "seconds (> 0)"}},
        {"--blocks", {integer(options.blocks, 1, int64_t(1) << 40), "a positive integer"}},
        {"--first-sample-number",
         {integer(options.first_sample_number, 0, int64_t(1) << 60), "a non-negative integer"}},
        {"--seed", {integer(options.seed, 0, INT64_MAX), "a non-negative integer"}},
        {"--noise-std", {real(options.noise_std, 0, 1e9), "a non-negative number"}},
        {"--oscillation-hz", {real(options.oscillation_hz, 0, 1e7), "a non-negative number"}},
        {"--oscillation-amplitude", {real(options.oscillation_amplitude, 0, 1e9), "a non-negative number"}},
        {"--spike-rate", {real(options.spike_rate, 0, 1e6), "spikes per second (>= 0)"}},
        {"--ttl-lines", {integer(options.ttl_lines, 0, 256), "an integer in 0..256"}},
        {"--ttl-period", {real(options.ttl_period_s, 1e-6, 1e6), "seconds (> 0)"}},
        {"--source-node", {integer(options.source_node, 0, INT32_MAX), "a non-negative integer"}},
        {"--input", {text(options.input), "a file or -"}},
        {"--input-format", {text(options.input_format), "float32 or int16"}},
        {"--input-scale", {real(options.input_scale, -1e12, 1e12), "a number"}},
        {"--events", {text(options.events), "a file"}},
        {"--output", {text(options.output), "a file or -"}},
        {"--chunk", {integer(options.chunk, 1, 1 << 24), "samples per chunk (>= 1)"}},
        {"--json-file", {text(options.json_file), "a file path"}},
        {"--script",
         {[&](const std::string& v) {
              options.scripts.push_back(v);
              return !v.empty();
          },
          "a file"}},
        {"--instances", {integer(options.instances, 1, 256), "an integer in 1..256"}},
        {"--policy", {text(policy), "bypass or continue"}},
        {"--record-dir", {text(options.record_dir), "a folder"}},
        {"--reload-at-block", {integer(options.reload_at_block, 0, int64_t(1) << 40), "a block index (>= 0)"}},
        {"--remove-at-block",
         {[&](const std::string& v) {
              const auto colon = v.find(':');
              Removal removal;
              int64_t block = 0;
              int64_t instance = 0;
              if (colon == std::string::npos || !parse_int(v.substr(0, colon), 0, int64_t(1) << 40, block) ||
                  !parse_int(v.substr(colon + 1), 0, 255, instance)) {
                  return false;
              }
              options.removals.push_back(Removal{block, static_cast<int>(instance)});
              return true;
          },
          "BLOCK:INSTANCE"}},
        {"--audio-restarts", {integer(options.audio_restarts, 0, 1000), "an integer in 0..1000"}},
        {"--watchdog", {real(options.watchdog_s, 0, 86400), "seconds (0: off)"}},
        {"--load-watchdog", {real(options.load_watchdog_s, 0, 86400), "seconds (0: off)"}},
        {"--parent-pid", {integer(options.parent_pid, 1, INT32_MAX), "a process id"}},
        {"--max-events", {integer(options.max_events, 0, int64_t(1) << 32), "a non-negative integer"}},
    };
    std::map<std::string, bool*> flags = {
        {"--no-default-home", &options.no_default_home},
        {"--check-home", &options.check_home},
        {"--realtime", &options.realtime},
        {"--zero-copy", &options.zero_copy},
        {"--contiguous", &contiguous},
        {"--json", &options.json},
        {"--reload-wait-stdin", &options.reload_wait_stdin},
        {"--reload-concurrent", &options.reload_concurrent},
    };

    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            return ParseResult::Help;
        }
        std::string value;
        bool inline_value = false;
        const auto equals = arg.find('=');
        if (arg.rfind("--", 0) == 0 && equals != std::string::npos) {
            value = arg.substr(equals + 1);
            arg = arg.substr(0, equals);
            inline_value = true;
        }
        if (auto flag = flags.find(arg); flag != flags.end() && !inline_value) {
            *flag->second = true;
            continue;
        }
        const auto option = with_value.find(arg);
        if (option == with_value.end()) {
            problem = "unknown argument '" + std::string(argv[i]) + "'";
            return ParseResult::Error;
        }
        if (!inline_value) {
            if (i + 1 >= argc) {
                problem = arg + " needs a value (" + option->second.second + ")";
                return ParseResult::Error;
            }
            value = argv[++i];
        }
        if (!option->second.first(value)) {
            problem = arg + " expects " + option->second.second + ", got '" + value + "'";
            return ParseResult::Error;
        }
    }

    if (policy != "bypass" && policy != "continue") {
        problem = "--policy expects bypass or continue, got '" + policy + "'";
        return ParseResult::Error;
    }
    options.policy_continue = policy == "continue";
    if (options.input_format != "float32" && options.input_format != "int16") {
        problem = "--input-format expects float32 or int16, got '" + options.input_format + "'";
        return ParseResult::Error;
    }
    if (contiguous) {
        if (callback_given || jitter_given) {
            problem = "--contiguous sets the callback size and jitter itself; drop --callback-size/--block-jitter";
            return ParseResult::Error;
        }
        options.block_jitter = 0;
        options.callback_size = options.block_size;
    } else if (!callback_given && options.max_block_samples() > options.callback_size) {
        options.callback_size = options.max_block_samples();
    }
    if (options.output == "-" && options.json) {
        problem = "--output - cannot be combined with --json (both use stdout); use --json-file";
        return ParseResult::Error;
    }
    if (options.block_jitter >= options.block_size) {
        problem = "--block-jitter must be smaller than --block-size";
        return ParseResult::Error;
    }
    if (options.max_block_samples() > options.callback_size) {
        problem =
            "--callback-size (" + std::to_string(options.callback_size) +
            ") must hold the largest block (block size + jitter = " + std::to_string(options.max_block_samples()) + ")";
        return ParseResult::Error;
    }
    // The buffer plus one staging buffer per instance, float32: refuse what would not fit rather than crash.
    const double buffer_bytes = 4.0 * options.channels * options.callback_size;
    const double needed = buffer_bytes * (1 + std::max(options.instances, static_cast<int>(options.scripts.size())));
    if (needed > 4.0 * 1024 * 1024 * 1024) {
        problem = "--channels x --callback-size x instances needs " +
                  std::to_string(static_cast<long long>(needed / 1e6)) +
                  " MB of buffers; more than the 4 GB this host allows";
        return ParseResult::Error;
    }
    if (options.check_home) {
        return ParseResult::Ok;
    }
    if (options.scripts.empty()) {
        problem = "no script given: use --script FILE (or --check-home to check a Home only)";
        return ParseResult::Error;
    }
    for (const auto& script : options.scripts) {
        std::error_code error;
        if (!std::filesystem::exists(script, error)) {
            problem = "script not found: " + script;
            return ParseResult::Error;
        }
        if (!std::filesystem::is_regular_file(script, error)) {
            problem = "script is not a file: " + script;
            return ParseResult::Error;
        }
    }
    if (options.instances == 0) {
        options.instances = static_cast<int>(options.scripts.size());
    }
    for (const auto& removal : options.removals) {
        if (removal.instance >= options.instances) {
            problem = "--remove-at-block names instance " + std::to_string(removal.instance) + " but there are only " +
                      std::to_string(options.instances);
            return ParseResult::Error;
        }
    }
    if (options.reload_wait_stdin && options.reload_at_block < 0) {
        problem = "--reload-wait-stdin needs --reload-at-block";
        return ParseResult::Error;
    }
    if (options.reload_concurrent && options.reload_at_block < 0) {
        problem = "--reload-concurrent needs --reload-at-block";
        return ParseResult::Error;
    }
    if (!options.input.empty() && duration_given && options.blocks > 0) {
        problem = "give either --duration or --blocks";
        return ParseResult::Error;
    }
    if (!options.record_dir.empty()) {
        std::error_code error;
        options.record_dir = std::filesystem::absolute(options.record_dir, error).lexically_normal().string();
    }
    if (options.input.empty() && !duration_given && options.blocks < 0) {
        options.duration_s = 1.0;
    }
    if (!options.input.empty() && !duration_given) {
        options.duration_s = -1.0;  // until the input ends
    }
    return ParseResult::Ok;
}

}  // namespace oe_pyproc::host
