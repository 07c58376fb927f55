#include "oe_pyproc_adapter_logic.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace oe_pyproc::adapter {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------------------
// Home
// ---------------------------------------------------------------------------------------------------------

std::vector<HomeCandidate> gather_home_candidates(const std::string& chain_home, const std::string& gui_root, int api,
                                                  std::vector<std::string>& log) {
    std::vector<HomeCandidate> candidates;
    candidates.push_back({chain_home, HomeOrigin::Chain});

    std::string problem;
    std::string from_default_file = read_default_home_file(gui_root, api, &problem);
    if (!problem.empty()) {
        log.push_back("default Home file: " + problem);
    }
    candidates.push_back({from_default_file, HomeOrigin::DefaultHomeFile});

    problem.clear();
    std::string from_manifest = read_manifest_source_prefix(gui_root, api, &problem);
    if (!problem.empty()) {
        log.push_back("install manifest: " + problem);
    }
    candidates.push_back({from_manifest, HomeOrigin::InstallManifest});
    return candidates;
}

namespace {
// A candidate's origin as the user knows it, for the one-line message.
const char* describe(HomeOrigin origin) {
    switch (origin) {
        case HomeOrigin::Chain: return "chain python_home";
        case HomeOrigin::DefaultHomeFile: return "default Home file";
        case HomeOrigin::InstallManifest: return "install manifest";
        case HomeOrigin::HostPrefix: return "the host's own environment";
        case HomeOrigin::Chooser: return "folder chooser";
    }
    return "unknown";
}
}  // namespace

bool same_folder(const std::string& a, const std::string& b) {
    if (a.empty() || b.empty()) {
        return a == b;
    }
    std::error_code ec_a, ec_b;
    fs::path canonical_a = fs::weakly_canonical(fs::path(a), ec_a);
    fs::path canonical_b = fs::weakly_canonical(fs::path(b), ec_b);
    if (ec_a || ec_b) {
        return fs::path(a).lexically_normal() == fs::path(b).lexically_normal();
    }
    // weakly_canonical keeps a trailing separator as an empty last element; compare without it.
    auto strip = [](fs::path p) {
        std::string s = p.string();
        while (s.size() > 1 && (s.back() == '/' || s.back() == '\\')) {
            s.pop_back();
        }
        return s;
    };
    return strip(canonical_a) == strip(canonical_b);
}

HomeDecision decide_home(const std::string& running_home, const std::vector<HomeCandidate>& candidates, bool headless,
                         const HomeValidator& validate) {
    HomeDecision decision;

    if (!running_home.empty()) {
        // One interpreter per process: only the chain's own Home can conflict with the running one; the
        // default file and the manifest are fallbacks and are not consulted once Python runs.
        const HomeCandidate* chain = nullptr;
        for (const auto& candidate : candidates) {
            if (candidate.origin == HomeOrigin::Chain) {
                chain = &candidate;
            }
        }
        if (chain == nullptr || chain->path.empty() || same_folder(chain->path, running_home)) {
            decision.action = HomeAction::UseRunning;
            decision.log.push_back("Python already runs with Home " + running_home);
            return decision;
        }
        decision.action = HomeAction::Refuse;
        decision.message = "Python already runs in this GUI with Home " + running_home + "; this chain asks for " +
                           chain->path + ": restart the GUI to switch Home";
        decision.log.push_back(decision.message);
        return decision;
    }

    std::string skipped;  // the reasons, for the one-line message
    for (const auto& candidate : candidates) {
        HomeStep step{candidate, false, ""};
        std::string label = std::string(to_string(candidate.origin));
        if (decision.action == HomeAction::Start) {
            step.reason = "not needed: an earlier candidate was valid";
        } else if (candidate.path.empty()) {
            step.reason = "not set";
            decision.log.push_back(label + ": not set");
        } else if (Validation validation = validate(candidate.path); !validation.ok) {
            step.reason = validation.reason;
            decision.log.push_back(label + ": skipped " + candidate.path + ": " + validation.reason);
            skipped += (skipped.empty() ? "" : "; ") + validation.reason;
        } else {
            step.accepted = true;
            decision.log.push_back(label + ": using " + candidate.path + " (Python " + validation.info.version + ")");
            decision.action = HomeAction::Start;
            decision.origin = candidate.origin;
            decision.validation = std::move(validation);
        }
        decision.steps.push_back(std::move(step));
    }
    if (decision.action == HomeAction::Start) {
        return decision;
    }

    if (headless) {
        decision.action = HomeAction::NoHome;
        std::string looked_at;
        for (const auto& candidate : candidates) {
            looked_at += (looked_at.empty() ? "" : ", ") + std::string(describe(candidate.origin));
        }
        decision.message = "no valid Python Home (" + looked_at +
                           "); run `oe-pyproc configure --python-home DIR` or set the python_home parameter";
    } else {
        decision.action = HomeAction::AskChooser;
        decision.message = "no valid Python Home found; choose one";
    }
    if (!skipped.empty()) {
        decision.message += " (" + skipped + ")";
    }
    decision.log.push_back(decision.message);
    return decision;
}

