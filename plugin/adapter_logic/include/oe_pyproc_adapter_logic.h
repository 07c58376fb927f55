// oe_pyproc_adapter_logic.h — the parts of the Open Ephys adapter that need neither JUCE nor Python:
// which Home to use (DESIGN §4 order, one interpreter per process), which stream the script sees, how
// events map between the GUI and the bridge, the per-block script time against the budget, the config
// messages the processor accepts and the status line the editor shows.
//
// The JUCE side (plugin/openephys/) only translates GUI objects into these plain types, so everything that
// decides something is unit-tested without a GUI (plugin/tests/test_adapter_*.cpp).
#pragma once

#include "oe_pyproc_loader.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace oe_pyproc::adapter {

// ---------------------------------------------------------------------------------------------------------
// Home: candidates, one-interpreter rule
// ---------------------------------------------------------------------------------------------------------

// The chain's python_home, then the default Home file, then the install manifest's source prefix
// (DESIGN §4/§5). Problems reading the files (malformed JSON) are appended to `log`. The headless host
// appends its own prefix (HomeOrigin::HostPrefix) after these.
std::vector<HomeCandidate> gather_home_candidates(const std::string& chain_home, const std::string& gui_root, int api,
                                                  std::vector<std::string>& log);

enum class HomeAction {
    UseRunning,  // Python already runs with an acceptable Home: nothing to start
    Start,       // start the runtime with `validation`
    AskChooser,  // no valid candidate; the GUI is interactive, so offer a folder chooser
    NoHome,      // no valid candidate and headless: the script stays unloaded, `message` says why
    Refuse,      // Python runs with another Home than the one the chain asks for: restart the GUI
};

// One candidate as decide_home judged it.
struct HomeStep {
    HomeCandidate candidate;
    bool accepted = false;
    std::string reason;  // why it was skipped ("not set", the validation's reason, "not needed: ...")
};

struct HomeDecision {
    HomeAction action = HomeAction::NoHome;
    std::vector<HomeStep> steps;            // every candidate, in order (empty when Python already runs)
    std::optional<Validation> validation;   // set for Start
    HomeOrigin origin = HomeOrigin::Chain;  // where the started Home came from (Start)
    std::vector<std::string> log;           // one line per candidate looked at, skipped ones with their reason
    std::string message;                    // for NoHome/Refuse: one user-facing sentence
};

using HomeValidator = std::function<Validation(const std::string& path)>;

// `running_home` is Runtime::home() ("" while Python is not started). Validation only happens when
// Python is not running yet; the first valid candidate wins, later ones are not validated. A chain's Home that is not
// used is reported, never rewritten.
HomeDecision decide_home(const std::string& running_home, const std::vector<HomeCandidate>& candidates, bool headless,
                         const HomeValidator& validate);

// Two spellings of one folder (trailing separators, `..`, symlinks) compare equal.
bool same_folder(const std::string& a, const std::string& b);

// ---------------------------------------------------------------------------------------------------------
// Stream selection
// ---------------------------------------------------------------------------------------------------------

struct StreamInfo {
    uint16_t id = 0;
    std::string key;  // the GUI's stream key (source node id + name), stable across chain loads
    int num_channels = 0;
    double sample_rate = 0.0;
};

struct StreamChoice {
    bool valid = false;  // false when the processor has no streams
    int index = -1;      // into the stream list
    StreamInfo stream;
};

// `requested_index` is the current_stream parameter (an index into the processor's streams); an index out
// of range (e.g. a chain saved with more streams) falls back to the first stream.
StreamChoice choose_stream(const std::vector<StreamInfo>& streams, int requested_index);

// What has to happen to the script when the selected stream's shape changes.
enum class StreamChange { None, Reinit };
StreamChange stream_change(const StreamChoice& before, const StreamChoice& after);

// ---------------------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------------------

// Highest TTL line a script may emit (the GUI's TTL event carries an 8-bit line number).
constexpr int kMaxTtlLine = 255;

struct OutputTtl {
    int line = 0;
    bool state = false;
    int sample_in_block = 0;    // where addEvent puts it in this block
    int64_t sample_number = 0;  // absolute sample number on the selected stream
};

// Maps drained add_python_event entries onto the current block: offsets are clamped into
// [0, num_samples - 1]; lines outside 0..kMaxTtlLine are dropped and counted in `dropped`. Writes at most
// `count` entries to `out`, ordered by position (emission order kept for equal positions), and returns how
// many. No allocation (audio thread). An empty block (num_samples <= 0) places nothing.
int place_output_events(const oe_pyproc_event_out* events, int count, int64_t first_sample, int num_samples,
                        OutputTtl* out, int& dropped);

