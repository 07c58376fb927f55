#include "block_array.h"

#include "instance.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace oe_pyproc {

namespace {

constexpr const char* kBlockMemoryName = "oe_pyproc.block_memory";

PyArrayObject_fields* fields_of(PyObject* array) {
    return reinterpret_cast<PyArrayObject_fields*>(array);
}

void free_block_memory(PyObject* capsule) {
    std::free(PyCapsule_GetPointer(capsule, kBlockMemoryName));
}

// `bytes` (at least one float) of uninitialised memory owned by a new capsule; nullptr with a Python
// error set when either cannot be allocated.
PyObject* new_block_memory(size_t bytes, float** memory) {
    *memory = static_cast<float*>(std::malloc(std::max(bytes, sizeof(float))));
    if (*memory == nullptr) {
        PyErr_NoMemory();
        return nullptr;
    }
    PyObject* capsule = PyCapsule_New(*memory, kBlockMemoryName, free_block_memory);
    if (capsule == nullptr) {
        std::free(*memory);
        *memory = nullptr;
    }
    return capsule;
}

// A block array for instance.num_channels x instance.max_samples floats at `memory`, whose base is `owner`.
PyObject* new_array_over(const Instance& instance, float* memory, PyObject* owner) {
    npy_intp dims[2] = {instance.num_channels, std::max<int32_t>(instance.max_samples, 1)};
    npy_intp strides[2] = {static_cast<npy_intp>(dims[1] * sizeof(float)), sizeof(float)};
    PyRef array(PyArray_New(&PyArray_Type, 2, dims, NPY_FLOAT32, strides, memory, 0,
                            NPY_ARRAY_WRITEABLE | NPY_ARRAY_ALIGNED, nullptr));
    if (!array) {
        return nullptr;
    }
    Py_INCREF(owner);  // PyArray_SetBaseObject steals it, also when it fails
    if (PyArray_SetBaseObject(reinterpret_cast<PyArrayObject*>(array.get()), owner) < 0) {
        return nullptr;
    }
    return array.release();
}

}  // namespace

bool new_block_array(Instance& instance) {
    const size_t floats =
        static_cast<size_t>(instance.num_channels) * static_cast<size_t>(std::max<int32_t>(instance.max_samples, 1));
    float* memory = nullptr;
    PyRef owner(new_block_memory(floats * sizeof(float), &memory));
    PyRef array(owner ? new_array_over(instance, memory, owner.get()) : nullptr);
    if (!array) {
        return false;
    }
    instance.view = std::move(array);
    instance.staging_owner = std::move(owner);
    instance.staging = memory;
    return true;
}

bool make_view(Instance& instance) {
    PyRef array(new_array_over(instance, instance.staging, instance.staging_owner.get()));
    if (!array) {
        return false;
    }
    instance.view = std::move(array);
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

bool view_intact(const Instance& instance) {
    const PyArrayObject_fields* fields = fields_of(instance.view.get());
    return fields->nd == 2 && fields->descr->type_num == NPY_FLOAT32 && (fields->flags & NPY_ARRAY_WRITEABLE) != 0 &&
           fields->base == instance.staging_owner.get();
}

bool block_kept(const Instance& instance) {
    // The instance holds one reference to the array; the array and the instance one each to its base.
    return Py_REFCNT(instance.view.get()) > 1 || Py_REFCNT(instance.staging_owner.get()) > 2;
}

bool hand_over_staging(Instance& instance) {
    if (fields_of(instance.view.get())->base != instance.staging_owner.get()) {
        // numpy < 2 lets a script assign `data.data = buffer` (deprecated): the array no longer holds the staging
        // buffer, views made of it before still point there. Never freed (one buffer, and only then).
        Py_INCREF(instance.staging_owner.get());
        log_message(OE_PYPROC_LOG_WARNING, instance.id,
                    "process() replaced its data array's memory (data.data = ...); the block's buffer is kept for "
                    "the life of the process");
    }
    // What the script kept holds the array, the array its buffer: the instance's references go with the new
    // buffer (if that cannot be allocated, the instance keeps both and the caller bypasses it).
    return new_block_array(instance);
}

bool hand_over_copy(Instance& instance, const oe_pyproc_block& block, int64_t row_stride) {
    PyArrayObject_fields* fields = fields_of(instance.view.get());
    const char* first = reinterpret_cast<const char*>(block.num_channels > 0 ? block.channels[0] : nullptr);
    const size_t span_bytes =
        block.num_channels > 0 && block.num_samples > 0
            ? (static_cast<size_t>(block.num_channels - 1) * static_cast<size_t>(row_stride) + block.num_samples) *
                  sizeof(float)
            : 0;
    PyRef next(new_array_over(instance, instance.staging, instance.staging_owner.get()));
    if (!next) {
        return false;
    }
    // Unless the script gave the array memory of its own (numpy < 2: `data.data = buffer`, deprecated), it
    // points into the caller's rows: copy them, same layout, so the array keeps its shape, strides and offset
    // whatever the script set.
    const ptrdiff_t offset = fields->data - first;
    if (first != nullptr && offset >= 0 && static_cast<size_t>(offset) <= span_bytes &&
        fields->base == instance.staging_owner.get()) {
        float* memory = nullptr;
        PyObject* owner = new_block_memory(span_bytes, &memory);
        if (owner == nullptr) {
            return false;
        }
        if (span_bytes > 0) {
            std::memcpy(memory, first, span_bytes);
        }
        fields->data = reinterpret_cast<char*>(memory) + offset;
        fields->base = owner;  // the array's only reference to its memory's owner (numpy internal 2.)
        Py_DECREF(instance.staging_owner.get());
    }
    instance.view = std::move(next);  // what the script kept holds the array, the array its copy
    return true;
}

bool prepare_buffers(Instance& instance, int32_t max_samples) {
    if (max_samples <= instance.max_samples && instance.view) {
        return true;
    }
    instance.max_samples = std::max(max_samples, instance.max_samples);
    return new_block_array(instance);
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

}  // namespace oe_pyproc
