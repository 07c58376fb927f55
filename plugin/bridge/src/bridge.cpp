// The bridge: all Python-facing code. Built once per CPython minor version as a shared module that is
// not linked to libpython (its Py* symbols resolve against the libpython the loader opened with global
// symbols, exactly like an extension module). Exposes the C ABI of oe_pyproc_bridge.h.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include "oe_pyproc_bridge.h"
#include "support_module_source.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#if !defined(_WIN32)
#include <signal.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

int64_t elapsed_ns(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

// ---------------------------------------------------------------------------------------------------
// Owned Python reference (RAII). Destruction needs the GIL, like every other Python operation here.
class PyRef {
public:
    PyRef() = default;
    explicit PyRef(PyObject* owned) : object_(owned) {}
    PyRef(const PyRef&) = delete;
    PyRef& operator=(const PyRef&) = delete;
    PyRef(PyRef&& other) noexcept : object_(other.release()) {}
    PyRef& operator=(PyRef&& other) noexcept {
        reset(other.release());
        return *this;
    }
    ~PyRef() { Py_XDECREF(object_); }
    void reset(PyObject* owned = nullptr) {
        PyObject* old = object_;
        object_ = owned;
        Py_XDECREF(old);
    }
    PyObject* release() {
        PyObject* object = object_;
        object_ = nullptr;
        return object;
    }
    PyObject* get() const { return object_; }
    explicit operator bool() const { return object_ != nullptr; }

private:
    PyObject* object_ = nullptr;
};

// ---------------------------------------------------------------------------------------------------
// Interpreter-wide state.
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

Interpreter& interp() {
    static Interpreter* state = new Interpreter();  // never destroyed: Python is never finalised
    return *state;
}

void log_message(int level, uint64_t instance_id, const std::string& message) {
    Interpreter& state = interp();
    if (state.log_fn != nullptr) {
        state.log_fn(state.log_user, level, instance_id, message.c_str());
    }
}

// ---------------------------------------------------------------------------------------------------
// One persistent PyThreadState per OS thread, created on that thread on its first call and shared by all
// instances. A thread state is only ever deleted by its own thread (deleting another thread's state
// would leave that thread's PyGILState binding dangling): when reset_thread_states() has bumped the
// generation, the thread replaces its state on its next call; a thread that ends deletes its own.
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
};

thread_local ThreadStateSlot tls_thread_state;

// Holds the GIL for its scope using the calling thread's persistent thread state.
class GilGuard {
public:
    GilGuard() {
        PyThreadState* state = tls_thread_state.current();
        const auto before = Clock::now();
        PyEval_RestoreThread(state);
        wait_ns_ = elapsed_ns(before, Clock::now());
    }
    ~GilGuard() { PyEval_SaveThread(); }
    GilGuard(const GilGuard&) = delete;
    GilGuard& operator=(const GilGuard&) = delete;
    int64_t wait_ns() const { return wait_ns_; }

private:
    int64_t wait_ns_ = 0;
};

// ---------------------------------------------------------------------------------------------------
// The `oe_pyprocessor` module and its processor handle type.
struct Instance;

struct ProcessorHandle {
    PyObject_HEAD Instance* instance;  // nullptr once the instance is destroyed
};

PyObject* handle_add_python_event(PyObject* self, PyObject* args, PyObject* kwargs);

PyMethodDef handle_methods[] = {
    {"add_python_event", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(handle_add_python_event)),
     METH_VARARGS | METH_KEYWORDS,
     "add_python_event(line, state, offset=0): send a TTL event (line 0-255) downstream at sample `offset` of "
     "the current block."},
    {nullptr, nullptr, 0, nullptr}};

PyTypeObject processor_handle_type = {PyVarObject_HEAD_INIT(nullptr, 0)};

PyModuleDef processor_module_def = {PyModuleDef_HEAD_INIT,
                                    "oe_pyprocessor",
                                    "The oe-pyproc plugin's module: the processor handle type.",
                                    -1,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr,
                                    nullptr};