// Whether an incoming event belongs to the script: only events of the selected stream are forwarded.
inline bool forward_event_to_script(uint16_t event_stream_id, const StreamChoice& selected) {
    return selected.valid && event_stream_id == selected.stream.id;
}

// ---------------------------------------------------------------------------------------------------------
// Per-block script time against the budget
// ---------------------------------------------------------------------------------------------------------

struct TimingSnapshot {
    uint64_t blocks = 0;
    double last_us = 0.0;
    double mean_us = 0.0;    // exponential moving average over about the last 64 blocks
    double max_us = 0.0;     // since start of acquisition (reset())
    double budget_us = 0.0;  // duration of the last block of data: num_samples / sample_rate
    double load = 0.0;       // mean_us / budget_us
};

// Written by the audio thread, read by the editor's timer: lock-free, no allocation.
class BlockTimer {
public:
    void reset();
    void record(int64_t script_ns, int num_samples, double sample_rate);
    TimingSnapshot snapshot() const;

private:
    std::atomic<uint64_t> blocks_{0};
    std::atomic<double> last_us_{0.0};
    std::atomic<double> mean_us_{0.0};
    std::atomic<double> max_us_{0.0};
    std::atomic<double> budget_us_{0.0};
};

// ---------------------------------------------------------------------------------------------------------
// Error policy, config messages
// ---------------------------------------------------------------------------------------------------------

enum class ErrorPolicy { Bypass = OE_PYPROC_POLICY_BYPASS, Continue = OE_PYPROC_POLICY_CONTINUE };
const char* to_string(ErrorPolicy policy);
std::optional<ErrorPolicy> policy_from_string(const std::string& text);

struct ConfigCommand {
    enum class Kind {
        Reload,
        SetPolicy,
        SetWatchdog,
        SetLoadWatchdog,
        Status,
        LastError,
        Unknown
    } kind = Kind::Unknown;
    ErrorPolicy policy = ErrorPolicy::Bypass;  // SetPolicy
    double seconds = 0.0;                      // SetWatchdog, SetLoadWatchdog: the limit (0: off; < 0: default)
    std::string problem;                       // Unknown: what was wrong, with the accepted commands
};

// Accepted (case-insensitive, surrounding blanks ignored): "reload", "policy bypass", "policy continue",
// "watchdog <seconds>|default", "load_watchdog <seconds>|default" (0: off; at most a day), "status",
// "last_error".
ConfigCommand parse_config_message(const std::string& text);

// ---------------------------------------------------------------------------------------------------------
// Status shown by the editor (and returned by the "status" config message)
// ---------------------------------------------------------------------------------------------------------

struct StatusInfo {
    std::string home;  // "" when Python is not running
    std::string python_version;
    std::string script_path;  // "" when none
    bool loaded = false;
    bool faulted = false;
    ErrorPolicy policy = ErrorPolicy::Bypass;
    std::string last_error;      // full message + traceback, "" if none
    std::string home_problem;    // why no Home is used (NoHome/Refuse), "" otherwise
    std::string checking_home;   // the Home being checked off the message thread, "" when no check runs
    std::string loading_script;  // the script being imported off the message thread, "" when none
    TimingSnapshot timing;
};

// First line of a (possibly multi-line) error: the exception line of a traceback is its last non-empty
// line, which is what the status line shows; the full text stays available.
std::string error_summary(const std::string& full_error);

// What the script is doing, as the editor names it.
enum class ScriptState {
    NoScript,       // no script_path
    CheckingHome,   // waiting for the Home check before it can load
    Loading,        // its import runs off the message thread (also a reload)
    Loaded,         // running
    LoadedRaising,  // running under policy "continue", and it raised
    Faulted,        // raised under policy "bypass": blocks pass through until a reload
    NotLoaded,      // its load failed, or no Home: blocks pass through
};
ScriptState script_state(const StatusInfo& status);
// "filter.py - loaded", "loading script… filter.py", ... (the Script line without its label).
std::string script_state_text(const StatusInfo& status);

// The full lines (no shortening): Home, Script, Error (when there is one), Block (once blocks ran). The
// editor shows them fitted to its width (oe_pyproc_editor_text.h); the full text is the tooltip.
std::vector<std::string> status_lines(const StatusInfo& status);

// One JSON object (schema 1) for handleConfigMessage("status").
std::string status_json(const StatusInfo& status);

// ---------------------------------------------------------------------------------------------------------
// Platform
// ---------------------------------------------------------------------------------------------------------

// Folder of the shared library that contains this code (the adapter): the bridges live beside it
// (DESIGN §5; on macOS beside the binary in python-processor.bundle/Contents/MacOS, unverified).
// Linux/macOS: dladdr; Windows: GetModuleHandleExW (unverified). "" if unknown.
std::string this_module_directory();

}  // namespace oe_pyproc::adapter
