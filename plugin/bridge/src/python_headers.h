// Python and numpy headers, included the same way by every file of the bridge. numpy's C API is a table
// of function pointers that import_array() fills once per shared module: every translation unit shares
// one table (PY_ARRAY_UNIQUE_SYMBOL); only api.cpp, which calls _import_array(), defines it.
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL oe_pyproc_numpy_api
#if !defined(OE_PYPROC_DEFINES_NUMPY_API)
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>
