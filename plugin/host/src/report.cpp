#include "report.h"

#include "oe_pyproc_loader.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

namespace oe_pyproc::host {
namespace {

std::string number(double value) {
    if (!std::isfinite(value)) {
        return "null";
    }
    char text[64];
    std::snprintf(text, sizeof(text), "%.6g", value);
    return text;
}

std::string boolean(bool value) {
    return value ? "true" : "false";
}

struct Summary {
    double median = 0, p99 = 0, max = 0;
    bool empty = true;
};

template <typename T>
Summary summarize(const std::vector<T>& values, double scale) {
    Summary summary;
    if (values.empty()) {
        return summary;
    }
    std::vector<double> sorted(values.begin(), values.end());
    std::sort(sorted.begin(), sorted.end());
    const auto at = [&](double quantile) {
        const size_t index = std::min(sorted.size() - 1, static_cast<size_t>(std::ceil(quantile * sorted.size())) - 1);
        return sorted[quantile <= 0.5 ? (sorted.size() - 1) / 2 : index] * scale;
    };
    summary.median = sorted.size() % 2 == 1 ? sorted[sorted.size() / 2] * scale
                                            : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2 * scale;
    summary.p99 = at(0.99);
    summary.max = sorted.back() * scale;
    summary.empty = false;
    return summary;
}

std::string summary_json(const Summary& summary) {
    if (summary.empty) {
        return "{\"median\": null, \"p99\": null, \"max\": null}";
    }
    return "{\"median\": " + number(summary.median) + ", \"p99\": " + number(summary.p99) +
           ", \"max\": " + number(summary.max) + "}";
}

std::string optional_int(int64_t value) {
    return value < 0 ? "null" : std::to_string(value);
}

}  // namespace

std::string Report::to_json() const {
    std::ostringstream out;
    out << "{\"schema\": 1, \"host_version\": " << json_quote(OE_PYPROC_VERSION) << ", \"ok\": " << boolean(ok)
        << ", \"exit_code\": " << exit_code << ", \"fatal\": ";
    if (fatal) {
        out << "{\"stage\": " << json_quote(fatal->stage) << ", \"message\": " << json_quote(fatal->message) << "}";
    } else {
        out << "null";
    }
    out << ",\n \"home\": {\"chosen\": " << (home.chosen.empty() ? "null" : json_quote(home.chosen))
        << ", \"origin\": " << (home.origin.empty() ? "null" : json_quote(home.origin)) << ", \"candidates\": [";
    for (size_t i = 0; i < home.candidates.size(); ++i) {
        const auto& candidate = home.candidates[i];
        out << (i ? ", " : "") << "{\"path\": " << (candidate.path.empty() ? "null" : json_quote(candidate.path))
            << ", \"origin\": " << json_quote(candidate.origin) << ", \"accepted\": " << boolean(candidate.accepted)
            << ", \"reason\": " << json_quote(candidate.reason) << "}";
    }
    out << "], \"python_version\": " << (home.python_version.empty() ? "null" : json_quote(home.python_version))
        << ", \"venv\": " << boolean(home.venv)
        << ", \"numpy_version\": " << (home.numpy_version.empty() ? "null" : json_quote(home.numpy_version))
        << ", \"bridge\": " << (home.bridge.empty() ? "null" : json_quote(home.bridge)) << "},\n";
    out << " \"stream\": {\"channels\": " << stream.channels << ", \"sample_rate\": " << number(stream.sample_rate)
        << ", \"callback_size\": " << stream.callback_size << ", \"blocks\": " << stream.blocks
        << ", \"samples\": " << stream.samples << ", \"duration_s\": " << number(stream.duration_s)
        << ", \"contiguous\": " << boolean(stream.contiguous) << ", \"source\": " << json_quote(stream.source)
        << ", \"first_sample_number\": " << stream.first_sample_number
        << ", \"ttl_events_in\": " << stream.ttl_events_in << ", \"spikes_in\": " << stream.spikes_in << "},\n";
    out << " \"run\": {\"wall_time_s\": " << number(run.wall_time_s)
        << ", \"realtime_factor\": " << number(run.realtime_factor) << ", \"cpu_time_s\": " << number(run.cpu_time_s)
        << ", \"cpu_realtime_factor\": " << number(run.cpu_realtime_factor)
        << ", \"audio_cpu_time_s\": " << number(run.audio_cpu_time_s)
        << ", \"audio_cpu_realtime_factor\": " << number(run.audio_cpu_realtime_factor)
        << ", \"audio_threads\": " << run.audio_threads << "},\n \"instances\": [";
    for (size_t i = 0; i < instances.size(); ++i) {
        const auto& instance = instances[i];
        out << (i ? ",\n  " : "\n  ") << "{\"index\": " << instance.index
            << ", \"script\": " << json_quote(instance.script) << ", \"removed_at_block\": "
            << (instance.removed_at_block ? std::to_string(*instance.removed_at_block) : "null")
            << ", \"faulted\": " << boolean(instance.faulted) << ", \"error_count\": " << instance.error_count
            << ", \"blocks_processed\": " << instance.blocks_processed
            << ", \"blocks_bypassed\": " << instance.blocks_bypassed
            << ", \"events_dropped\": " << instance.events_dropped
            << ", \"events_dropped_placement\": " << instance.events_dropped_placement
            << ", \"events_dropped_at_removal\": " << instance.events_dropped_at_removal
            << ", \"blocks_passed_busy\": " << instance.blocks_passed_busy
            << ", \"data_path\": {\"none\": " << instance.path_counts[0] << ", \"view\": " << instance.path_counts[1]
            << ", \"staging\": " << instance.path_counts[2] << ", \"strided\": " << instance.path_counts[3] << "}"
            << ", \"timing_us\": {\"overhead\": " << summary_json(summarize(instance.overhead_ns, 1e-3))
            << ", \"script\": " << summary_json(summarize(instance.script_ns, 1e-3))
            << ", \"gil_wait\": " << summary_json(summarize(instance.gil_wait_ns, 1e-3))
            << ", \"budget_percent\": " << summary_json(summarize(instance.budget_percent, 1.0)) << "}"
            << ", \"block_budget_percent\": [";
        for (size_t k = 0; k < instance.block_budget_percent.size(); ++k) {
            out << (k ? ", " : "") << number(instance.block_budget_percent[k]);
        }
        out << "]"
            << ", \"events_emitted_count\": " << instance.events_emitted_count << ", \"events_emitted\": [";
        for (size_t k = 0; k < instance.events.size(); ++k) {
            const auto& event = instance.events[k];
            out << (k ? ", " : "") << "{\"sample_number\": " << event.sample_number << ", \"line\": " << event.line
                << ", \"state\": " << boolean(event.state) << ", \"block\": " << event.block << "}";
        }
        out << "]}";
    }
    out << "],\n \"error_total\": " << error_total << ", \"errors\": [";
    for (size_t i = 0; i < errors.size(); ++i) {
        const auto& error = errors[i];
        out << (i ? ",\n  " : "\n  ") << "{\"instance\": " << error.instance
            << ", \"block\": " << optional_int(error.block)
            << ", \"sample_number\": " << optional_int(error.sample_number)
            << ", \"method\": " << json_quote(error.method) << ", \"message\": " << json_quote(error.message)
            << ", \"traceback\": " << json_quote(error.traceback) << "}";
    }
    out << "],\n \"reloads\": [";
    for (size_t i = 0; i < reloads.size(); ++i) {
        const auto& reload = reloads[i];
        out << (i ? ", " : "") << "{\"requested_at_block\": " << reload.requested_at_block
            << ", \"started_at_block\": " << reload.started_at_block
            << ", \"finished_at_block\": " << reload.finished_at_block
            << ", \"duration_s\": " << number(reload.duration_s) << ", \"ok\": " << boolean(reload.ok)
            << ", \"waited\": " << boolean(reload.waited)
            << ", \"on_audio_thread\": " << boolean(reload.on_audio_thread) << "}";
    }
    out << "],\n \"warnings\": [";
    for (size_t i = 0; i < warnings.size(); ++i) {
        const auto& warning = warnings[i];
        out << (i ? ", " : "")
            << "{\"instance\": " << (warning.instance < 0 ? "null" : std::to_string(warning.instance))
            << ", \"block\": " << optional_int(warning.block) << ", \"message\": " << json_quote(warning.message)
            << "}";
    }
    out << "]}";
    return out.str();
}

std::string Report::to_text() const {
    std::ostringstream out;
    out << "oe-pyproc-host " << OE_PYPROC_VERSION << ": " << (ok ? "ok" : "FAILED") << " (exit " << exit_code << ")\n";
    if (fatal) {
        out << "  fatal (" << fatal->stage << "): " << fatal->message << "\n";
    }
    if (!home.chosen.empty()) {
        out << "  Home: " << home.chosen << " (" << home.origin << (home.venv ? ", venv" : "") << "), Python "
            << home.python_version << ", numpy " << home.numpy_version << "\n";
    }
    for (const auto& candidate : home.candidates) {
        if (!candidate.accepted) {
            out << "  skipped Home candidate " << candidate.origin << " "
                << (candidate.path.empty() ? "(none)" : candidate.path) << ": " << candidate.reason << "\n";
        }
    }
    if (stream.blocks > 0) {
        out << "  stream: " << stream.channels << " ch, " << stream.sample_rate << " Hz, " << stream.blocks
            << " blocks, " << stream.samples << " samples (" << number(stream.duration_s) << " s) in "
            << number(run.wall_time_s) << " s = " << number(run.realtime_factor) << "x real time\n";
    }
    for (const auto& instance : instances) {
        const Summary overhead = summarize(instance.overhead_ns, 1e-3);
        const Summary script = summarize(instance.script_ns, 1e-3);
        const Summary budget = summarize(instance.budget_percent, 1.0);
        out << "  instance " << instance.index << " " << instance.script << (instance.faulted ? " [FAULTED]" : "")
            << "\n    blocks processed " << instance.blocks_processed << ", bypassed " << instance.blocks_bypassed
            << ", errors " << instance.error_count << ", events emitted " << instance.events_emitted_count << "\n";
        if (!script.empty) {
            out << "    script us median/p99/max " << number(script.median) << "/" << number(script.p99) << "/"
                << number(script.max) << "; bridge overhead us " << number(overhead.median) << "/"
                << number(overhead.p99) << "/" << number(overhead.max) << "; budget % " << number(budget.median) << "/"
                << number(budget.p99) << "/" << number(budget.max) << "\n";
        }
    }
    for (const auto& error : errors) {
        out << "  error: instance " << error.instance << " in " << error.method << " at block "
            << optional_int(error.block) << ": " << error.message << "\n";
        std::istringstream lines(error.traceback);
        std::string line;
        while (std::getline(lines, line)) {
            out << "    | " << line << "\n";
        }
    }
    for (const auto& warning : warnings) {
        out << "  warning: " << warning.message << "\n";
    }
    return out.str();
}

bool write_file_atomically(const std::string& path, const std::string& content, std::string& problem) {
    namespace fs = std::filesystem;
    const fs::path target = fs::u8path(path);  // UTF-8, not Windows' ANSI code page
    const fs::path temp = target.parent_path() / fs::u8path(".oe-pyproc-tmp-" + target.filename().u8string() + "-" +
                                                            std::to_string(static_cast<long long>(getpid())));
    {
        std::ofstream stream(temp, std::ios::binary | std::ios::trunc);
        if (!stream || !(stream << content) || !stream.flush()) {
            problem = "cannot write " + path;
            std::error_code ignored;
            fs::remove(temp, ignored);
            return false;
        }
    }
    std::error_code error;
    fs::rename(temp, target, error);
    if (error) {
        problem = "cannot write " + path + ": " + error.message();
        fs::remove(temp, error);
        return false;
    }
    return true;
}

}  // namespace oe_pyproc::host
