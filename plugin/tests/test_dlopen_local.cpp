// Loading proof (rule 2): dlopen() the plugin-like module with RTLD_LOCAL|RTLD_NOW as the Open Ephys GUI
// loads plugins; it loads libpython (global) and the bridge, and a script imports numpy and processes a block.
//   test_dlopen_local <plugin.so> <home> <bridge_dir> <work_dir> [<other_home>]
#include "test_support.h"

#include <dlfcn.h>

#include <filesystem>
#include <fstream>

using RunFn = int (*)(const char*, const char*, const char*, const char*, char*, size_t);

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: %s PLUGIN HOME BRIDGE_DIR WORK_DIR [OTHER_HOME]\n", argv[0]);
        return 2;
    }
    const std::filesystem::path work = argv[4];
    std::filesystem::create_directories(work);
    const auto script = work / "numpy_ramp.py";
    std::ofstream(script) << "import numpy as np\n"
                             "import oe_pyprocessor\n"
                             "class PyProcessor:\n"
                             "    def __init__(self, processor, num_channels, sample_rate):\n"
                             "        assert isinstance(processor, oe_pyprocessor.PythonProcessor)\n"
                             "    def process(self, data):\n"
                             "        rows, samples = data.shape\n"
                             "        data[:] = np.arange(samples, dtype=np.float32)[None, :] + 100 * "
                             "np.arange(rows, dtype=np.float32)[:, None]\n";
    void* plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (plugin == nullptr) {
        std::fprintf(stderr, "dlopen failed: %s\n", dlerror());
        return 1;
    }
    CHECK(dlsym(RTLD_DEFAULT, "Py_InitializeFromConfig") == nullptr);  // no Python before the loader runs
    auto run = reinterpret_cast<RunFn>(dlsym(plugin, "oe_pyproc_sim_run"));
    CHECK(run != nullptr);
    char message[4096] = {};
    const int status = run(argv[2], argv[3], script.c_str(), argc > 5 ? argv[5] : "", message, sizeof(message));
    std::printf("status %d: %s\n", status, message);
    CHECK(status == 0);
    if (argc > 5 && *argv[5] != '\0') {
        CHECK(std::string(message).find("restart the GUI to switch Home") != std::string::npos);
    }
    return test_result();
}
