// oe_pyproc_background_check.h — slow checks (a Home's interpreter probe) off the GUI's message thread,
// with the supersede rule: only the newest check's result is ever applied.
//
// JUCE-free: the adapter passes a `post` function that runs a callable on its message thread
// (MessageManager::callAsync); the tests pass a queue they drain themselves.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

namespace oe_pyproc::adapter {

// Generations of a check. begin() starts a new one and makes every older one stale; finish(g) says whether
// g's result may be applied (it is the newest and the owner is still open), and ends the check if so.
// All members are thread-safe; begin/finish/cancel/close are meant for the owner's (message) thread.
class CheckGenerations {
public:
    uint64_t begin();
    bool finish(uint64_t generation);
    bool is_current(uint64_t generation) const;
    // A check of the newest generation is running (begun, not finished, not cancelled).
    bool checking() const;
    // No running check is wanted any more (e.g. the script path was cleared): its result will be dropped.
    void cancel();
    // The owner goes away: no result is ever applied again.
    void close();
    bool closed() const;

private:
    std::atomic<uint64_t> newest_{0};
    std::atomic<uint64_t> finished_{0};
    std::atomic<bool> closed_{false};
};

// Runs each job on a thread of its own. A job returns what to apply; that is posted to the owner's thread
// and run there only if no newer job was started meanwhile, cancel() was not called and the owner is alive.
// Destroying the runner never waits for a running job: the job finishes on its own thread (it must only use
// what it captured by value) and its result is dropped. The code of the module stays mapped for such a job
// (the module is pinned once the first job starts), so a GUI closing during a check cannot crash in it.
class BackgroundChecks {
public:
    using Apply = std::function<void()>;
    using Job = std::function<Apply()>;
    using Post = std::function<void(std::function<void()>)>;

    explicit BackgroundChecks(Post post);
    ~BackgroundChecks();
    BackgroundChecks(const BackgroundChecks&) = delete;
    BackgroundChecks& operator=(const BackgroundChecks&) = delete;

    // Starts `job`, superseding any running one; returns its generation.
    uint64_t start(Job job);
    void cancel();
    bool checking() const;

private:
    Post post_;
    std::shared_ptr<CheckGenerations> generations_;
};

// Keeps the shared library holding this code loaded until the process exits (Linux/macOS: dlopen with
// RTLD_NODELETE; Windows: GetModuleHandleExW with the PIN flag, unverified). Returns false if it could not.
bool pin_this_module();

}  // namespace oe_pyproc::adapter
