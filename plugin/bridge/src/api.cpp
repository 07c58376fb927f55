// The bridge's C ABI (oe_pyproc_bridge.h): interpreter start-up and the entry points the loader, the
// adapter and the host call. The bridge is built once per CPython minor version as a shared module that is
// not linked to libpython (its Py* symbols resolve against the libpython the loader opened with global
// symbols, exactly like an extension module). Every entry takes the GIL itself (gil.h).
#define OE_PYPROC_DEFINES_NUMPY_API
#include "python_headers.h"

#include "block_array.h"
#include "gil.h"
#include "instance.h"
#include "interpreter.h"
#include "oe_pyproc_bridge.h"
#include "processor_module.h"
#include "py_ref.h"
#include "support_module_source.h"
#include "watchdog.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <type_traits>

#if !defined(_WIN32)
#include <signal.h>
#endif

namespace oe_pyproc {

thread_local ThreadStateSlot tls_thread_state;

namespace {

// The watchdog's exception, and os._exit & co. replaced by functions raising ProcessExitRefused (both classes
// also offered as oe_pyprocessor.WatchdogTimeout / .ProcessExitRefused). Returns "" or what failed.
std::string install_script_guards(PyObject* support, PyObject* processor_module) {
    PyRef watchdog_timeout(PyObject_GetAttrString(support, "WatchdogTimeout"));
    PyRef exit_refused(PyObject_GetAttrString(support, "ProcessExitRefused"));
    PyRef guarded(PyObject_CallMethod(support, "guard_process_exits", nullptr));
    if (!watchdog_timeout || !exit_refused || !guarded || processor_module == nullptr ||
        PyObject_SetAttrString(processor_module, "WatchdogTimeout", watchdog_timeout.get()) < 0 ||
        PyObject_SetAttrString(processor_module, "ProcessExitRefused", exit_refused.get()) < 0) {
        return "the bridge's script guards failed: " + fetch_error_text();
    }
    set_watchdog_exception(watchdog_timeout.get());  // the support module keeps the class alive for ever
    return "";
}

bool valid_stream(int32_t num_channels, double sample_rate) {
    return num_channels >= 0 && num_channels <= 65536 && sample_rate > 0.0;
}

int api_initialize(const oe_pyproc_python_config* config, char* error_out, size_t error_capacity) {
    auto fail = [&](int code, const std::string& message) {
        if (error_out != nullptr && error_capacity > 0) {
            std::snprintf(error_out, error_capacity, "%s", message.c_str());
        }
        return code;
    };
    if (config == nullptr || config->struct_size < sizeof(oe_pyproc_python_config) || config->home == nullptr ||
        config->executable == nullptr) {
        return fail(OE_PYPROC_INVALID_ARGUMENT, "initialize: incomplete Python configuration");
    }
    Interpreter& shared = interp();
    std::lock_guard<std::mutex> lock(shared.start_mutex);
    if (shared.running.load()) {
        if (shared.home == config->home && shared.executable == config->executable) {
            return OE_PYPROC_OK;
        }
        return fail(OE_PYPROC_ALREADY_INITIALIZED,
                    "Python is already running with Home " + shared.home + " (" + shared.executable +
                        "); one interpreter per process: restart the GUI to switch Home");
    }
    if (shared.start_failed) {
        return fail(OE_PYPROC_PYTHON_START_FAILED,
                    "Python failed to start earlier in this process; restart the GUI to try another Home");
    }
    if (Py_IsInitialized()) {
        return fail(OE_PYPROC_ALREADY_INITIALIZED, "another component of this process already started Python");
    }
    if (PyImport_AppendInittab("oe_pyprocessor", init_processor_module) != 0) {
        return fail(OE_PYPROC_PYTHON_START_FAILED, "could not register the oe_pyprocessor module");
    }

#if !defined(_WIN32)
    // Python's `signal` module takes SIGINT over when first imported (numpy imports it on some versions),
    // whatever install_signal_handlers says. The host process keeps its own disposition: restored below.
    struct sigaction host_sigint {};
    sigaction(SIGINT, nullptr, &host_sigint);
#endif
    // UTF-8 mode, whatever the process's locale (the GUI runs under the C locale): print("Début µV"),
    // open() without an encoding and non-ASCII tracebacks work as in a UTF-8 terminal.
    PyPreConfig pre_config;
    PyPreConfig_InitIsolatedConfig(&pre_config);
    pre_config.utf8_mode = 1;
    const PyStatus pre_status = Py_PreInitialize(&pre_config);
    if (PyStatus_Exception(pre_status)) {
        shared.start_failed = true;
        return fail(OE_PYPROC_PYTHON_START_FAILED,
                    std::string("Python pre-initialisation: ") + (pre_status.err_msg ? pre_status.err_msg : "failed"));
    }
    PyConfig py_config;
    PyConfig_InitIsolatedConfig(&py_config);
    py_config.use_environment = 0;
    py_config.user_site_directory = 0;
    py_config.install_signal_handlers = 0;
    py_config.parse_argv = 0;
    py_config.write_bytecode = 0;
    py_config.buffered_stdio = 0;  // never finalised: buffered script output would be lost at exit
#if PY_VERSION_HEX >= 0x030B0000
    py_config.safe_path = 1;
#endif
    std::string status_message;
    auto check = [&](PyStatus status, const char* what) {
        if (PyStatus_Exception(status)) {
            status_message = std::string(what) + ": " + (status.err_msg ? status.err_msg : "failed") +
                             (status.func ? std::string(" (in ") + status.func + ")" : std::string());
            return false;
        }
        return true;
    };
    bool ok = check(PyConfig_SetBytesString(&py_config, &py_config.home, config->home), "home") &&
              check(PyConfig_SetBytesString(&py_config, &py_config.program_name, config->executable), "program_name") &&
              check(PyConfig_SetBytesString(&py_config, &py_config.executable, config->executable), "executable");
    if (ok) {
        ok = check(Py_InitializeFromConfig(&py_config), "Python start-up");
        if (!ok) {
            shared.start_failed = true;
        }
    }
    PyConfig_Clear(&py_config);
    if (!ok) {
        return fail(OE_PYPROC_PYTHON_START_FAILED, status_message + " (Home " + config->home + ")");
    }

    // From here Python runs, whatever else fails: it is never finalised.
    shared.running.store(true);
    shared.home = config->home;
    shared.executable = config->executable;
    shared.interpreter = PyThreadState_Get()->interp;
    shared.version = Py_GetVersion();
    tls_thread_state.state = PyThreadState_Get();
    tls_thread_state.generation = shared.thread_generation.load();
    tls_thread_state.owned = false;

    std::string error;
    {  // every Python reference of the start-up is released here, while this thread still holds the GIL
        for (size_t i = 0; i < config->num_extra_paths && config->extra_paths != nullptr; ++i) {
            PyObject* sys_path = PySys_GetObject("path");  // borrowed
            PyRef entry(PyUnicode_DecodeFSDefault(config->extra_paths[i]));
            if (sys_path == nullptr || !entry || PyList_Append(sys_path, entry.get()) < 0) {
                error = "could not extend sys.path";
            }
        }
        // PYTHONPATH's entries come after the Home's own paths (labs keep shared code there; isolated start-up
        // ignores the variable itself, and PYTHONHOME stays ignored): a lab module cannot shadow the stdlib.
        PyRef scope(PyDict_New());
        PyRef appended(scope ? PyRun_String("import os, sys\n"
                                            "for entry in os.environ.get('PYTHONPATH', '').split(os.pathsep):\n"
                                            "    if entry and entry not in sys.path:\n"
                                            "        sys.path.append(entry)\n",
                                            Py_file_input, scope.get(), scope.get())
                             : nullptr);
        if (!appended) {
            error = "PYTHONPATH could not be added to sys.path: " + fetch_error_text();
        }
        // Readies the handle type before any instance exists (scripts need not import it themselves).
        PyRef processor_module(PyImport_ImportModule("oe_pyprocessor"));
        if (!processor_module) {
            error = "the oe_pyprocessor module failed: " + fetch_error_text();
        }
        // A script thread holding the GIL makes the audio thread wait for a forced switch: 5 ms by default,
        // a fifth of a block. 0.5 ms bounds that wait at 2 % of a 697-sample block at 30 kHz.
        PyRef sys_module(PyImport_ImportModule("sys"));
        PyRef switch_interval(sys_module ? PyObject_CallMethod(sys_module.get(), "setswitchinterval", "d", 0.0005)
                                         : nullptr);
        if (!switch_interval) {
            error = "sys.setswitchinterval failed: " + fetch_error_text();
        }
        PyRef signal_module(PyImport_ImportModule("signal"));
        PyErr_Clear();
        if (error.empty() && _import_array() < 0) {
            error = "numpy's C API could not be imported: " + fetch_error_text();
        }
        if (error.empty()) {
            PyRef code(Py_CompileString(kSupportModuleSource, "<oe_pyproc_support>", Py_file_input));
            PyObject* module = code ? PyImport_ExecCodeModule("_oe_pyproc_support", code.get()) : nullptr;
            if (module == nullptr) {
                error = "bridge support module failed: " + fetch_error_text();
            } else {
                shared.support = module;
                shared.load_function = PyObject_GetAttrString(module, "load");
                shared.unload_function = PyObject_GetAttrString(module, "unload");
                shared.format_function = PyObject_GetAttrString(module, "format_exception");
                error = install_script_guards(module, processor_module.get());
            }
        }
    }
#if !defined(_WIN32)
    sigaction(SIGINT, &host_sigint, nullptr);
#endif
    PyEval_SaveThread();
    if (!error.empty()) {
        shared.start_failed = true;
        shared.running.store(false);
        return fail(OE_PYPROC_PYTHON_START_FAILED, error);
    }
    log_message(OE_PYPROC_LOG_INFO, 0, "Python " + shared.version + " started with Home " + shared.home);
    return OE_PYPROC_OK;
}

int api_is_initialized() {
    return interp().running.load() ? 1 : 0;
}

const char* api_python_version() {
    return interp().version.c_str();
}

void api_set_log_callback(oe_pyproc_log_fn fn, void* user) {
    Interpreter& shared = interp();
    shared.log_fn = fn;
    shared.log_user = user;
}

void api_reset_thread_states() {
    interp().thread_generation.fetch_add(1);
}

oe_pyproc_instance* api_create(uint64_t instance_id) {
    if (!interp().running.load()) {
        return nullptr;
    }
    auto* instance = new Instance(instance_id);
    GilGuard gil;
    PyObject* handle = PyObject_New(PyObject, &processor_handle_type);
    if (handle == nullptr) {
        PyErr_Clear();
        delete instance;
        return nullptr;
    }
    reinterpret_cast<ProcessorHandle*>(handle)->instance = instance;
    instance->handle.reset(handle);
    watch(instance->watch);
    return reinterpret_cast<oe_pyproc_instance*>(instance);
}

Instance* as_instance(oe_pyproc_instance* instance) {
    return reinterpret_cast<Instance*>(instance);
}

void api_destroy(oe_pyproc_instance* opaque) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr) {
        return;
    }
    unwatch(instance->watch.get());
    {
        GilGuard gil;
        reinterpret_cast<ProcessorHandle*>(instance->handle.get())->instance = nullptr;
        drop_script(*instance);
        instance->view.reset();  // a block array the script kept lives on with its memory (block_array.h)
        instance->staging_owner.reset();
        instance->handle.reset();
        if (!instance->module_name.empty()) {
            PyRef ignored(PyObject_CallFunction(interp().unload_function, "s", instance->module_name.c_str()));
            PyErr_Clear();
        }
    }
    delete instance;
}

