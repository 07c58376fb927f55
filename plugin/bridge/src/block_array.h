// The block array handed to the script's process(data): one persistent ndarray per instance, re-pointed at
// each block's memory (the contiguous staging buffer, or the caller's rows themselves when they are
// contiguous), so that a block nothing keeps costs no allocation.
//
// Copy-on-keep (DESIGN §3): whatever the script keeps of `data` (the array, a row, a slice, a view in a
// container or a closure) keeps that block's values, as with upstream's fresh array per block.
// - The staging buffer is memory owned by a PyCapsule (kBlockMemoryName) that is the block array's base:
//   it is freed by the capsule's destructor when the last Python object using it dies, whatever happens to
//   the instance (reload, destruction) before that.
// - After process() returns, a reference count of the block array above the instance's own (or of its
//   base above the array's and the instance's) means the script kept something of this block. Staging
//   path: the array and its buffer are handed over as they are, and the instance takes a new buffer and
//   array (one allocation of the block's size, no copy beyond the staging copy already made). View and
//   strided paths (the array aliases the caller's rows): the rows the array covers are copied into new
//   owned memory and the array is re-pointed there before the caller gets its buffer back; the instance
//   then stays on the staging path (views the script took of that first block still alias the caller's
//   rows: they cannot be re-pointed, see 4. below; this is why zero-copy is opt-in (set_zero_copy) and,
//   when on, waits for kZeroCopyProbationBlocks blocks without a keep after each load).
//
// numpy internals this relies on (stable across numpy 1.19-2.x, which all keep PyArrayObject_fields as
// the layout of an ndarray and export it in their headers for exactly this kind of use):
// 1. An ndarray made with PyArray_New over external memory (no OWNDATA flag) never frees that memory and
//    never reallocates it (ndarray.resize refuses an array that does not own its data): we may write its
//    `data`, `dimensions` and `strides` fields in place as long as nd and the dtype stay those it was made
//    with. Its flags (C/F-contiguous, aligned) are derived from those fields only when
//    PyArray_UpdateFlags is called, so every re-pointing ends with that call.
// 2. `base` holds the one reference an array has to the owner of its memory (set once by
//    PyArray_SetBaseObject; hand_over_copy() replaces the field directly, the only writer besides numpy).
// 3. Every view numpy makes of the block array (data[0], data[:, :10], data.T, data.reshape(...),
//    np.asarray(data), subclass views, views of views) holds a reference to the block array itself:
//    PyArray_SetBaseObject collapses a chain of views down to the first array that owns its data, has no
//    base, or whose base is not an array of its own type, and the block array's base is a capsule, so
//    the collapse stops at the block array. Buffer exports (memoryview(data), np.frombuffer) hold it as
//    their exporter. Hence its reference count after process() counts everything the script kept.
// 4. A view copies its base's data pointer when it is made and nothing re-points it later: memory a
//    view was made over must stay that block's memory for as long as the view lives.
// Not detectable (documented): raw addresses taken out of numpy (data.ctypes.data, __array_interface__
// handed to C code) outlive nothing.
// A script can change the array itself (data.shape = ..., data.dtype = ..., data.flags.writeable =
// False; with numpy < 2 even its memory: data.data = buffer, which replaces `base`): view_intact() checks
// nd, type_num, WRITEABLE and base before the array is re-pointed again.
#pragma once

#include "python_headers.h"

#include "oe_pyproc_bridge.h"

#include <cstdint>

namespace oe_pyproc {

struct Instance;

// Blocks after each load that take the staging path even when zero-copy is possible: a script that keeps
// something of its blocks within them never gets a view of the caller's rows (see above).
constexpr uint64_t kZeroCopyProbationBlocks = 64;

// A new staging buffer (instance.num_channels x instance.max_samples floats, owned by a capsule) and a
// block array over it (GIL held).
bool new_block_array(Instance& instance);

// A new block array over the instance's current staging buffer (GIL held).
bool make_view(Instance& instance);

// Points the block array at `rows` rows of `samples` float32 samples, rows `row_stride` samples apart.
void point_view(PyObject* array, float* data, int32_t rows, int32_t samples, int64_t row_stride);

// The block array is still the 2-D writable float32 array over the staging buffer point_view() expects (a
// script may set data.shape, dtype, flags; with numpy < 2 even data.data).
bool view_intact(const Instance& instance);

// After process(): whether the script kept the block array or anything made from it (GIL held).
bool block_kept(const Instance& instance);

// Staging path, block kept: gives the block array and its buffer to what kept them; the instance gets a
// new buffer and array (GIL held).
bool hand_over_staging(Instance& instance);

// View or strided path, block kept: copies the caller's rows the block array covers (`row_stride` apart)
// into new owned memory, re-points the array there and gives it to what kept it; the instance gets a new
// array over its staging buffer (GIL held).
bool hand_over_copy(Instance& instance, const oe_pyproc_block& block, int64_t row_stride);

// Sizes the staging buffer and the block array for blocks up to max_samples (GIL held).
bool prepare_buffers(Instance& instance, int32_t max_samples);

// The block's rows into / out of a contiguous channel-major buffer.
void copy_rows_in(const oe_pyproc_block& block, float* staging);
void copy_rows_out(const oe_pyproc_block& block, const float* staging);

}  // namespace oe_pyproc
