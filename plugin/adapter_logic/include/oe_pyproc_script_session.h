// oe_pyproc_script_session.h — one processor's script on the bridge, without JUCE.
//
// The GUI calls a processor from two threads: the message thread (parameters, editor buttons, config
// messages, acquisition start/stop) and the audio thread (events, process). The bridge requires that calls
// on one instance do not overlap, so a session serialises them with one mutex: the message thread waits for
// it, the audio thread only tries it and lets the block pass through unchanged when it is busy (a reload
// during acquisition never blocks audio).
#pragma once

#include "oe_pyproc_adapter_logic.h"
#include "oe_pyproc_bridge.h"

#include <cstdint>
#include <mutex>
#include <string>

namespace oe_pyproc::adapter {

// The watchdog's defaults (README "Reliability"): a script call may take 10 block budgets, and never less
// than 1 s (a block lasts ~23 ms in the GUI: 1 s is ~40 blocks); loading (import + __init__) 60 s.
constexpr double kWatchdogBudgetMultiple = 10.0;
constexpr double kDefaultWatchdogFloorSeconds = 1.0;
constexpr double kDefaultLoadWatchdogSeconds = 60.0;
inline double default_call_limit_seconds(int block_samples, double sample_rate) {
    const double budget = sample_rate > 0 ? block_samples / sample_rate : 0.0;
    return budget * kWatchdogBudgetMultiple > kDefaultWatchdogFloorSeconds ? budget * kWatchdogBudgetMultiple
                                                                           : kDefaultWatchdogFloorSeconds;
}

struct SessionState {
    bool has_instance = false;
    bool loaded = false;   // a script was imported and PyProcessor constructed
    bool faulted = false;  // the bridge bypasses the script until a reload
    std::string script_path;
    std::string last_error;  // full text with traceback
};

// A script imported into a bridge instance of its own, off the owner's thread (import_script), that the audio
// thread does not see until ScriptSession::adopt() swaps it in. Destroyed unused (a superseded load), it
// destroys that instance, on whichever thread that happens.
class PreparedScript {
public:
    PreparedScript() = default;
    ~PreparedScript();
    PreparedScript(PreparedScript&& other) noexcept;
    PreparedScript& operator=(PreparedScript&& other) noexcept;
    PreparedScript(const PreparedScript&) = delete;
    PreparedScript& operator=(const PreparedScript&) = delete;

    int status() const { return status_; }
    const std::string& script_path() const { return script_path_; }
    double seconds() const { return seconds_; }  // how long the import and __init__ took

private:
    friend class ScriptSession;
    friend PreparedScript import_script(const oe_pyproc_bridge_api*, uint64_t, const std::string&, int, double);
    void reset();

    const oe_pyproc_bridge_api* api_ = nullptr;
    oe_pyproc_instance* instance_ = nullptr;
    int status_ = OE_PYPROC_NOT_INITIALIZED;
    std::string script_path_;
    double seconds_ = 0.0;
};

// Any thread, no session involved: creates a bridge instance named `instance_id` (the session's, so log lines
// and module names stay that session's) and imports the script into it: the slow part of a load (the
// script's own imports, __init__). The bridge takes the GIL itself, so other threads' Python calls interleave.
PreparedScript import_script(const oe_pyproc_bridge_api* api, uint64_t instance_id, const std::string& script_path,
                             int num_channels, double sample_rate);

class ScriptSession {
public:
    explicit ScriptSession(uint64_t instance_id);
    ~ScriptSession();
    ScriptSession(const ScriptSession&) = delete;
    ScriptSession& operator=(const ScriptSession&) = delete;

    // ---- message thread ----
    // Creates the bridge instance once the runtime runs (idempotent).
    void attach(const oe_pyproc_bridge_api* api);
    bool attached() const;