// A load-type call (import and/or __init__) under the watchdog's load limit; GIL held.
template <typename Load>
int watched_load(Instance& instance, Load&& load) {
    WatchedCall watched(*instance.watch, "load", WatchedCall::Kind::Load);
    int status = load();
    const WatchOutcome outcome = watched.finish(Clock::now());
    if (outcome.over_limit) {
        record_watchdog_fault(instance, "load", outcome, false, status != OE_PYPROC_OK);
        status = OE_PYPROC_LOAD_FAILED;
    }
    return status;
}

int api_load_script(oe_pyproc_instance* opaque, const char* script_path, int32_t num_channels, double sample_rate) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || script_path == nullptr || !valid_stream(num_channels, sample_rate)) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    GilGuard gil;
    return watched_load(*instance, [&] { return load_locked(*instance, script_path, num_channels, sample_rate); });
}

int api_reload(oe_pyproc_instance* opaque) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || instance->script_path.empty()) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    GilGuard gil;
    return watched_load(*instance, [&] {
        return load_locked(*instance, instance->script_path, instance->num_channels, instance->sample_rate);
    });
}

int api_reinit(oe_pyproc_instance* opaque, int32_t num_channels, double sample_rate) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || instance->script_path.empty() || !valid_stream(num_channels, sample_rate)) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    GilGuard gil;
    return watched_load(*instance, [&] {
        PyObject* cls = instance->processor ? PyObject_GetAttrString(instance->processor.get(), "__class__") : nullptr;
        if (cls == nullptr) {
            PyErr_Clear();
            return load_locked(*instance, instance->script_path, num_channels, sample_rate);
        }
        PyRef cls_ref(cls);
        drop_script(*instance);
        instance->num_channels = num_channels;
        instance->sample_rate = sample_rate;
        return instantiate(*instance, cls);
    });
}

