// The watchdog: a script method that runs longer than its limit (an endless loop in process, a handler or
// __init__) gets an asynchronous exception (oe_pyprocessor.WatchdogTimeout) raised in its thread, and the
// instance is faulted once the call returns.
//
// One watchdog thread per process, started with the first instance and living as long as the interpreter
// (never finalised). It polls the instances' slots every kPollInterval without taking the GIL; only for a
// call over its limit does it take the GIL (the stuck thread releases it every switch interval while it
// runs Python code) to raise the exception. Code that never returns to the interpreter (a sleep, C code
// holding the GIL) cannot be interrupted: max(limit, 1 s) after the limit the abandon callback is called
// (oe_pyproc_abandon_fn) and the caller decides; the bridge faults the instance when the call returns.
#pragma once

#include "python_headers.h"

#include "interpreter.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace oe_pyproc {

constexpr auto kPollInterval = std::chrono::milliseconds(20);

// Shared by an instance and the watchdog thread (a shared_ptr: it outlives a destroyed instance that the
// watchdog still looks at). Written by the calling thread with the GIL held, read by the watchdog.
struct WatchSlot {
    uint64_t instance_id = 0;
    std::atomic<int64_t> call_limit_ns{1'000'000'000};   // process and the audio-thread handlers; 0: off
    std::atomic<int64_t> load_limit_ns{60'000'000'000};  // import + __init__, start/stop acquisition/recording
    std::atomic<int64_t> started_ns{0};                  // steady-clock time the current call began; 0: none
    std::atomic<int64_t> limit_ns{0};                    // the current call's limit
    std::atomic<unsigned long> thread_ident{0};          // PyThread_get_thread_ident() of the calling thread
    std::atomic<const char*> method{""};                 // static string: the script method being called
    std::atomic<int64_t> interrupted_ns{0};              // when the watchdog last raised into this call; 0: never
    std::atomic<bool> abandoned{false};                  // the abandon callback was called for this call
};

// What a watched call became, once it returned.
struct WatchOutcome {
    bool over_limit = false;  // the watchdog interrupted it (or it ran over its limit and returned by itself)
    double seconds = 0.0;     // how long it ran
    double limit_seconds = 0.0;
};

inline int64_t steady_ns(Clock::time_point when) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
}

// RAII, on the calling thread with the GIL held: marks the call as running from construction to finish()
// (or destruction) and, if the watchdog raised into it, drops an exception still pending for this thread so
// that it cannot fire in the next call (another instance's).
class WatchedCall {
public:
    enum class Kind { Call, Load };
    WatchedCall(WatchSlot& slot, const char* method, Kind kind, Clock::time_point start = Clock::now());
    ~WatchedCall() { finish(Clock::now()); }
    WatchedCall(const WatchedCall&) = delete;
    WatchedCall& operator=(const WatchedCall&) = delete;
    WatchOutcome finish(Clock::time_point end);  // `end`: when the call returned

private:
    WatchSlot& slot_;
    int64_t start_ns_ = 0;
    int64_t limit_ns_ = 0;
    bool active_ = false;
};

// Registers the slot with the watchdog thread (starting it on first use).
void watch(const std::shared_ptr<WatchSlot>& slot);
void unwatch(const WatchSlot* slot);

// The exception class raised into a stuck call (set once at start-up; nullptr before).
void set_watchdog_exception(PyObject* exception_class);
void set_abandon_callback(oe_pyproc_abandon_fn fn, void* user);

}  // namespace oe_pyproc
