// The block array handed to the script's process(data): one persistent ndarray per instance, re-pointed at
// each block's memory (the contiguous staging buffer, or the GUI's rows themselves when they are
// contiguous), so that a block costs no allocation.
//
// numpy internals this relies on (stable across numpy 1.19-2.x, which all keep PyArrayObject_fields as
// the layout of an ndarray and export it in their headers for exactly this kind of use):
// - an ndarray made with PyArray_New over external memory (no base, no OWNDATA flag) never frees that
//   memory and never reallocates it: we may write its `data`, `dimensions` and `strides` fields in place
//   as long as nd and the dtype stay those it was made with;
// - its flags (C/F-contiguous, aligned) are derived from those fields only when PyArray_UpdateFlags is
//   called, so every re-pointing ends with that call;
// - a script can change the array itself (data.shape = ..., data.dtype = ..., data.flags.writeable =
//   False): view_intact() checks nd, type_num and WRITEABLE before the array is reused;
// - views numpy makes of it (data[0], data[:, :10], ...) hold a reference to it as their base and copy
//   its data pointer at creation: they are what the reference count after process() detects.
#pragma once

#include "python_headers.h"

#include "oe_pyproc_bridge.h"

#include <cstdint>

namespace oe_pyproc {

struct Instance;

// A fresh block array over the staging buffer, sized for instance.max_samples (GIL held).
bool make_view(Instance& instance);

// Points the block array at `rows` rows of `samples` float32 samples, rows `row_stride` samples apart.
void point_view(PyObject* array, float* data, int32_t rows, int32_t samples, int64_t row_stride);

// Still the 2-D writable float32 array point_view() expects (a script may set data.shape, dtype, flags).
bool view_intact(PyObject* array);

// A block array given up while the script still holds it: no data, every dimension zero.
void empty_view(PyObject* array);

// Sizes the staging buffer and the block array for blocks up to max_samples (GIL held).
bool prepare_buffers(Instance& instance, int32_t max_samples);

// The block's rows into / out of a contiguous channel-major buffer.
void copy_rows_in(const oe_pyproc_block& block, float* staging);
void copy_rows_out(const oe_pyproc_block& block, const float* staging);

}  // namespace oe_pyproc