int api_prepare(oe_pyproc_instance* opaque, int32_t max_samples) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || max_samples <= 0) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    GilGuard gil;
    if (!prepare_buffers(*instance, max_samples)) {
        record_script_error(*instance, "prepare", false);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    return OE_PYPROC_OK;
}

int api_set_policy(oe_pyproc_instance* opaque, int32_t policy) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || (policy != OE_PYPROC_POLICY_BYPASS && policy != OE_PYPROC_POLICY_CONTINUE)) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    instance->policy.store(policy);
    return OE_PYPROC_OK;
}

int api_set_zero_copy(oe_pyproc_instance* opaque, int32_t enabled) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    instance->zero_copy.store(enabled != 0);
    return OE_PYPROC_OK;
}

int api_ttl_event(oe_pyproc_instance* opaque, const oe_pyproc_ttl_event* event) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || event == nullptr) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    if (!usable(*instance)) {
        return OE_PYPROC_BYPASSED;
    }
    GilGuard gil;
    PyRef handler = script_method(*instance, "handle_ttl_event");
    if (!handler) {
        return OE_PYPROC_OK;
    }
    PyRef args(Py_BuildValue("(isLiO)", static_cast<int>(event->source_node),
                             event->channel_name != nullptr ? event->channel_name : "",
                             static_cast<long long>(event->sample_number), static_cast<int>(event->line),
                             event->state ? Py_True : Py_False));
    if (!args) {
        record_script_error(*instance, "handle_ttl_event", false);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    return call_method(*instance, "handle_ttl_event", args.get(), WatchedCall::Kind::Call);
}

