#include "processor_module.h"

#include "instance.h"

#include <mutex>

namespace oe_pyproc {

namespace {

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
    if (instance->block_samples == 0 && instance->last_block_samples == 0 && !instance->acquisition_started.load()) {
        // Before acquisition starts (from __init__): upstream drops these events too; say so once. Events
        // from start_acquisition are kept for the first block, as upstream's are.
        if (!instance->warned_early_event) {
            instance->warned_early_event = true;
            log_message(OE_PYPROC_LOG_WARNING, instance->id,
                        "add_python_event before start_acquisition (e.g. in __init__) is dropped, as upstream "
                        "does");
        }
        Py_RETURN_NONE;
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

PyMethodDef handle_methods[] = {
    {"add_python_event", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(handle_add_python_event)),
     METH_VARARGS | METH_KEYWORDS,
     "add_python_event(line, state, offset=0): send a TTL event (line 0-255) downstream at sample `offset` of "
     "the current block."},
    {nullptr, nullptr, 0, nullptr}};

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

}  // namespace

PyTypeObject processor_handle_type = {PyVarObject_HEAD_INIT(nullptr, 0)};

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

}  // namespace oe_pyproc
