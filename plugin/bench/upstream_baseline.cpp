// The upstream-style path, for the benchmark baseline only (never used by the plugin): a thread state
// made per call (PyGILState_Ensure/Release on a thread without a persistent one), a new ndarray every
// block, the rows copied in and out. Built per Python like the bridge, not linked to libpython.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <cstdio>
#include <cstring>

extern "C" __attribute__((visibility("default"))) void* oe_pyproc_upstream_prepare(const char* script_path) {
    PyGILState_STATE state = PyGILState_Ensure();
    void* result = nullptr;
    if (_import_array() >= 0) {
        PyObject* globals = PyDict_New();
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
        FILE* file = std::fopen(script_path, "r");
        if (file != nullptr) {
            PyObject* ran = PyRun_File(file, script_path, Py_file_input, globals, globals);
            std::fclose(file);
            PyObject* cls = ran != nullptr ? PyDict_GetItemString(globals, "PyProcessor") : nullptr;
            PyObject* processor = cls != nullptr ? PyObject_CallFunction(cls, "Oid", Py_None, 1, 30000.0) : nullptr;
            result = processor;
            Py_XDECREF(ran);
        }
        Py_DECREF(globals);
    }
    if (result == nullptr) {
        PyErr_Print();
    }
    PyGILState_Release(state);
    return result;
}

extern "C" __attribute__((visibility("default"))) int oe_pyproc_upstream_process(void* processor, float* const* rows,
                                                                                 int channels, int samples) {
    PyGILState_STATE state = PyGILState_Ensure();
    npy_intp dims[2] = {channels, samples};
    PyObject* array = PyArray_SimpleNew(2, dims, NPY_FLOAT32);
    float* data = static_cast<float*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(array)));
    for (int c = 0; c < channels; ++c) {
        std::memcpy(data + static_cast<size_t>(c) * samples, rows[c], static_cast<size_t>(samples) * sizeof(float));
    }
    PyObject* result = PyObject_CallMethod(static_cast<PyObject*>(processor), "process", "O", array);
    const int ok = result != nullptr;
    Py_XDECREF(result);
    if (ok) {
        for (int c = 0; c < channels; ++c) {
            std::memcpy(rows[c], data + static_cast<size_t>(c) * samples, static_cast<size_t>(samples) * sizeof(float));
        }
    } else {
        PyErr_Clear();
    }
    Py_DECREF(array);
    PyGILState_Release(state);
    return ok ? 0 : 1;
}