    // Import `script_path` and construct PyProcessor(processor, num_channels, sample_rate). Returns the
    // bridge status; on failure the error is in state().last_error.
    int load(const std::string& script_path, int num_channels, double sample_rate);
    // Re-imports the script; also recovers a faulted instance. Allowed during acquisition: the new
    // processor then gets start_acquisition (the audio thread passes blocks through meanwhile).
    int reload();
    // Swaps in a script imported by import_script (quick: the import already happened): the old instance is
    // destroyed, the new one gets the session's policy, view and size, and start_acquisition during
    // acquisition. A failed import is adopted too, so the state shows its error. Returns its status.
    int adopt(PreparedScript prepared);
    uint64_t instance_id() const { return instance_id_; }
    int reinit(int num_channels, double sample_rate);  // stream/channel-count change, no re-import
    // No script: the instance is replaced by a fresh one (the old processor handle raises). Returns the output
    // events still queued, which no block will carry any more (for the caller to count or log as dropped).
    uint64_t unload();
    // The instance is destroyed (the processor is removed). Output events still queued are not delivered
    // any more: returns how many, for the caller to count as dropped.
    uint64_t close();
    int prepare(int max_samples);
    void set_policy(ErrorPolicy policy);
    ErrorPolicy policy() const { return policy_; }
    void set_zero_copy(bool enabled);  // opt-in zero-copy views of the caller's rows (bridge set_zero_copy)
    // The watchdog's limits in seconds (bridge set_watchdog; 0 turns one off): script calls on the audio
    // thread, and loading/acquisition calls on the message thread. Kept for instances made later.
    void set_watchdog(double call_limit_s, double load_limit_s);

    int start_acquisition();
    int stop_acquisition();
    int start_recording(const std::string& recording_dir);
    int stop_recording();

    SessionState state() const;
    // The bridge's counters (blocks processed/bypassed, errors, dropped events); zeros without an instance.
    oe_pyproc_instance_state bridge_state() const;
    // The same without the session's lock, for a watchdog callback while a call hangs holding it (the bridge's
    // get_state is lock-free). Only while the instance cannot be destroyed (the message thread is stuck or
    // waiting).
    oe_pyproc_instance_state bridge_state_now() const;
    // Records an error that did not come from the bridge (no Home, missing file) for the status line.
    void set_external_error(const std::string& message);

    // ---- audio thread ----
    // RAII: holds the session for one block if it is free. When !active(), pass the block through.
    class Block {
    public:
        explicit Block(ScriptSession& session);
        ~Block();
        Block(const Block&) = delete;
        Block& operator=(const Block&) = delete;
        bool active() const { return active_; }
        // The bridge status of each call (OE_PYPROC_SCRIPT_ERROR: see last_error()).
        int ttl_event(const oe_pyproc_ttl_event& event);
        int spike(const oe_pyproc_spike& spike);
        // Runs the script on the block; records the script time; fills `result` when given.
        int process(const oe_pyproc_block& block, double sample_rate, oe_pyproc_block_result* result = nullptr);
        // Moves queued add_python_event entries into `out` (capacity entries at most).
        int drain(oe_pyproc_event_out* out, int capacity);
        // Message + traceback of the instance's last error ("" if none); valid until the next call.
        const char* last_error() const;

    private:
        ScriptSession& session_;
        std::unique_lock<std::mutex> lock_;
        bool active_ = false;
    };

    BlockTimer& timer() { return timer_; }
    const BlockTimer& timer() const { return timer_; }
    uint64_t blocks_skipped_busy() const { return blocks_skipped_busy_.load(std::memory_order_relaxed); }

private:
    int after_call(int status);   // updates loaded/last_error from a load-type call (mutex held)
    uint64_t destroy_instance();  // drains what is left, destroys; returns the undelivered events (mutex held)
    void configure_instance();    // policy, strided view and prepared size onto a new instance (mutex held)

    const uint64_t instance_id_;
    mutable std::mutex mutex_;
    const oe_pyproc_bridge_api* api_ = nullptr;
    oe_pyproc_instance* instance_ = nullptr;
    bool loaded_ = false;
    bool acquiring_ = false;  // between start_acquisition and stop_acquisition
    std::string script_path_;
    std::string last_error_;
    ErrorPolicy policy_ = ErrorPolicy::Bypass;
    bool zero_copy_ = false;
    double call_limit_s_ = kDefaultWatchdogFloorSeconds;
    double load_limit_s_ = kDefaultLoadWatchdogSeconds;
    int prepared_samples_ = 0;
    BlockTimer timer_;
    std::atomic<uint64_t> blocks_skipped_busy_{0};
};

}  // namespace oe_pyproc::adapter
