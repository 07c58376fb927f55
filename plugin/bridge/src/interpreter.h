// Interpreter-wide state of the bridge (one CPython per process, never finalised) and its log.
#pragma once

#include "python_headers.h"

#include "oe_pyproc_bridge.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace oe_pyproc {

using Clock = std::chrono::steady_clock;

inline int64_t elapsed_ns(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

struct Interpreter {
    std::mutex start_mutex;
    std::atomic<bool> running{false};
    bool start_failed = false;
    std::string home;
    std::string executable;
    std::string version;
    PyInterpreterState* interpreter = nullptr;
    PyObject* support = nullptr;  // _oe_pyproc_support module (immortal for the process lifetime)
    PyObject* load_function = nullptr;
    PyObject* unload_function = nullptr;
    PyObject* format_function = nullptr;
    oe_pyproc_log_fn log_fn = nullptr;
    void* log_user = nullptr;
    std::atomic<uint64_t> thread_generation{1};  // bumped by reset_thread_states()
};

Interpreter& interp();

void log_message(int level, uint64_t instance_id, const std::string& message);

}  // namespace oe_pyproc