int api_spike(oe_pyproc_instance* opaque, const oe_pyproc_spike* spike) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || spike == nullptr || spike->num_channels < 0 || spike->num_samples < 0 ||
        (spike->data == nullptr && spike->num_channels * spike->num_samples > 0)) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    if (!usable(*instance)) {
        return OE_PYPROC_BYPASSED;
    }
    GilGuard gil;
    PyRef handler = script_method(*instance, "handle_spike");
    if (!handler) {
        return OE_PYPROC_OK;
    }
    npy_intp dims[2] = {spike->num_channels, spike->num_samples};
    PyRef data(PyArray_SimpleNew(2, dims, NPY_FLOAT32));
    if (!data) {
        record_script_error(*instance, "handle_spike", false);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    auto* array = reinterpret_cast<PyArrayObject*>(data.get());
    if (dims[0] * dims[1] > 0) {
        std::memcpy(PyArray_DATA(array), spike->data, static_cast<size_t>(dims[0] * dims[1]) * sizeof(float));
    }
    PyRef args(Py_BuildValue("(isiiLiO)", static_cast<int>(spike->source_node),
                             spike->electrode_name != nullptr ? spike->electrode_name : "",
                             static_cast<int>(spike->num_channels), static_cast<int>(spike->num_samples),
                             static_cast<long long>(spike->sample_number), static_cast<int>(spike->sorted_id),
                             data.get()));
    if (!args) {
        record_script_error(*instance, "handle_spike", false);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    return call_method(*instance, "handle_spike", args.get(), WatchedCall::Kind::Call);
}

int api_process(oe_pyproc_instance* opaque, const oe_pyproc_block* block, oe_pyproc_block_result* result) {
    const auto start = Clock::now();
    Instance* instance = as_instance(opaque);
    oe_pyproc_block_result local{};
    oe_pyproc_block_result& out = result != nullptr ? *result : local;
    out = oe_pyproc_block_result{};
    if (instance == nullptr || block == nullptr || block->num_samples < 0 || block->num_channels < 0 ||
        (block->channels == nullptr && block->num_channels > 0)) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    ++instance->block_index;
    if (usable(*instance) && block->num_channels != instance->num_channels && !instance->warned_channel_mismatch) {
        instance->warned_channel_mismatch = true;
        log_message(OE_PYPROC_LOG_WARNING, instance->id,
                    "block has " + std::to_string(block->num_channels) +
                        " channels but the script was initialised "
                        "for " +
                        std::to_string(instance->num_channels) + "; blocks pass through until reinit");
    }
    if (!usable(*instance) || block->num_channels != instance->num_channels) {
        instance->blocks_bypassed.fetch_add(1);
        out.total_ns = elapsed_ns(start, Clock::now());
        out.overhead_ns = out.total_ns;
        return OE_PYPROC_BYPASSED;
    }
    // Zero-copy (the script sees the caller's rows) only when opted in, and then only for an instance that has
    // not kept anything of a block since its load, after a probation (block_array.h: copy-on-keep).
    const bool zero_copy = instance->zero_copy.load() && !instance->keeps_blocks &&
                           instance->blocks_since_load >= kZeroCopyProbationBlocks;
    ++instance->blocks_since_load;
    uint32_t path = OE_PYPROC_PATH_STAGING;
    if (zero_copy && (block->num_channels <= 1 || block->row_stride == block->num_samples)) {
        path = OE_PYPROC_PATH_VIEW;
    } else if (zero_copy && block->row_stride > block->num_samples) {
        path = OE_PYPROC_PATH_STRIDED;
    }
    const bool needs_capacity = block->num_samples > instance->max_samples;
    if (path == OE_PYPROC_PATH_STAGING && !needs_capacity) {
        copy_rows_in(*block, instance->staging);
    }

    int status = OE_PYPROC_OK;
    int64_t script_ns = 0;
    bool copied_out = false;
    {
        GilGuard gil;
        out.gil_wait_ns = gil.wait_ns();
        if (needs_capacity && !prepare_buffers(*instance, block->num_samples)) {
            record_script_error(*instance, "prepare", true);
            return OE_PYPROC_SCRIPT_ERROR;
        }
        if (path == OE_PYPROC_PATH_STAGING && needs_capacity) {
            copy_rows_in(*block, instance->staging);
        }
        float* data = path == OE_PYPROC_PATH_STAGING ? instance->staging : block->channels[0];
        const int64_t stride = path == OE_PYPROC_PATH_STAGING ? block->num_samples
                               : block->num_channels <= 1     ? block->num_samples
                                                              : block->row_stride;
        PyObject* view = instance->view.get();
        point_view(view, data, block->num_channels, block->num_samples, stride);
        instance->block_samples = block->num_samples;
        // Before script_start: the watchdog's own cost counts as the bridge's overhead, not the script's.
        WatchedCall watched(*instance->watch, "process", WatchedCall::Kind::Call);
        const auto script_start = Clock::now();
        // Looked up on every call, as upstream does: `self.process = self.other` takes effect.
        static PyObject* const process_name = PyUnicode_InternFromString("process");
        PyObject* returned = PyObject_CallMethodOneArg(instance->processor.get(), process_name, view);
        const auto script_end = Clock::now();
        const WatchOutcome watch_outcome = watched.finish(script_end);
        script_ns = elapsed_ns(script_start, script_end);
        instance->block_samples = 0;
        instance->last_block_samples = block->num_samples;
        if (watch_outcome.over_limit) {
            Py_XDECREF(returned);
            record_watchdog_fault(*instance, "process", watch_outcome, true, false);
            status = OE_PYPROC_SCRIPT_ERROR;
        } else if (returned == nullptr) {
            record_script_error(*instance, "process", true);
            status = OE_PYPROC_SCRIPT_ERROR;
        } else {
            Py_DECREF(returned);
        }
        bool ready = true;
        if (block_kept(*instance)) {
            // Copy-on-keep: what the script kept keeps this block's values; the next blocks get new memory.
            out.flags |= OE_PYPROC_BLOCK_KEPT_REFERENCE;
            if (!instance->keeps_blocks) {
                instance->keeps_blocks = true;
                log_message(OE_PYPROC_LOG_INFO, instance->id,
                            "process() keeps (part of) its data array: each block it keeps something of is "
                            "handed over to what kept it (one allocation of the block per kept block), and this "
                            "instance takes the staging path (copies in and out) until its script is reloaded");
            }
            if (path == OE_PYPROC_PATH_STAGING) {
                if (status == OE_PYPROC_OK) {
                    // Under the GIL: once handed over, a script thread may free this buffer at any time.
                    copy_rows_out(*block, instance->staging);
                    copied_out = true;
                }
                ready = hand_over_staging(*instance);
            } else {
                ready = hand_over_copy(*instance, *block, stride);
            }
        } else if (!view_intact(*instance)) {
            ready = make_view(*instance);  // the script changed the array itself (shape, dtype, writeable)
        }
        if (!ready) {  // out of memory: bypassed until a reload, whatever the error policy
            record_script_error(*instance, "prepare", true);
            instance->faulted.store(true);
            status = OE_PYPROC_SCRIPT_ERROR;
        }
    }
    instance->blocks_processed.fetch_add(1);
    if (status == OE_PYPROC_OK && path == OE_PYPROC_PATH_STAGING && !copied_out) {
        copy_rows_out(*block, instance->staging);
    }
    if (instance->event_overflow) {
        out.flags |= OE_PYPROC_BLOCK_EVENTS_DROPPED;
    }
    out.data_path = path;
    out.script_ns = script_ns;
    out.total_ns = elapsed_ns(start, Clock::now());
    out.overhead_ns = out.total_ns - script_ns - out.gil_wait_ns;
    return status;
}

int32_t api_drain_events(oe_pyproc_instance* opaque, oe_pyproc_event_out* out, int32_t capacity) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || out == nullptr || capacity <= 0) {
        return 0;
    }
    std::lock_guard<std::mutex> lock(instance->event_mutex);
    const int32_t count = static_cast<int32_t>(std::min<size_t>(instance->event_count, static_cast<size_t>(capacity)));
    const int32_t last_sample = std::max<int32_t>(instance->last_block_samples - 1, 0);
    for (int32_t i = 0; i < count; ++i) {
        oe_pyproc_event_out event = instance->events[(instance->event_head + i) % kEventQueueCapacity];
        event.offset = std::min(event.offset, last_sample);
        out[i] = event;
    }
    instance->event_head = (instance->event_head + count) % kEventQueueCapacity;
    instance->event_count -= count;
    instance->event_overflow = false;
    return count;
}