void handle_dealloc(PyObject* self) {
    PyObject_Free(self);
}

PyObject* init_processor_module() {
    processor_handle_type.tp_dealloc = handle_dealloc;
    processor_handle_type.tp_free = PyObject_Free;
    processor_handle_type.tp_name = "oe_pyprocessor.PythonProcessor";
    processor_handle_type.tp_basicsize = sizeof(ProcessorHandle);
    processor_handle_type.tp_flags = Py_TPFLAGS_DEFAULT;
    processor_handle_type.tp_doc = "Handle of the plugin instance running this script (given to PyProcessor.__init__).";
    processor_handle_type.tp_methods = handle_methods;
    if (PyType_Ready(&processor_handle_type) < 0) {
        return nullptr;
    }
    PyObject* module = PyModule_Create(&processor_module_def);
    if (module == nullptr) {
        return nullptr;
    }
    Py_INCREF(&processor_handle_type);
    if (PyModule_AddObject(module, "PythonProcessor", reinterpret_cast<PyObject*>(&processor_handle_type)) < 0) {
        Py_DECREF(&processor_handle_type);
        Py_DECREF(module);
        return nullptr;
    }
    return module;
}

// ---------------------------------------------------------------------------------------------------
constexpr size_t kEventQueueCapacity = 4096;

struct ScriptMethods {
    PyRef process, handle_ttl_event, handle_spike, start_acquisition, stop_acquisition, start_recording, stop_recording;
    void clear() {
        process.reset();
        handle_ttl_event.reset();
        handle_spike.reset();
        start_acquisition.reset();
        stop_acquisition.reset();
        start_recording.reset();
        stop_recording.reset();
    }
};

struct Instance {
    explicit Instance(uint64_t instance_id) : id(instance_id) {}
    const uint64_t id;

    // Python objects: touched only with the GIL held.
    PyRef handle;
    PyRef processor;
    ScriptMethods methods;
    PyRef view;  // persistent ndarray whose data/shape/strides are re-pointed per block
    std::string module_name;
    uint64_t load_generation = 0;

    std::string script_path;
    int32_t num_channels = 0;
    double sample_rate = 0.0;
    int32_t max_samples = 0;
    std::vector<float> staging;

    std::atomic<int32_t> policy{OE_PYPROC_POLICY_BYPASS};
    std::atomic<bool> strided_view{false};
    std::atomic<bool> has_script{false};
    std::atomic<bool> faulted{false};
    std::atomic<uint64_t> blocks_processed{0};
    std::atomic<uint64_t> blocks_bypassed{0};
    std::atomic<uint64_t> error_count{0};
    std::atomic<int64_t> last_error_block{-1};
    std::atomic<uint64_t> events_dropped{0};
    int64_t block_index = -1;  // index of the current/last process call
    std::string last_error;
    bool warned_kept_reference = false;
    bool warned_channel_mismatch = false;
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

PyObject* handle_add_python_event(PyObject* self, PyObject* args, PyObject* kwargs) {
    static const char* keywords[] = {"line", "state", "offset", nullptr};
    int line = 0;
    int state = 0;
    long long offset = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "ip|L:add_python_event", const_cast<char**>(keywords), &line, &state,
                                     &offset)) {
        return nullptr;
    }
    Instance* instance = reinterpret_cast<ProcessorHandle*>(self)->instance;
    if (instance == nullptr) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this processor's plugin instance was removed; add_python_event has no effect");
        return nullptr;
    }
    if (line < 0 || line > 255) {
        PyErr_Format(PyExc_ValueError, "line must be in 0..255, got %d", line);
        return nullptr;
    }
    const int32_t limit = instance->block_samples > 0 ? instance->block_samples : instance->last_block_samples;
    if (offset < 0 || (limit > 0 && offset >= limit)) {
        PyErr_Format(PyExc_ValueError, "offset must be in 0..%d (inside the block), got %lld",
                     limit > 0 ? limit - 1 : 0, offset);
        return nullptr;
    }
    std::lock_guard<std::mutex> lock(instance->event_mutex);
    if (instance->event_count == kEventQueueCapacity) {
        instance->events_dropped.fetch_add(1);
        instance->event_overflow = true;
        Py_RETURN_NONE;
    }
    const size_t slot = (instance->event_head + instance->event_count) % kEventQueueCapacity;
    instance->events[slot] = oe_pyproc_event_out{line, state ? 1 : 0, static_cast<int32_t>(offset)};
    ++instance->event_count;
    Py_RETURN_NONE;
}

