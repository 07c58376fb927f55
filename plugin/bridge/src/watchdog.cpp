#include "watchdog.h"

#include "gil.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace oe_pyproc {
namespace {

struct WatchdogThread {
    std::mutex mutex;
    std::vector<std::shared_ptr<WatchSlot>> slots;
    bool started = false;
    PyObject* exception = nullptr;  // borrowed from the support module (never unloaded)
    oe_pyproc_abandon_fn abandon_fn = nullptr;
    void* abandon_user = nullptr;
    std::atomic<bool> interrupting{false};  // an interrupter thread is waiting for the GIL or raising
};

// Calls still running this long after their limit (and after the exception) are given up on.
int64_t abandon_grace_ns(int64_t limit_ns) {
    return std::max<int64_t>(limit_ns, 1'000'000'000);
}

WatchdogThread& watchdog() {
    static WatchdogThread* state = new WatchdogThread();  // never destroyed: its thread runs until exit
    return *state;
}

// "process()", or what a load is, for messages.
std::string call_name(const char* method) {
    return std::string(method) == "load" ? std::string("loading the script (import and __init__)")
                                         : std::string(method) + "()";
}

std::string seconds_text(int64_t ns) {
    char text[32];
    std::snprintf(text, sizeof(text), "%.3g s", static_cast<double>(ns) / 1e9);
    return text;
}

// Raises the exception into every overdue call still running; takes the GIL (waits for the stuck thread's
// next switch interval; for a thread that holds the GIL in C code, as long as that lasts: hence its own
// thread, so that the watchdog goes on and can give the call up).
void interrupt(const std::vector<std::shared_ptr<WatchSlot>>& overdue, PyObject* exception) noexcept {
    struct Done {
        ~Done() { watchdog().interrupting.store(false); }
    } done;
    GilGuard gil;
    for (const auto& slot : overdue) {
        // Calls start and finish with the GIL held: what is read here is exact.
        const int64_t started = slot->started_ns.load();
        const int64_t limit = slot->limit_ns.load();
        const int64_t now = steady_ns(Clock::now());
        if (started == 0 || now - started <= limit) {
            continue;  // it returned, or a new call began
        }
        const bool first = slot->interrupted_ns.load() == 0;
        slot->interrupted_ns.store(now);
        PyThreadState_SetAsyncExc(slot->thread_ident.load(), exception);
        if (first) {
            try {
                log_message(OE_PYPROC_LOG_WARNING, slot->instance_id,
                            call_name(slot->method.load()) + " has run for " + seconds_text(now - started) +
                                ", over the watchdog limit of " + seconds_text(limit) +
                                ": interrupting it (WatchdogTimeout raised in the script)");
            } catch (...) {
                // Out of memory for the message: the fault itself is recorded when the call returns.
            }
        }
    }
}

struct Abandoned {
    uint64_t instance_id;
    const char* method;
    int64_t ran_ns;
    int64_t limit_ns;
};

// One round: which calls are over their limit, which are given up on. Throws only std::bad_alloc/system_error.
void watch_round(std::vector<std::shared_ptr<WatchSlot>>& overdue, std::vector<Abandoned>& abandoned) {
    overdue.clear();
    abandoned.clear();
    PyObject* exception = nullptr;
    {
        WatchdogThread& state = watchdog();
        std::lock_guard<std::mutex> lock(state.mutex);
        exception = state.exception;
        const int64_t now = steady_ns(Clock::now());
        for (const auto& slot : state.slots) {
            const int64_t started = slot->started_ns.load(std::memory_order_acquire);
            const int64_t limit = slot->limit_ns.load(std::memory_order_relaxed);
            const int64_t interrupted = slot->interrupted_ns.load(std::memory_order_relaxed);
            if (started == 0 || limit <= 0 || now - started <= limit) {
                continue;
            }
            // Interrupted again once per limit while it goes on (a script that catches the exception
            // and carries on); given up on once, when even that did not end it.
            if (interrupted == 0 || now - interrupted >= limit) {
                overdue.push_back(slot);
            }
            if (now - started > limit + abandon_grace_ns(limit) && !slot->abandoned.load()) {
                slot->abandoned.store(true);
                abandoned.push_back(Abandoned{slot->instance_id, slot->method.load(), now - started, limit});
            }
        }
    }
    for (const Abandoned& call : abandoned) {
        log_message(OE_PYPROC_LOG_ERROR, call.instance_id,
                    call_name(call.method) + " has run for " + seconds_text(call.ran_ns) +
                        " and the watchdog's exception has not stopped it (it is in C code or a sleep): the "
                        "instance is abandoned and bypassed once the call returns");
        // Under the lock: once set_abandon_callback(nullptr) has returned, the old callback is not running.
        WatchdogThread& state = watchdog();
        std::lock_guard<std::mutex> lock(state.mutex);
        if (state.abandon_fn != nullptr) {
            state.abandon_fn(state.abandon_user, call.instance_id, call.method, static_cast<double>(call.ran_ns) / 1e9,
                             static_cast<double>(call.limit_ns) / 1e9);
        }
    }
    if (!overdue.empty() && exception != nullptr && !watchdog().interrupting.exchange(true)) {
        try {
            std::thread(interrupt, overdue, exception).detach();
        } catch (...) {
            watchdog().interrupting.store(false);  // tried again next round
            throw;
        }
    }
}

void run_watchdog() {
    std::vector<std::shared_ptr<WatchSlot>> overdue;
    std::vector<Abandoned> abandoned;
    for (;;) {
        std::this_thread::sleep_for(kPollInterval);
        try {
            watch_round(overdue, abandoned);
        } catch (...) {
            // Out of memory or threads: nothing may end this thread (an exception here would abort the
            // process); the next round tries again.
        }
    }
}

}  // namespace

WatchedCall::WatchedCall(WatchSlot& slot, const char* method, Kind kind, Clock::time_point start) : slot_(slot) {
    limit_ns_ = (kind == Kind::Call ? slot.call_limit_ns : slot.load_limit_ns).load(std::memory_order_relaxed);
    if (limit_ns_ <= 0) {
        return;
    }
    start_ns_ = steady_ns(start);
    slot.limit_ns.store(limit_ns_, std::memory_order_relaxed);
    slot.method.store(method, std::memory_order_relaxed);
    slot.thread_ident.store(PyThread_get_thread_ident(), std::memory_order_relaxed);
    slot.interrupted_ns.store(0, std::memory_order_relaxed);
    slot.abandoned.store(false, std::memory_order_relaxed);
    slot.started_ns.store(start_ns_, std::memory_order_release);
    active_ = true;
}

WatchOutcome WatchedCall::finish(Clock::time_point end) {
    WatchOutcome outcome;
    if (!active_) {
        return outcome;
    }
    active_ = false;
    const int64_t ran_ns = steady_ns(end) - start_ns_;
    slot_.started_ns.store(0, std::memory_order_release);
    const bool interrupted = slot_.interrupted_ns.load(std::memory_order_relaxed) != 0;
    if (interrupted) {
        // The exception may still be pending (the call returned from C code before the interpreter looked):
        // it must not fire in this thread's next call.
        PyThreadState_SetAsyncExc(slot_.thread_ident.load(std::memory_order_relaxed), nullptr);
    }
    outcome.over_limit = interrupted || ran_ns > limit_ns_;
    outcome.seconds = static_cast<double>(ran_ns) / 1e9;
    outcome.limit_seconds = static_cast<double>(limit_ns_) / 1e9;
    return outcome;
}

void watch(const std::shared_ptr<WatchSlot>& slot) {
    WatchdogThread& state = watchdog();
    std::lock_guard<std::mutex> lock(state.mutex);
    state.slots.push_back(slot);
    if (!state.started) {
        std::thread(run_watchdog).detach();  // lives as long as the process (Python is never finalised)
        state.started = true;
    }
}

void unwatch(const WatchSlot* slot) {
    WatchdogThread& state = watchdog();
    std::lock_guard<std::mutex> lock(state.mutex);
    state.slots.erase(std::remove_if(state.slots.begin(), state.slots.end(),
                                     [&](const std::shared_ptr<WatchSlot>& entry) { return entry.get() == slot; }),
                      state.slots.end());
}

void set_watchdog_exception(PyObject* exception_class) {
    WatchdogThread& state = watchdog();
    std::lock_guard<std::mutex> lock(state.mutex);
    state.exception = exception_class;
}

void set_abandon_callback(oe_pyproc_abandon_fn fn, void* user) {
    WatchdogThread& state = watchdog();
    std::lock_guard<std::mutex> lock(state.mutex);
    state.abandon_fn = fn;
    state.abandon_user = user;
}

}  // namespace oe_pyproc