int call_simple(oe_pyproc_instance* opaque, const char* name) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    if (!usable(*instance)) {
        return OE_PYPROC_BYPASSED;
    }
    GilGuard gil;
    return call_method(*instance, name, nullptr, WatchedCall::Kind::Load);
}

int api_start_acquisition(oe_pyproc_instance* opaque) {
    Instance* instance = as_instance(opaque);
    if (instance != nullptr) {
        // The GUI counts as acquiring while start_acquisition runs: its events go out with the first block.
        instance->acquisition_started.store(true);
    }
    return call_simple(opaque, "start_acquisition");
}

int api_stop_acquisition(oe_pyproc_instance* instance) {
    return call_simple(instance, "stop_acquisition");
}

int api_stop_recording(oe_pyproc_instance* instance) {
    return call_simple(instance, "stop_recording");
}

int api_start_recording(oe_pyproc_instance* opaque, const char* recording_dir) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || recording_dir == nullptr) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    if (!usable(*instance)) {
        return OE_PYPROC_BYPASSED;
    }
    GilGuard gil;
    PyRef args(Py_BuildValue("(N)", PyUnicode_DecodeFSDefault(recording_dir)));
    if (!args) {
        record_script_error(*instance, "start_recording", false);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    return call_method(*instance, "start_recording", args.get(), WatchedCall::Kind::Load);
}