// ---------------------------------------------------------------------------------------------------
// Error handling (GIL held).
std::string fetch_error_text() {
    PyObject* type = nullptr;
    PyObject* value = nullptr;
    PyObject* traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    PyRef type_ref(type), value_ref(value), traceback_ref(traceback);
    std::string text;
    if (interp().format_function != nullptr && type != nullptr) {
        PyRef formatted(PyObject_CallFunctionObjArgs(interp().format_function, type, value ? value : Py_None,
                                                     traceback ? traceback : Py_None, nullptr));
        if (formatted && PyUnicode_Check(formatted.get())) {
            const char* utf8 = PyUnicode_AsUTF8(formatted.get());
            if (utf8 != nullptr) {
                text = utf8;
            }
        }
        PyErr_Clear();
    }
    if (text.empty() && value != nullptr) {
        PyRef repr(PyObject_Str(value));
        const char* utf8 = repr ? PyUnicode_AsUTF8(repr.get()) : nullptr;
        text = utf8 != nullptr ? utf8 : "unknown Python error";
        PyErr_Clear();
    }
    if (text.empty()) {
        text = "unknown Python error";
    }
    return text;
}

// Records the pending Python exception of `method`; applies the error policy. GIL held.
void record_script_error(Instance& instance, const char* method, bool in_process) {
    std::string text = fetch_error_text();
    instance.error_count.fetch_add(1);
    instance.last_error_block.store(in_process ? instance.block_index : -1);
    instance.last_error = std::string("in ") + method + ":\n" + text;
    const bool continuing = instance.policy.load() == OE_PYPROC_POLICY_CONTINUE;
    if (!continuing) {
        instance.faulted.store(true);
        log_message(OE_PYPROC_LOG_ERROR, instance.id,
                    "script error in " + std::string(method) + "; instance bypassed until reload:\n" + text);
        return;
    }
    const auto now = Clock::now();
    if (instance.last_error_log == Clock::time_point{} || now - instance.last_error_log >= std::chrono::seconds(1)) {
        std::string message = "script error in " + std::string(method) + " (policy continue)";
        if (instance.suppressed_errors > 0) {
            message += "; " + std::to_string(instance.suppressed_errors) + " more errors since the last report";
        }
        log_message(OE_PYPROC_LOG_ERROR, instance.id, message + ":\n" + text);
        instance.last_error_log = now;
        instance.suppressed_errors = 0;
    } else {
        ++instance.suppressed_errors;
    }
}

bool usable(const Instance& instance) {
    return instance.has_script.load() && !instance.faulted.load();
}

