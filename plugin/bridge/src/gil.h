// The GIL and thread states, as RAII.
//
// One persistent PyThreadState per OS thread, created on that thread on its first call and shared by all
// instances (per-call creation costs microseconds and can deadlock with extensions that use
// PyGILState_Ensure). A thread state is only ever deleted by its own thread (deleting another thread's
// state would leave that thread's PyGILState binding dangling): when reset_thread_states() has bumped the
// generation, the thread replaces its state on its next call; a thread that ends deletes its own.
#pragma once

#include "python_headers.h"

#include "interpreter.h"

#include <cstdint>

namespace oe_pyproc {

struct ThreadStateSlot {
    PyThreadState* state = nullptr;
    uint64_t generation = 0;
    bool owned = false;  // made here (the start-up thread's state belongs to the interpreter)

    ~ThreadStateSlot() { delete_own(); }

    void delete_own() {
        if (!owned || state == nullptr) {
            return;
        }
        PyEval_RestoreThread(state);
        PyThreadState_Clear(state);
        PyThreadState_DeleteCurrent();  // also releases the GIL and unbinds this thread's PyGILState
        state = nullptr;
        owned = false;
    }

    // This thread's state, renewed when reset_thread_states() made it stale. Not while it is current.
    PyThreadState* current() {
        const uint64_t generation_now = interp().thread_generation.load();
        if (state != nullptr && generation != generation_now) {
            delete_own();  // the start-up thread keeps its state
            generation = generation_now;
        }
        if (state == nullptr) {
            state = PyThreadState_New(interp().interpreter);
            generation = generation_now;
            owned = true;
        }
        return state;
    }

    // True when this thread already holds the GIL with its state. The current thread state is the GIL
    // holder's (3.10: process-wide; 3.12+: per thread), so it equals ours only if this thread holds it.
    bool is_current() const {
#if PY_VERSION_HEX >= 0x030D0000
        PyThreadState* holder = PyThreadState_GetUnchecked();
#else
        PyThreadState* holder = _PyThreadState_UncheckedGet();
#endif
        return state != nullptr && holder == state;
    }
};

// Defined once, in api.cpp: an `inline thread_local` with a destructor gets a TLS init function in every
// object file that includes this header, which mingw-w64's linker rejects as multiple definitions.
extern thread_local ThreadStateSlot tls_thread_state;

// Holds the GIL for its scope with the calling thread's persistent thread state. Re-entrant, like
// pybind11's gil_scoped_acquire: when this thread's state is already current (a bridge entry reached from
// inside another one, e.g. a log callback), it neither acquires nor releases.
class GilGuard {
public:
    GilGuard() {
        if (tls_thread_state.is_current()) {
            return;
        }
        PyThreadState* state = tls_thread_state.current();
        const auto before = Clock::now();
        PyEval_RestoreThread(state);
        wait_ns_ = elapsed_ns(before, Clock::now());
        acquired_ = true;
    }
    ~GilGuard() {
        if (acquired_) {
            PyEval_SaveThread();
        }
    }
    GilGuard(const GilGuard&) = delete;
    GilGuard& operator=(const GilGuard&) = delete;
    int64_t wait_ns() const { return wait_ns_; }

private:
    int64_t wait_ns_ = 0;
    bool acquired_ = false;
};

}  // namespace oe_pyproc
