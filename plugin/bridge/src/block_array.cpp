#include "block_array.h"

#include "instance.h"

#include <algorithm>
#include <cstring>

namespace oe_pyproc {

namespace {

PyArrayObject_fields* fields_of(PyObject* array) {
    return reinterpret_cast<PyArrayObject_fields*>(array);
}

}  // namespace

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

bool view_intact(PyObject* array) {
    const PyArrayObject_fields* fields = fields_of(array);
    return fields->nd == 2 && fields->descr->type_num == NPY_FLOAT32 && (fields->flags & NPY_ARRAY_WRITEABLE) != 0;
}

void empty_view(PyObject* array) {
    PyArrayObject_fields* fields = fields_of(array);
    static float placeholder = 0.0f;
    fields->data = reinterpret_cast<char*>(&placeholder);
    for (int axis = 0; axis < fields->nd; ++axis) {
        fields->dimensions[axis] = 0;
    }
    PyArray_UpdateFlags(reinterpret_cast<PyArrayObject*>(array), NPY_ARRAY_UPDATE_ALL);
}

bool prepare_buffers(Instance& instance, int32_t max_samples) {
    if (max_samples <= instance.max_samples && instance.view) {
        return true;
    }
    instance.max_samples = std::max(max_samples, instance.max_samples);
    instance.staging.assign(static_cast<size_t>(instance.num_channels) * static_cast<size_t>(instance.max_samples),
                            0.0f);
    return make_view(instance);
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