const char* api_get_last_error(oe_pyproc_instance* opaque) {
    Instance* instance = as_instance(opaque);
    return instance != nullptr ? instance->last_error.c_str() : "";
}

void api_get_state(const oe_pyproc_instance* opaque, oe_pyproc_instance_state* state) {
    const auto* instance = reinterpret_cast<const Instance*>(opaque);
    if (instance == nullptr || state == nullptr) {
        return;
    }
    state->has_script = instance->has_script.load() ? 1 : 0;
    state->faulted = instance->faulted.load() ? 1 : 0;
    state->blocks_processed = instance->blocks_processed.load();
    state->blocks_bypassed = instance->blocks_bypassed.load();
    state->error_count = instance->error_count.load();
    state->last_error_block = instance->last_error_block.load();
    state->events_dropped = instance->events_dropped.load();
}

int api_set_watchdog(oe_pyproc_instance* opaque, double call_limit_s, double load_limit_s) {
    Instance* instance = as_instance(opaque);
    // NaN fails both comparisons; a day is far beyond any sensible limit (and far from overflow).
    const auto valid = [](double seconds) { return seconds >= 0.0 && seconds <= 86400.0; };
    if (instance == nullptr || !valid(call_limit_s) || !valid(load_limit_s)) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    instance->watch->call_limit_ns.store(static_cast<int64_t>(call_limit_s * 1e9));
    instance->watch->load_limit_ns.store(static_cast<int64_t>(load_limit_s * 1e9));
    return OE_PYPROC_OK;
}