// Calls an optional script method (GIL held). Returns a status code.
int call_method(Instance& instance, PyObject* method, const char* name, PyObject* args, bool in_process = false) {
    if (method == nullptr) {
        return OE_PYPROC_OK;
    }
    PyRef result(args != nullptr ? PyObject_CallObject(method, args) : PyObject_CallNoArgs(method));
    if (!result) {
        record_script_error(instance, name, in_process);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    return OE_PYPROC_OK;
}

// ---------------------------------------------------------------------------------------------------
// Block views (GIL held).
PyArrayObject_fields* fields_of(PyObject* array) {
    return reinterpret_cast<PyArrayObject_fields*>(array);
}

bool make_view(Instance& instance) {
    npy_intp dims[2] = {instance.num_channels, std::max<int32_t>(instance.max_samples, 1)};
    npy_intp strides[2] = {static_cast<npy_intp>(dims[1] * sizeof(float)), sizeof(float)};
    void* data = instance.staging.empty() ? nullptr : instance.staging.data();
    static float placeholder = 0.0f;
    if (data == nullptr || dims[0] == 0) {
        data = &placeholder;
        strides[0] = 0;
    }
    PyObject* array = PyArray_New(&PyArray_Type, 2, dims, NPY_FLOAT32, strides, data, 0,
                                  NPY_ARRAY_WRITEABLE | NPY_ARRAY_ALIGNED, nullptr);
    if (array == nullptr) {
        return false;
    }
    instance.view.reset(array);
    return true;
}

void point_view(PyObject* array, float* data, int32_t rows, int32_t samples, int64_t row_stride) {
    PyArrayObject_fields* fields = fields_of(array);
    fields->data = reinterpret_cast<char*>(data);
    fields->dimensions[0] = rows;
    fields->dimensions[1] = samples;
    fields->strides[0] = static_cast<npy_intp>(row_stride * static_cast<int64_t>(sizeof(float)));
    fields->strides[1] = sizeof(float);
    PyArray_UpdateFlags(reinterpret_cast<PyArrayObject*>(array),
                        NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_F_CONTIGUOUS | NPY_ARRAY_ALIGNED);
}

// Still the 2-D writable float32 array point_view() expects (a script may set data.shape, dtype, flags).
bool view_intact(PyObject* array) {
    const PyArrayObject_fields* fields = fields_of(array);
    return fields->nd == 2 && fields->descr->type_num == NPY_FLOAT32 && (fields->flags & NPY_ARRAY_WRITEABLE) != 0;
}

// A view given up while the script still holds it: no data, every dimension zero.
void empty_view(PyObject* array) {
    PyArrayObject_fields* fields = fields_of(array);
    static float placeholder = 0.0f;
    fields->data = reinterpret_cast<char*>(&placeholder);
    for (int axis = 0; axis < fields->nd; ++axis) {
        fields->dimensions[axis] = 0;
    }
    PyArray_UpdateFlags(reinterpret_cast<PyArrayObject*>(array), NPY_ARRAY_UPDATE_ALL);
}

// Sizes the staging buffer and the view for blocks up to max_samples. GIL held.
bool prepare_buffers(Instance& instance, int32_t max_samples) {
    if (max_samples <= instance.max_samples && instance.view) {
        return true;
    }
    instance.max_samples = std::max(max_samples, instance.max_samples);
    instance.staging.assign(static_cast<size_t>(instance.num_channels) * static_cast<size_t>(instance.max_samples),
                            0.0f);
    return make_view(instance);
}

// ---------------------------------------------------------------------------------------------------
// Script loading (GIL held).
void drop_script(Instance& instance) {
    instance.has_script.store(false);
    instance.methods.clear();
    instance.processor.reset();
}

PyObject* optional_attribute(PyObject* object, const char* name) {
    PyObject* attribute = PyObject_GetAttrString(object, name);
    if (attribute == nullptr) {
        PyErr_Clear();
        return nullptr;
    }
    if (!PyCallable_Check(attribute)) {
        Py_DECREF(attribute);
        return nullptr;
    }
    return attribute;
}

int instantiate(Instance& instance, PyObject* cls) {
    PyRef processor(PyObject_CallFunction(cls, "Oid", instance.handle.get(), static_cast<int>(instance.num_channels),
                                          instance.sample_rate));
    if (!processor) {
        record_script_error(instance, "__init__", false);
        instance.faulted.store(true);
        return OE_PYPROC_LOAD_FAILED;
    }
    ScriptMethods methods;
    methods.process.reset(optional_attribute(processor.get(), "process"));
    if (!methods.process) {
        PyErr_SetString(PyExc_AttributeError, "class PyProcessor has no process(self, data) method");
        record_script_error(instance, "load", false);
        instance.faulted.store(true);
        return OE_PYPROC_LOAD_FAILED;
    }
    methods.handle_ttl_event.reset(optional_attribute(processor.get(), "handle_ttl_event"));
    methods.handle_spike.reset(optional_attribute(processor.get(), "handle_spike"));
    methods.start_acquisition.reset(optional_attribute(processor.get(), "start_acquisition"));
    methods.stop_acquisition.reset(optional_attribute(processor.get(), "stop_acquisition"));
    methods.start_recording.reset(optional_attribute(processor.get(), "start_recording"));
    methods.stop_recording.reset(optional_attribute(processor.get(), "stop_recording"));
    instance.methods = std::move(methods);
    instance.processor = std::move(processor);
    instance.view.reset();
    const int32_t max_samples = instance.max_samples;
    instance.max_samples = 0;
    if (!prepare_buffers(instance, std::max<int32_t>(max_samples, 1024))) {
        record_script_error(instance, "prepare", false);
        return OE_PYPROC_LOAD_FAILED;
    }
    instance.faulted.store(false);
    instance.warned_kept_reference = false;
    instance.warned_channel_mismatch = false;
    instance.has_script.store(true);
    return OE_PYPROC_OK;
}

int load_locked(Instance& instance, const std::string& path, int32_t num_channels, double sample_rate) {
    Interpreter& shared = interp();
    drop_script(instance);
    const std::string old_module = instance.module_name;
    instance.script_path = path;
    instance.num_channels = num_channels;
    instance.sample_rate = sample_rate;
    instance.module_name =
        "_oe_pyproc_script_" + std::to_string(instance.id) + "_" + std::to_string(++instance.load_generation);
    // File system paths are bytes on POSIX, not necessarily UTF-8: decode them as Python's os module does.
    PyRef script_path(PyUnicode_DecodeFSDefault(path.c_str()));
    PyRef loaded(script_path ? PyObject_CallFunction(shared.load_function, "Oss", script_path.get(),
                                                     instance.module_name.c_str(), old_module.c_str())
                             : nullptr);
    if (!loaded) {
        record_script_error(instance, "load", false);
        instance.faulted.store(true);
        return OE_PYPROC_LOAD_FAILED;
    }
    PyObject* cls = PyTuple_GetItem(loaded.get(), 1);  // borrowed
    return instantiate(instance, cls);
}

bool valid_stream(int32_t num_channels, double sample_rate) {
    return num_channels >= 0 && num_channels <= 65536 && sample_rate > 0.0;
}

// ---------------------------------------------------------------------------------------------------
// C ABI implementation.
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
    for (size_t i = 0; i < config->num_extra_paths && config->extra_paths != nullptr; ++i) {
        PyObject* sys_path = PySys_GetObject("path");  // borrowed
        PyRef entry(PyUnicode_DecodeFSDefault(config->extra_paths[i]));
        if (sys_path == nullptr || !entry || PyList_Append(sys_path, entry.get()) < 0) {
            error = "could not extend sys.path";
        }
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
    {
        GilGuard gil;
        reinterpret_cast<ProcessorHandle*>(instance->handle.get())->instance = nullptr;
        drop_script(*instance);
        instance->view.reset();
        instance->handle.reset();
        if (!instance->module_name.empty()) {
            PyRef ignored(PyObject_CallFunction(interp().unload_function, "s", instance->module_name.c_str()));
            PyErr_Clear();
        }
    }
    delete instance;
}

int api_load_script(oe_pyproc_instance* opaque, const char* script_path, int32_t num_channels, double sample_rate) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || script_path == nullptr || !valid_stream(num_channels, sample_rate)) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    GilGuard gil;
    return load_locked(*instance, script_path, num_channels, sample_rate);
}

