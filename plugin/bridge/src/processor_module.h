// The `oe_pyprocessor` module: the processor handle type given to PyProcessor.__init__ and its
// add_python_event.
#pragma once

#include "python_headers.h"

namespace oe_pyproc {

struct Instance;

struct ProcessorHandle {
    PyObject_HEAD Instance* instance;  // nullptr once the instance is destroyed
};

extern PyTypeObject processor_handle_type;

// The module's init function, registered with PyImport_AppendInittab before start-up.
PyObject* init_processor_module();

}  // namespace oe_pyproc