// ---------------------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------------------

StreamChoice choose_stream(const std::vector<StreamInfo>& streams, int requested_index) {
    StreamChoice choice;
    if (streams.empty()) {
        return choice;
    }
    int index = (requested_index >= 0 && requested_index < static_cast<int>(streams.size())) ? requested_index : 0;
    choice.valid = true;
    choice.index = index;
    choice.stream = streams[static_cast<size_t>(index)];
    return choice;
}

StreamChange stream_change(const StreamChoice& before, const StreamChoice& after) {
    if (before.valid != after.valid) {
        return StreamChange::Reinit;
    }
    if (!after.valid) {
        return StreamChange::None;
    }
    bool same = before.stream.key == after.stream.key && before.stream.num_channels == after.stream.num_channels &&
                before.stream.sample_rate == after.stream.sample_rate;
    return same ? StreamChange::None : StreamChange::Reinit;
}

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

int place_output_events(const oe_pyproc_event_out* events, int count, int64_t first_sample, int num_samples,
                        OutputTtl* out, int& dropped) {
    dropped = 0;
    if (num_samples <= 0 || events == nullptr || out == nullptr) {
        return 0;
    }
    int placed = 0;
    for (int i = 0; i < count; ++i) {
        const oe_pyproc_event_out& event = events[i];
        if (event.line < 0 || event.line > kMaxTtlLine) {
            ++dropped;
            continue;
        }
        OutputTtl ttl;
        ttl.line = event.line;
        ttl.state = event.state != 0;
        ttl.sample_in_block = std::clamp(event.offset, 0, num_samples - 1);
        ttl.sample_number = first_sample + ttl.sample_in_block;
        // Insertion sort by position (stable, allocation-free; a block carries few events).
        int j = placed;
        while (j > 0 && out[j - 1].sample_in_block > ttl.sample_in_block) {
            out[j] = out[j - 1];
            --j;
        }
        out[j] = ttl;
        ++placed;
    }
    return placed;
}

// ---------------------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------------------

void BlockTimer::reset() {
    blocks_.store(0, std::memory_order_relaxed);
    last_us_.store(0.0, std::memory_order_relaxed);
    mean_us_.store(0.0, std::memory_order_relaxed);
    max_us_.store(0.0, std::memory_order_relaxed);
    budget_us_.store(0.0, std::memory_order_relaxed);
}

void BlockTimer::record(int64_t script_ns, int num_samples, double sample_rate) {
    // Single writer (the audio thread): plain load/modify/store is enough, readers only need atomicity.
    const double us = static_cast<double>(script_ns) / 1000.0;
    const uint64_t n = blocks_.load(std::memory_order_relaxed) + 1;
    constexpr double kWindow = 64.0;
    const double previous_mean = mean_us_.load(std::memory_order_relaxed);
    const double weight = n < kWindow ? 1.0 / static_cast<double>(n) : 1.0 / kWindow;
    mean_us_.store(previous_mean + (us - previous_mean) * weight, std::memory_order_relaxed);
    last_us_.store(us, std::memory_order_relaxed);
    if (us > max_us_.load(std::memory_order_relaxed)) {
        max_us_.store(us, std::memory_order_relaxed);
    }
    if (sample_rate > 0.0 && num_samples > 0) {
        budget_us_.store(1e6 * num_samples / sample_rate, std::memory_order_relaxed);
    }
    blocks_.store(n, std::memory_order_release);
}

TimingSnapshot BlockTimer::snapshot() const {
    TimingSnapshot s;
    s.blocks = blocks_.load(std::memory_order_acquire);
    s.last_us = last_us_.load(std::memory_order_relaxed);
    s.mean_us = mean_us_.load(std::memory_order_relaxed);
    s.max_us = max_us_.load(std::memory_order_relaxed);
    s.budget_us = budget_us_.load(std::memory_order_relaxed);
    s.load = s.budget_us > 0.0 ? s.mean_us / s.budget_us : 0.0;
    return s;
}