int api_reload(oe_pyproc_instance* opaque) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || instance->script_path.empty()) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    GilGuard gil;
    return load_locked(*instance, instance->script_path, instance->num_channels, instance->sample_rate);
}

int api_reinit(oe_pyproc_instance* opaque, int32_t num_channels, double sample_rate) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || instance->script_path.empty() || !valid_stream(num_channels, sample_rate)) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    GilGuard gil;
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

int api_set_strided_view(oe_pyproc_instance* opaque, int32_t enabled) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    instance->strided_view.store(enabled != 0);
    return OE_PYPROC_OK;
}

int api_ttl_event(oe_pyproc_instance* opaque, const oe_pyproc_ttl_event* event) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || event == nullptr) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    if (!usable(*instance) || !instance->methods.handle_ttl_event) {
        return usable(*instance) ? OE_PYPROC_OK : OE_PYPROC_BYPASSED;
    }
    GilGuard gil;
    PyRef args(Py_BuildValue("(isLiO)", static_cast<int>(event->source_node),
                             event->channel_name != nullptr ? event->channel_name : "",
                             static_cast<long long>(event->sample_number), static_cast<int>(event->line),
                             event->state ? Py_True : Py_False));
    if (!args) {
        record_script_error(*instance, "handle_ttl_event", false);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    return call_method(*instance, instance->methods.handle_ttl_event.get(), "handle_ttl_event", args.get());
}

