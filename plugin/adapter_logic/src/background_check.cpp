#include "oe_pyproc_background_check.h"

#include <filesystem>
#include <system_error>
#include <thread>
#include <utility>

#ifdef _WIN32
#include <windows.h>
#else
#include <dlfcn.h>
#endif

namespace oe_pyproc::adapter {

uint64_t CheckGenerations::begin() {
    return newest_.fetch_add(1) + 1;
}

bool CheckGenerations::finish(uint64_t generation) {
    if (closed_.load() || generation != newest_.load()) {
        return false;
    }
    uint64_t expected = finished_.load();
    // Only the first finish of the newest generation applies (a cancel already marked it finished).
    return expected < generation && finished_.compare_exchange_strong(expected, generation);
}

bool CheckGenerations::is_current(uint64_t generation) const {
    return !closed_.load() && generation == newest_.load();
}

bool CheckGenerations::checking() const {
    return !closed_.load() && finished_.load() < newest_.load();
}

void CheckGenerations::cancel() {
    finished_.store(newest_.fetch_add(1) + 1);
}

void CheckGenerations::close() {
    closed_.store(true);
}

bool CheckGenerations::closed() const {
    return closed_.load();
}

BackgroundChecks::BackgroundChecks(Post post)
    : post_(std::move(post)), generations_(std::make_shared<CheckGenerations>()) {}

BackgroundChecks::~BackgroundChecks() {
    generations_->close();
}

uint64_t BackgroundChecks::start(Job job) {
    static const bool pinned = pin_this_module();
    (void)pinned;
    const uint64_t generation = generations_->begin();
    std::thread([generations = generations_, post = post_, job = std::move(job), generation]() {
        Apply apply = job();
        if (!generations->is_current(generation)) {
            return;  // superseded, cancelled or closed while it ran: nothing to post
        }
        post([generations, generation, apply = std::move(apply)]() {
            // Checked again on the owner's thread, where start/cancel/close happen: no stale result applies.
            if (generations->finish(generation) && apply) {
                apply();
            }
        });
    }).detach();
    return generation;
}

void BackgroundChecks::cancel() {
    generations_->cancel();
}

bool BackgroundChecks::checking() const {
    return generations_->checking();
}

bool pin_this_module() {
#ifdef _WIN32
    HMODULE module = nullptr;
    return GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                              reinterpret_cast<LPCWSTR>(&pin_this_module), &module) != 0;
#else
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&pin_this_module), &info) == 0 || info.dli_fname == nullptr) {
        return false;
    }
    // A second reference with RTLD_NODELETE: the GUI unloading the plugin no longer unmaps its code.
    if (dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr) {
        return true;
    }
    // Linked into the program itself (the unit tests): never unloaded anyway.
    std::error_code error;
    return std::filesystem::equivalent(info.dli_fname, std::filesystem::read_symlink("/proc/self/exe", error), error);
#endif
}

}  // namespace oe_pyproc::adapter
