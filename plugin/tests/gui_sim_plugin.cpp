// Stands in for the Open Ephys adapter in the loading proof: a plugin-like shared module that contains
// the loader (statically) and is itself dlopen()ed with RTLD_LOCAL by test_dlopen_local, as the GUI does.
#include "oe_pyproc_loader.h"

#include <cstdio>
#include <string>
#include <vector>

namespace {
int report(char* out, size_t capacity, int code, const std::string& message) {
    std::snprintf(out, capacity, "%s", message.c_str());
    return code;
}
}  // namespace

extern "C" __attribute__((visibility("default"))) int oe_pyproc_sim_run(const char* home_path, const char* bridge_dir,
                                                                        const char* script, const char* other_home,
                                                                        char* out, size_t capacity) {
    oe_pyproc::ValidationOptions options;
    options.bridge_dir = bridge_dir;
    // Rule 1: a bad Home first is refused with its reason, nothing starts, the good Home still works.
    std::string error;
    const oe_pyproc::Validation bad = oe_pyproc::validate_home(std::string(home_path) + "/no-such-home", options);
    if (bad.ok || bad.reason.find("does not exist") == std::string::npos ||
        oe_pyproc::Runtime::instance().start(bad, bridge_dir, error) != nullptr ||
        oe_pyproc::Runtime::instance().api() != nullptr) {
        return report(out, capacity, 9, "a bad Home was not refused cleanly: " + bad.reason);
    }
    const oe_pyproc::Validation home = oe_pyproc::validate_home(home_path, options);
    if (!home.ok) {
        return report(out, capacity, 1, "Home rejected: " + home.reason);
    }
    const oe_pyproc_bridge_api* api = oe_pyproc::Runtime::instance().start(home, bridge_dir, error);
    if (api == nullptr) {
        return report(out, capacity, 2, "start failed: " + error);
    }
    oe_pyproc_instance* instance = api->create(7);
    if (api->load_script(instance, script, 4, 30000.0) != OE_PYPROC_OK) {
        const std::string why = api->get_last_error(instance);
        api->destroy(instance);
        return report(out, capacity, 3, "script failed: " + why);
    }
    std::vector<float> storage(4 * 128, 1.0f);
    float* rows[4] = {storage.data(), storage.data() + 128, storage.data() + 256, storage.data() + 384};
    oe_pyproc_block block{rows, 4, 100, 128, 0};
    oe_pyproc_block_result result{};
    const int status = api->process(instance, &block, &result);
    const std::string last_error = api->get_last_error(instance);
    api->destroy(instance);
    if (status != OE_PYPROC_OK) {
        return report(out, capacity, 4, "process failed: " + last_error);
    }
    for (int c = 0; c < 4; ++c) {
        for (int s = 0; s < 128; ++s) {
            const float expected = s < 100 ? static_cast<float>(c * 100 + s) : 1.0f;
            if (rows[c][s] != expected) {
                return report(out, capacity, 5, "unexpected sample at channel " + std::to_string(c));
            }
        }
    }
    // One interpreter per process: the same Home again is fine, a different one is refused.
    if (oe_pyproc::Runtime::instance().start(home, bridge_dir, error) != api) {
        return report(out, capacity, 6, "restarting with the same Home failed: " + error);
    }
    if (other_home != nullptr && *other_home != '\0') {
        const oe_pyproc::Validation other = oe_pyproc::validate_home(other_home, options);
        if (!other.ok) {
            return report(out, capacity, 7, "second Home not valid for the test: " + other.reason);
        }
        error.clear();
        if (oe_pyproc::Runtime::instance().start(other, bridge_dir, error) != nullptr) {
            return report(out, capacity, 8, "a second, different Home was accepted");
        }
        return report(out, capacity, 0, "numpy ran in the script; second Home refused: " + error);
    }
    return report(out, capacity, 0, "numpy ran in the script");
}
