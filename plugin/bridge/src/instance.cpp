#include "instance.h"

#include "block_array.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace oe_pyproc {

namespace {

// A str as bytes: UTF-8, with a file name's undecodable bytes (lone surrogates from surrogateescape) given
// back as they were; strict UTF-8 would lose the whole traceback of a script in such a folder.
bool text_of(PyObject* unicode, std::string& out) {
    PyRef bytes(unicode != nullptr && PyUnicode_Check(unicode)
                    ? PyUnicode_AsEncodedString(unicode, "utf-8", "surrogateescape")
                    : nullptr);
    if (!bytes) {
        PyErr_Clear();
        return false;
    }
    out.assign(PyBytes_AS_STRING(bytes.get()), static_cast<size_t>(PyBytes_GET_SIZE(bytes.get())));
    return true;
}

}  // namespace

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
        PyErr_Clear();
        text_of(formatted.get(), text);
    }
    if (text.empty() && value != nullptr) {
        PyRef repr(PyObject_Str(value));
        PyErr_Clear();
        if (!text_of(repr.get(), text)) {
            text = "unknown Python error";
        }
    }
    if (text.empty()) {
        text = "unknown Python error";
    }
    return text;
}

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

void record_watchdog_fault(Instance& instance, const char* method, const WatchOutcome& outcome, bool in_process,
                           bool already_recorded) {
    char numbers[96];
    std::snprintf(numbers, sizeof(numbers), " ran for %.3g s, over the watchdog limit of %.3g s", outcome.seconds,
                  outcome.limit_seconds);
    const std::string what = std::strcmp(method, "load") == 0 ? std::string("loading the script (import and __init__)")
                                                              : std::string(method) + "()";
    const std::string message = what + numbers +
                                "; the instance is stopped (blocks pass through) until the "
                                "script is reloaded";
    if (already_recorded) {
        instance.last_error +=
            (instance.last_error.empty() || instance.last_error.back() == '\n' ? "" : "\n") + message;
    } else {
        const std::string traceback = PyErr_Occurred() != nullptr ? fetch_error_text() : std::string();
        instance.error_count.fetch_add(1);
        instance.last_error_block.store(in_process ? instance.block_index : -1);
        instance.last_error = std::string("in ") + method + ":\n" + traceback + message;
    }
    instance.faulted.store(true);
    log_message(OE_PYPROC_LOG_ERROR, instance.id, message);
}

int call_method(Instance& instance, const char* name, PyObject* args, WatchedCall::Kind kind, bool in_process) {
    PyRef method = script_method(instance, name);
    if (!method) {
        return OE_PYPROC_OK;
    }
    WatchedCall watched(*instance.watch, name, kind);
    PyRef result(args != nullptr ? PyObject_CallObject(method.get(), args) : PyObject_CallNoArgs(method.get()));
    const WatchOutcome outcome = watched.finish(Clock::now());
    if (outcome.over_limit) {
        record_watchdog_fault(instance, name, outcome, in_process, false);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    if (!result) {
        record_script_error(instance, name, in_process);
        return OE_PYPROC_SCRIPT_ERROR;
    }
    return OE_PYPROC_OK;
}

void drop_script(Instance& instance) {
    instance.has_script.store(false);
    instance.processor.reset();
}

PyRef script_method(Instance& instance, const char* name) {
    if (!instance.processor) {
        return PyRef();
    }
    PyRef attribute(PyObject_GetAttrString(instance.processor.get(), name));
    if (!attribute) {
        PyErr_Clear();
        return PyRef();
    }
    if (!PyCallable_Check(attribute.get())) {
        return PyRef();
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
    instance.processor = std::move(processor);
    if (!script_method(instance, "process")) {
        instance.processor.reset();
        PyErr_SetString(PyExc_AttributeError, "class PyProcessor has no process(self, data) method");
        record_script_error(instance, "load", false);
        instance.faulted.store(true);
        return OE_PYPROC_LOAD_FAILED;
    }
    instance.view.reset();
    const int32_t max_samples = instance.max_samples;
    instance.max_samples = 0;
    if (!prepare_buffers(instance, std::max<int32_t>(max_samples, 1024))) {
        record_script_error(instance, "prepare", false);
        return OE_PYPROC_LOAD_FAILED;
    }
    instance.faulted.store(false);
    instance.keeps_blocks = false;
    instance.blocks_since_load = 0;
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
    // The generation counts loads in the whole process, not per instance: an adapter may load a script into a
    // second instance with the same id while the first still runs (a load off the message thread), and the
    // first one's unload must not remove the second one's module from sys.modules.
    static uint64_t loads_in_process = 0;  // only touched with the GIL held
    instance.load_generation = ++loads_in_process;
    instance.module_name =
        "_oe_pyproc_script_" + std::to_string(instance.id) + "_" + std::to_string(instance.load_generation);
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
    PyObject* cls = PyTuple_GetItem(loaded.get(), 1);             // borrowed
    PyObject* shared_helpers = PyTuple_GetItem(loaded.get(), 2);  // borrowed
    const char* warning = shared_helpers != nullptr ? PyUnicode_AsUTF8(shared_helpers) : nullptr;
    if (warning == nullptr) {
        PyErr_Clear();
    }
    const int status = instantiate(instance, cls);
    if (warning != nullptr && *warning != '\0') {
        log_message(OE_PYPROC_LOG_WARNING, instance.id, warning);
    }
    return status;
}

}  // namespace oe_pyproc