void api_set_abandon_callback(oe_pyproc_abandon_fn fn, void* user) {
    set_abandon_callback(fn, user);
}

// ---------------------------------------------------------------------------------------------------------
// No C++ exception crosses the C ABI (std::bad_alloc under a memory limit would abort the GUI): each entry
// of the table is wrapped; an exception becomes the entry's failure value, a log message, and a fault of the
// instance it was working on.
// ---------------------------------------------------------------------------------------------------------

void fault_after_exception(oe_pyproc_instance* opaque, const char* what) noexcept {
    Instance* instance = as_instance(opaque);
    try {
        if (instance != nullptr) {
            instance->faulted.store(true);
            instance->error_count.fetch_add(1);
            instance->last_error = std::string("in the bridge:\n") + what;
        }
        if (interp().running.load()) {
            GilGuard gil;
            PyErr_Clear();  // a Python error the interrupted code had set must not leak into the next call
        }
        log_message(OE_PYPROC_LOG_ERROR, instance != nullptr ? instance->id : 0,
                    std::string("internal error in the bridge: ") + what +
                        (instance != nullptr ? "; the instance is stopped (blocks pass through)" : ""));
    } catch (...) {
        // Out of memory even for the message: the status code still says it.
    }
}

void log_after_exception(const char* what) noexcept {
    try {
        log_message(OE_PYPROC_LOG_ERROR, 0, std::string("internal error in the bridge: ") + what);
    } catch (...) {
        // Out of memory even for the message: the status code still says it.
    }
}

