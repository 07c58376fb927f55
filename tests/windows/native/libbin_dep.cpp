// A DLL that only a conda env's Library\bin holds (24-windows): libbin_probe.pyd imports it, so the .pyd
// loads only when that folder is on the process's DLL search path, as conda's MKL or OpenBLAS must be.
extern "C" __declspec(dllexport) int oe_libbin_dep_answer() {
    return 42;
}
