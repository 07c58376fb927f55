// One plugin instance's script session: its Python objects, counters, output event queue, and the
// loading/instantiation/error handling of its script. Everything here runs with the GIL held.
#pragma once

#include "python_headers.h"

#include "interpreter.h"
#include "oe_pyproc_bridge.h"
#include "py_ref.h"
#include "watchdog.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace oe_pyproc {

constexpr size_t kEventQueueCapacity = 4096;

struct Instance {
    explicit Instance(uint64_t instance_id) : id(instance_id) { watch->instance_id = instance_id; }
    const uint64_t id;
    const std::shared_ptr<WatchSlot> watch = std::make_shared<WatchSlot>();  // shared with the watchdog thread

    // Python objects: touched only with the GIL held.
    PyRef handle;
    PyRef processor;      // the PyProcessor; its methods are looked up on every call, as upstream does
    PyRef view;           // the block array: data/shape/strides re-pointed per block (block_array.h)
    PyRef staging_owner;  // capsule owning `staging`; the block array's base
    std::string module_name;
    uint64_t load_generation = 0;

    std::string script_path;
    int32_t num_channels = 0;
    double sample_rate = 0.0;
    int32_t max_samples = 0;
    float* staging = nullptr;  // num_channels x max_samples floats, owned by staging_owner

    std::atomic<int32_t> policy{OE_PYPROC_POLICY_BYPASS};
    std::atomic<bool> zero_copy{false};  // opt-in (set_zero_copy): copy-on-keep then has one gap
    std::atomic<bool> has_script{false};
    std::atomic<bool> faulted{false};
    std::atomic<uint64_t> blocks_processed{0};
    std::atomic<uint64_t> blocks_bypassed{0};
    std::atomic<uint64_t> error_count{0};
    std::atomic<int64_t> last_error_block{-1};
    std::atomic<uint64_t> events_dropped{0};
    int64_t block_index = -1;  // index of the current/last process call
    std::string last_error;
    bool keeps_blocks = false;       // kept something of a block since this load: staging path only
    uint64_t blocks_since_load = 0;  // zero-copy paths only after kZeroCopyProbationBlocks (block_array.h)
    bool warned_channel_mismatch = false;
    bool warned_early_event = false;               // add_python_event before start_acquisition
    std::atomic<bool> acquisition_started{false};  // start_acquisition was called (events are kept from then)
    Clock::time_point last_error_log{};
    uint64_t suppressed_errors = 0;

    // Output events (add_python_event). Written with the GIL held, drained without it.
    std::mutex event_mutex;
    std::array<oe_pyproc_event_out, kEventQueueCapacity> events{};
    size_t event_head = 0;
    size_t event_count = 0;
    bool event_overflow = false;
    int32_t block_samples = 0;       // > 0 while a block's events/process are being delivered
    int32_t last_block_samples = 0;  // length of the last processed block
};

// The pending Python exception as text, with its traceback; clears it.
std::string fetch_error_text();

// Records the pending Python exception of `method`; applies the error policy.
void record_script_error(Instance& instance, const char* method, bool in_process);

inline bool usable(const Instance& instance) {
    return instance.has_script.load() && !instance.faulted.load();
}

// The processor's attribute `name` when it is callable, looked up now (a method the script rebinds, adds or
// deletes after __init__ counts from its next call); nullptr when it has none.
PyRef script_method(Instance& instance, const char* name);

// After a call the watchdog found over its limit: the instance is faulted whatever the policy (called again,
// it would hang again), the message ("process() ran for X s, over the watchdog limit of Y s") ends the error
// text, after the traceback of where it was stopped. With `already_recorded` the call's error (its
// traceback) was recorded by record_script_error; otherwise a pending Python error is taken here.
void record_watchdog_fault(Instance& instance, const char* method, const WatchOutcome& outcome, bool in_process,
                           bool already_recorded);

// Calls the script's method `name` if it has one now, under the watchdog's `kind` of limit. Returns a status.
int call_method(Instance& instance, const char* name, PyObject* args, WatchedCall::Kind kind, bool in_process = false);

void drop_script(Instance& instance);

// PyProcessor(handle, num_channels, sample_rate) and its methods; readies the block buffers.
int instantiate(Instance& instance, PyObject* cls);

// Imports the script under a new unique module name (a reload when one was loaded), then instantiate().
int load_locked(Instance& instance, const std::string& path, int32_t num_channels, double sample_rate);

}  // namespace oe_pyproc