int api_spike(oe_pyproc_instance* opaque, const oe_pyproc_spike* spike) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr || spike == nullptr || spike->num_channels < 0 || spike->num_samples < 0 ||
        (spike->data == nullptr && spike->num_channels * spike->num_samples > 0)) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    if (!usable(*instance) || !instance->methods.handle_spike) {
        return usable(*instance) ? OE_PYPROC_OK : OE_PYPROC_BYPASSED;
    }
    GilGuard gil;
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
    PyArray_CLEARFLAGS(array, NPY_ARRAY_WRITEABLE);
    PyRef args(Py_BuildValue("(isiiLiO)", static_cast<int>(spike->source_node),
                             spike->electrode_name != nullptr ? spike->electrode_name : "",
                             static_cast<int>(spike->num_channels), static_cast<int>(spike->num_samples),
                             static_cast<long long>(spike->sample_number), static_cast<int>(spike->sorted_id),
                             data.get()));
    if (!args) {
        record_script_error(*instance, "handle_spike", false);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    return call_method(*instance, instance->methods.handle_spike.get(), "handle_spike", args.get());
}

void copy_rows_in(const oe_pyproc_block& block, float* staging) {
    const size_t row_bytes = static_cast<size_t>(block.num_samples) * sizeof(float);
    for (int32_t channel = 0; channel < block.num_channels; ++channel) {
        std::memcpy(staging + static_cast<size_t>(channel) * block.num_samples, block.channels[channel], row_bytes);
    }
}

