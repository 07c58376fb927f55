// Extension module `oe_libbin_probe` for 24-windows: linked to oe_libbin_dep.dll, which sits only in the
// conda env's Library\bin. Python loads extension modules with LoadLibraryExW and the
// LOAD_LIBRARY_SEARCH_* flags (PATH is never searched), so `import oe_libbin_probe` works only where
// Library\bin was added with AddDllDirectory (os.add_dll_directory): the loader does it for the Home.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

extern "C" __declspec(dllimport) int oe_libbin_dep_answer();

namespace {

PyObject* answer(PyObject*, PyObject*) {
    return PyLong_FromLong(oe_libbin_dep_answer());
}

PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, "The dependent DLL's answer (42)."},
                         {nullptr, nullptr, 0, nullptr}};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "oe_libbin_probe", nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit_oe_libbin_probe() {
    return PyModule_Create(&module);
}
