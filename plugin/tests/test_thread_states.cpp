// Audio device restart while the audio thread lives on (JUCE may keep its thread): reset_thread_states()
// from the message thread, then the same audio thread and the message thread both keep working,
// including extensions that take the GIL with PyGILState_Ensure (a ctypes callback) on either thread.
//   test_thread_states <home> <bridge_dir> <work_dir>
#include "oe_pyproc_loader.h"
#include "test_support.h"

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s HOME BRIDGE_DIR WORK_DIR\n", argv[0]);
        return 2;
    }
    const std::filesystem::path work = argv[3];
    std::filesystem::create_directories(work);
    const auto script = work / "gilstate_user.py";
    std::ofstream(script) << "import ctypes\n"
                             "LIBC = ctypes.CDLL(None)\n"
                             "COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), "
                             "ctypes.POINTER(ctypes.c_int))\n"
                             "CALLBACK = COMPARE(lambda a, b: a[0] - b[0])\n"
                             "def sort_check():\n"
                             "    values = (ctypes.c_int * 4)(4, 2, 3, 1)\n"
                             "    LIBC.qsort(values, 4, ctypes.sizeof(ctypes.c_int), CALLBACK)\n"
                             "    assert list(values) == [1, 2, 3, 4]\n"
                             "class PyProcessor:\n"
                             "    def __init__(self, processor, num_channels, sample_rate):\n"
                             "        sort_check()\n"
                             "    def process(self, data):\n"
                             "        sort_check()\n"
                             "        data += 1\n";
    oe_pyproc::ValidationOptions options;
    options.bridge_dir = argv[2];
    const oe_pyproc::Validation home = oe_pyproc::validate_home(argv[1], options);
    std::string error;
    const oe_pyproc_bridge_api* api = home.ok ? oe_pyproc::Runtime::instance().start(home, argv[2], error) : nullptr;
    if (api == nullptr) {
        std::fprintf(stderr, "cannot start: %s %s\n", home.reason.c_str(), error.c_str());
        return 1;
    }
    oe_pyproc_instance* instance = api->create(1);
    CHECK(api->load_script(instance, script.c_str(), 2, 30000.0) == OE_PYPROC_OK);
    std::vector<float> storage(2 * 100, 0.0f);
    float* rows[2] = {storage.data(), storage.data() + 100};
    oe_pyproc_block block{rows, 2, 100, 100, 0};

    std::mutex mutex;
    std::condition_variable changed;
    int phase = 0;
    int failures = 0;
    std::thread audio([&] {
        for (int round = 0; round < 2; ++round) {
            for (int i = 0; i < 10; ++i) {
                failures += api->process(instance, &block, nullptr) != OE_PYPROC_OK;
            }
            std::unique_lock<std::mutex> lock(mutex);
            phase = round * 2 + 1;
            changed.notify_all();
            changed.wait(lock, [&] { return phase == round * 2 + 2; });
        }
    });
    for (int round = 0; round < 2; ++round) {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return phase == round * 2 + 1; });
        api->reset_thread_states();                    // the device restarts; the audio thread lives on
        CHECK(api->reload(instance) == OE_PYPROC_OK);  // message thread, PyGILState user in __init__
        phase = round * 2 + 2;
        changed.notify_all();
    }
    audio.join();
    CHECK(failures == 0);
    CHECK(rows[0][0] == 20.0f && rows[1][99] == 20.0f);
    const std::string last_error = api->get_last_error(instance);
    if (!last_error.empty()) {
        std::fprintf(stderr, "%s\n", last_error.c_str());
    }
    api->destroy(instance);
    return test_result();
}