template <typename Other>
void fault_after_exception(Other, const char* what) noexcept {  // entries without an instance to fault
    log_after_exception(what);
}

template <typename First, typename... Rest>
First first_of(First first, Rest...) {
    return first;
}

constexpr char kInternalErrorText[] = "internal error in the bridge (see the log)";

// Calls Function; a C++ exception becomes Fallback (the entry's failure value).
template <typename Signature>
struct Guarded;

template <typename Result, typename... Args>
struct Guarded<Result (*)(Args...)> {
    template <Result (*Function)(Args...), auto Fallback>
    static Result call(Args... args) noexcept {
        try {
            return Function(args...);
        } catch (const std::bad_alloc&) {
            failed("out of memory (std::bad_alloc)", args...);
        } catch (const std::exception& error) {
            failed(error.what(), args...);  // inside the handler: what() lives as long as the exception
        } catch (...) {
            failed("unknown C++ exception", args...);
        }
        if constexpr (!std::is_void_v<Result>) {
            return static_cast<Result>(Fallback);
        }
    }
    static void failed(const char* what, Args... args) noexcept {
        if constexpr (sizeof...(Args) > 0) {
            fault_after_exception(first_of(args...), what);
        } else {
            log_after_exception(what);
        }
    }
};

#define OE_PYPROC_GUARDED(function, fallback) (&Guarded<decltype(&function)>::call<&function, fallback>)

const oe_pyproc_bridge_api kApi = {
    OE_PYPROC_BRIDGE_ABI_VERSION,
    sizeof(oe_pyproc_bridge_api),
    PY_MAJOR_VERSION,
    PY_MINOR_VERSION,
    OE_PYPROC_GUARDED(api_initialize, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_is_initialized, 0),
    OE_PYPROC_GUARDED(api_python_version, kInternalErrorText),
    OE_PYPROC_GUARDED(api_set_log_callback, 0),
    OE_PYPROC_GUARDED(api_reset_thread_states, 0),
    OE_PYPROC_GUARDED(api_create, nullptr),
    OE_PYPROC_GUARDED(api_destroy, 0),
    OE_PYPROC_GUARDED(api_load_script, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_reload, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_reinit, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_prepare, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_set_policy, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_set_zero_copy, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_ttl_event, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_spike, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_process, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_drain_events, 0),
    OE_PYPROC_GUARDED(api_start_acquisition, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_stop_acquisition, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_start_recording, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_stop_recording, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_get_last_error, kInternalErrorText),
    OE_PYPROC_GUARDED(api_get_state, 0),
    OE_PYPROC_GUARDED(api_set_watchdog, OE_PYPROC_INTERNAL_ERROR),
    OE_PYPROC_GUARDED(api_set_abandon_callback, 0),
};

}  // namespace
}  // namespace oe_pyproc

extern "C" OE_PYPROC_BRIDGE_EXPORT const oe_pyproc_bridge_api* oe_pyproc_bridge_get_api(uint32_t requested) {
    return requested == OE_PYPROC_BRIDGE_ABI_VERSION ? &oe_pyproc::kApi : nullptr;
}