// ---------------------------------------------------------------------------------------------------------
// Policy, config messages
// ---------------------------------------------------------------------------------------------------------

namespace {
std::string lower_trimmed(const std::string& text) {
    size_t begin = 0, end = text.size();
    while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) {
        ++begin;
    }
    while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) {
        --end;
    }
    std::string out = text.substr(begin, end - begin);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::vector<std::string> split_words(const std::string& text) {
    std::istringstream stream(text);
    std::vector<std::string> words;
    for (std::string word; stream >> word;) {
        words.push_back(word);
    }
    return words;
}

constexpr const char* kAcceptedCommands =
    "accepted: reload, policy bypass|continue, watchdog <seconds>|default, load_watchdog <seconds>|default, status, "
    "last_error";
}  // namespace

const char* to_string(ErrorPolicy policy) {
    return policy == ErrorPolicy::Continue ? "continue" : "bypass";
}

std::optional<ErrorPolicy> policy_from_string(const std::string& text) {
    std::string word = lower_trimmed(text);
    if (word == "bypass") {
        return ErrorPolicy::Bypass;
    }
    if (word == "continue") {
        return ErrorPolicy::Continue;
    }
    return std::nullopt;
}

ConfigCommand parse_config_message(const std::string& text) {
    ConfigCommand command;
    std::vector<std::string> words = split_words(lower_trimmed(text));
    if (words.size() == 1 && words[0] == "reload") {
        command.kind = ConfigCommand::Kind::Reload;
    } else if (words.size() == 1 && words[0] == "status") {
        command.kind = ConfigCommand::Kind::Status;
    } else if (words.size() == 1 && words[0] == "last_error") {
        command.kind = ConfigCommand::Kind::LastError;
    } else if (words.size() == 2 && words[0] == "policy") {
        if (auto policy = policy_from_string(words[1])) {
            command.kind = ConfigCommand::Kind::SetPolicy;
            command.policy = *policy;
        } else {
            command.problem = "unknown policy '" + words[1] + "' (bypass or continue)";
        }
    } else if (words.size() == 2 && (words[0] == "watchdog" || words[0] == "load_watchdog")) {
        char* end = nullptr;
        const double seconds = words[1] == "default" ? -1.0 : std::strtod(words[1].c_str(), &end);
        const bool valid = words[1] == "default" || (end != nullptr && *end == '\0' && std::isfinite(seconds) &&
                                                     seconds >= 0 && seconds <= 86400);
        if (valid) {
            command.kind =
                words[0] == "watchdog" ? ConfigCommand::Kind::SetWatchdog : ConfigCommand::Kind::SetLoadWatchdog;
            command.seconds = seconds;
        } else {
            command.problem = "'" + words[1] + "' is not a number of seconds in 0..86400 (0: off) or 'default'";
        }
    } else {
        command.problem = "unknown command '" + text + "' (" + kAcceptedCommands + ")";
    }
    return command;
}

// ---------------------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------------------

std::string error_summary(const std::string& full_error) {
    std::istringstream stream(full_error);
    std::string line, last_nonblank;
    while (std::getline(stream, line)) {
        if (line.find_first_not_of(" \t\r") != std::string::npos) {
            last_nonblank = line;
        }
    }
    size_t start = last_nonblank.find_first_not_of(" \t");
    return start == std::string::npos ? std::string() : last_nonblank.substr(start);
}

namespace {
std::string format_us(double us) {
    char text[32];
    if (us >= 1000.0) {
        std::snprintf(text, sizeof text, "%.2f ms", us / 1000.0);
    } else {
        std::snprintf(text, sizeof text, "%.0f us", us);
    }
    return text;
}

std::string file_name(const std::string& path) {
    return fs::path(path).filename().string();
}

void append_json_string(std::string& out, const std::string& value) {
    out += json_quote(value);
}
}  // namespace

ScriptState script_state(const StatusInfo& status) {
    if (!status.loading_script.empty()) {
        return ScriptState::Loading;  // also a reload of a loaded or faulted script: the new import matters now
    }
    if (status.script_path.empty()) {
        return ScriptState::NoScript;
    }
    if (status.faulted) {
        return ScriptState::Faulted;
    }
    if (status.loaded) {
        return status.last_error.empty() ? ScriptState::Loaded : ScriptState::LoadedRaising;
    }
    return status.checking_home.empty() ? ScriptState::NotLoaded : ScriptState::CheckingHome;
}