void copy_rows_out(const oe_pyproc_block& block, const float* staging) {
    const size_t row_bytes = static_cast<size_t>(block.num_samples) * sizeof(float);
    for (int32_t channel = 0; channel < block.num_channels; ++channel) {
        std::memcpy(block.channels[channel], staging + static_cast<size_t>(channel) * block.num_samples, row_bytes);
    }
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
    uint32_t path = OE_PYPROC_PATH_STAGING;
    if (block->num_channels <= 1 || block->row_stride == block->num_samples) {
        path = OE_PYPROC_PATH_VIEW;
    } else if (block->row_stride > block->num_samples && instance->strided_view.load()) {
        path = OE_PYPROC_PATH_STRIDED;
    }
    const bool needs_capacity = block->num_samples > instance->max_samples;
    if (path == OE_PYPROC_PATH_STAGING && !needs_capacity) {
        copy_rows_in(*block, instance->staging.data());
    }

    int status = OE_PYPROC_OK;
    int64_t script_ns = 0;
    {
        GilGuard gil;
        out.gil_wait_ns = gil.wait_ns();
        if (needs_capacity && !prepare_buffers(*instance, block->num_samples)) {
            record_script_error(*instance, "prepare", true);
            return OE_PYPROC_SCRIPT_ERROR;
        }
        if (path == OE_PYPROC_PATH_STAGING && needs_capacity) {
            copy_rows_in(*block, instance->staging.data());
        }
        float* data = path == OE_PYPROC_PATH_STAGING ? instance->staging.data() : block->channels[0];
        const int64_t stride = path == OE_PYPROC_PATH_STAGING ? block->num_samples
                               : block->num_channels <= 1     ? block->num_samples
                                                              : block->row_stride;
        PyObject* view = instance->view.get();
        point_view(view, data, block->num_channels, block->num_samples, stride);
        instance->block_samples = block->num_samples;
        const auto script_start = Clock::now();
        PyObject* returned = PyObject_CallOneArg(instance->methods.process.get(), view);
        script_ns = elapsed_ns(script_start, Clock::now());
        instance->block_samples = 0;
        instance->last_block_samples = block->num_samples;
        if (returned == nullptr) {
            record_script_error(*instance, "process", true);
            status = OE_PYPROC_SCRIPT_ERROR;
        } else {
            Py_DECREF(returned);
        }
        const bool kept = Py_REFCNT(view) > 1;
        if (kept || !view_intact(view)) {
            // The script kept the block (or a view of it): it would see the next blocks' memory change
            // under it. Or it changed the array itself (shape, dtype, writeable). Give it up and use a
            // fresh view from now on.
            if (kept) {
                out.flags |= OE_PYPROC_BLOCK_KEPT_REFERENCE;
            }
            if (kept && !instance->warned_kept_reference) {
                instance->warned_kept_reference = true;
                log_message(OE_PYPROC_LOG_WARNING, instance->id,
                            "the script keeps a reference to the data array after process(); its contents "
                            "are only valid during the call (copy it with data.copy() to keep it)");
            }
            empty_view(view);
            if (!make_view(*instance)) {
                record_script_error(*instance, "prepare", true);
                status = OE_PYPROC_SCRIPT_ERROR;
            }
        }
    }
    if (status == OE_PYPROC_OK) {
        instance->blocks_processed.fetch_add(1);
        if (path == OE_PYPROC_PATH_STAGING) {
            copy_rows_out(*block, instance->staging.data());
        }
    } else {
        instance->blocks_processed.fetch_add(1);
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

int call_simple(oe_pyproc_instance* opaque, PyRef ScriptMethods::*member, const char* name) {
    Instance* instance = as_instance(opaque);
    if (instance == nullptr) {
        return OE_PYPROC_INVALID_ARGUMENT;
    }
    if (!usable(*instance)) {
        return OE_PYPROC_BYPASSED;
    }
    GilGuard gil;
    return call_method(*instance, (instance->methods.*member).get(), name, nullptr);
}

int api_start_acquisition(oe_pyproc_instance* instance) {
    return call_simple(instance, &ScriptMethods::start_acquisition, "start_acquisition");
}

int api_stop_acquisition(oe_pyproc_instance* instance) {
    return call_simple(instance, &ScriptMethods::stop_acquisition, "stop_acquisition");
}

int api_stop_recording(oe_pyproc_instance* instance) {
    return call_simple(instance, &ScriptMethods::stop_recording, "stop_recording");
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
    return call_method(*instance, instance->methods.start_recording.get(), "start_recording", args.get());
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

const oe_pyproc_bridge_api kApi = {
    OE_PYPROC_BRIDGE_ABI_VERSION,
    sizeof(oe_pyproc_bridge_api),
    PY_MAJOR_VERSION,
    PY_MINOR_VERSION,
    api_initialize,
    api_is_initialized,
    api_python_version,
    api_set_log_callback,
    api_reset_thread_states,
    api_create,
    api_destroy,
    api_load_script,
    api_reload,
    api_reinit,
    api_prepare,
    api_set_policy,
    api_set_strided_view,
    api_ttl_event,
    api_spike,
    api_process,
    api_drain_events,
    api_start_acquisition,
    api_stop_acquisition,
    api_start_recording,
    api_stop_recording,
    api_get_last_error,
    api_get_state,
};

}  // namespace

extern "C" OE_PYPROC_BRIDGE_EXPORT const oe_pyproc_bridge_api* oe_pyproc_bridge_get_api(uint32_t requested) {
    return requested == OE_PYPROC_BRIDGE_ABI_VERSION ? &kApi : nullptr;
}
