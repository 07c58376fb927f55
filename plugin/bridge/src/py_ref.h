// Owned Python reference (RAII). Destruction needs the GIL, like every other Python operation here.
#pragma once

#include "python_headers.h"

namespace oe_pyproc {

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

}  // namespace oe_pyproc