std::string script_state_text(const StatusInfo& status) {
    const std::string name = file_name(status.script_path);
    switch (script_state(status)) {
        case ScriptState::NoScript: return "none - choose one with Script...";
        case ScriptState::CheckingHome: return name + " - waiting for the Home check";
        case ScriptState::Loading: return "loading script\u2026 " + file_name(status.loading_script);
        case ScriptState::Loaded: return name + " - loaded";
        case ScriptState::LoadedRaising: return name + " - loaded, raising (policy continue)";
        case ScriptState::Faulted: return name + " - FAULTED, bypassed until Reload";
        case ScriptState::NotLoaded: break;
    }
    return name + " - not loaded, blocks pass through";
}

std::vector<std::string> status_lines(const StatusInfo& status) {
    std::vector<std::string> lines;
    if (!status.checking_home.empty() && status.home.empty()) {
        lines.push_back("Home: checking Home\u2026 " + status.checking_home);
    } else if (!status.home.empty()) {
        lines.push_back("Home: " + status.home +
                        (status.python_version.empty() ? "" : " (Python " + status.python_version + ")"));
    } else {
        lines.push_back("Home: none" + (status.home_problem.empty() ? "" : " - " + status.home_problem));
    }
    if (status.script_path.empty()) {
        lines.push_back("Script: none");
    } else {
        // The policy has its own control in the editor and its own field in the JSON status.
        lines.push_back("Script: " + script_state_text(status));
    }
    if (!status.last_error.empty()) {
        lines.push_back("Error: " + error_summary(status.last_error));
    }
    if (status.timing.blocks > 0) {
        char load[32];
        std::snprintf(load, sizeof load, "%.0f%%", status.timing.load * 100.0);
        lines.push_back("Block: " + format_us(status.timing.mean_us) + " mean, " + format_us(status.timing.max_us) +
                        " max of " + format_us(status.timing.budget_us) + " budget (" + load + ")");
    }
    return lines;
}

std::string status_json(const StatusInfo& status) {
    std::string out = "{\"schema\": 1, \"home\": ";
    append_json_string(out, status.home);
    out += ", \"python_version\": ";
    append_json_string(out, status.python_version);
    out += ", \"script_path\": ";
    append_json_string(out, status.script_path);
    out += ", \"loaded\": ";
    out += status.loaded ? "true" : "false";
    out += ", \"faulted\": ";
    out += status.faulted ? "true" : "false";
    out += ", \"policy\": ";
    append_json_string(out, to_string(status.policy));
    out += ", \"checking_home\": ";
    append_json_string(out, status.checking_home);
    out += ", \"loading_script\": ";
    append_json_string(out, status.loading_script);
    out += ", \"home_problem\": ";
    append_json_string(out, status.home_problem);
    out += ", \"last_error\": ";
    append_json_string(out, status.last_error);
    char timing[256];
    std::snprintf(timing, sizeof timing,
                  ", \"blocks\": %llu, \"script_us_mean\": %.3f, \"script_us_max\": %.3f, \"budget_us\": %.3f}",
                  static_cast<unsigned long long>(status.timing.blocks), status.timing.mean_us, status.timing.max_us,
                  status.timing.budget_us);
    out += timing;
    return out;
}

// ---------------------------------------------------------------------------------------------------------
// Platform
// ---------------------------------------------------------------------------------------------------------

std::string this_module_directory() {
#if defined(_WIN32)
    // Unverified on Windows: the module that holds this function, its full path in UTF-16.
    HMODULE module = nullptr;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            reinterpret_cast<LPCWSTR>(&this_module_directory), &module)) {
        return {};
    }
    std::wstring buffer(32768, L'\0');
    DWORD length = GetModuleFileNameW(module, buffer.data(), static_cast<DWORD>(buffer.size()));
    if (length == 0 || length >= buffer.size()) {
        return {};
    }
    buffer.resize(length);
    return fs::path(buffer).parent_path().u8string();
#else
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&this_module_directory), &info) == 0 || info.dli_fname == nullptr) {
        return {};
    }
    std::error_code ec;
    fs::path path = fs::weakly_canonical(fs::path(info.dli_fname), ec);
    if (ec) {
        path = fs::path(info.dli_fname);
    }
    return path.parent_path().string();
#endif
}

}  // namespace oe_pyproc::adapter
