// Background checks with real threads: the newest check's result is applied, superseded and cancelled ones
// never are, and destroying the owner during a check neither waits for it nor applies its result.
#include "adapter_check.h"
#include "oe_pyproc_adapter_logic.h"
#include "oe_pyproc_background_check.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace oe_pyproc::adapter;
using namespace std::chrono_literals;

namespace {

// Stands in for the GUI's message thread: posted callables wait here until the test runs them.
class PostedQueue {
public:
    BackgroundChecks::Post poster() {
        return [this](std::function<void()> call) {
            std::lock_guard<std::mutex> lock(mutex_);
            calls_.push_back(std::move(call));
            ready_.notify_all();
        };
    }
    // Runs what was posted until `count` calls ran or `timeout` passed; returns how many ran.
    int run(int count, std::chrono::milliseconds timeout) {
        int ran = 0;
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (ran < count) {
            std::unique_lock<std::mutex> lock(mutex_);
            if (!ready_.wait_until(lock, deadline, [this] { return !calls_.empty(); })) {
                break;
            }
            auto call = std::move(calls_.front());
            calls_.pop_front();
            lock.unlock();
            call();
            ++ran;
        }
        return ran;
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> calls_;
};

BackgroundChecks::Job sleepThenRecord(std::chrono::milliseconds delay, std::vector<std::string>& applied,
                                      std::string name) {
    return [delay, &applied, name]() -> BackgroundChecks::Apply {
        std::this_thread::sleep_for(delay);
        return [&applied, name] { applied.push_back(name); };
    };
}

}  // namespace

TEST_CASE("generations: only the newest generation finishes, once; cancel and close drop results") {
    CheckGenerations generations;
    CHECK(!generations.checking());
    uint64_t first = generations.begin();
    CHECK(generations.checking());
    uint64_t second = generations.begin();
    CHECK(!generations.is_current(first));
    CHECK(!generations.finish(first));
    CHECK(generations.checking());
    CHECK(generations.finish(second));
    CHECK(!generations.finish(second));
    CHECK(!generations.checking());

    uint64_t third = generations.begin();
    generations.cancel();
    CHECK(!generations.checking());
    CHECK(!generations.finish(third));

    uint64_t fourth = generations.begin();
    generations.close();
    CHECK(!generations.checking());
    CHECK(!generations.finish(fourth));
}

TEST_CASE("a check runs off the caller's thread and its result is applied on the posting thread") {
    PostedQueue queue;
    std::vector<std::string> applied;
    BackgroundChecks checks(queue.poster());
    const auto before = std::chrono::steady_clock::now();
    checks.start(sleepThenRecord(300ms, applied, "slow"));
    CHECK(std::chrono::steady_clock::now() - before < 100ms);  // start() returns at once
    CHECK(checks.checking());
    CHECK_EQ(queue.run(1, 5s), 1);
    CHECK_EQ(applied, std::vector<std::string>{"slow"});
    CHECK(!checks.checking());
}

TEST_CASE("a second check supersedes a running one: the stale result is never applied") {
    PostedQueue queue;
    std::vector<std::string> applied;
    BackgroundChecks checks(queue.poster());
    checks.start(sleepThenRecord(400ms, applied, "first"));  // finishes after the second
    checks.start(sleepThenRecord(50ms, applied, "second"));
    queue.run(2, 1s);
    std::this_thread::sleep_for(600ms);  // the first job has certainly finished by now
    queue.run(2, 100ms);
    CHECK_EQ(applied, std::vector<std::string>{"second"});
    CHECK(!checks.checking());

    // The other order: the superseded job finishes first and posts; its result is still dropped.
    applied.clear();
    checks.start(sleepThenRecord(10ms, applied, "third"));
    std::this_thread::sleep_for(200ms);  // "third" has posted but the owner thread has not run it yet
    checks.start(sleepThenRecord(100ms, applied, "fourth"));
    queue.run(2, 2s);
    CHECK_EQ(applied, std::vector<std::string>{"fourth"});
}

TEST_CASE("a cancelled check applies nothing") {
    PostedQueue queue;
    std::vector<std::string> applied;
    BackgroundChecks checks(queue.poster());
    checks.start(sleepThenRecord(100ms, applied, "cancelled"));
    checks.cancel();
    CHECK(!checks.checking());
    std::this_thread::sleep_for(300ms);
    queue.run(1, 100ms);
    CHECK(applied.empty());
}

TEST_CASE("destroying the owner during a check returns at once and applies nothing") {
    PostedQueue queue;
    std::vector<std::string> applied;
    auto checks = std::make_unique<BackgroundChecks>(queue.poster());
    checks->start(sleepThenRecord(500ms, applied, "orphan"));
    const auto before = std::chrono::steady_clock::now();
    checks.reset();
    CHECK(std::chrono::steady_clock::now() - before < 100ms);
    std::this_thread::sleep_for(700ms);  // the job ends on its own thread
    queue.run(1, 100ms);
    CHECK(applied.empty());
}

TEST_CASE("pin_this_module keeps the binary holding the code loaded") {
    CHECK(pin_this_module());
}

TEST_CASE("status while a Home is checked: the Home's path, the script waiting, the JSON field") {
    StatusInfo status;
    status.script_path = "/s/filter.py";
    status.checking_home = "/envs/slow";
    std::vector<std::string> lines = status_lines(status);
    CHECK_CONTAINS(lines[0], "checking Home");
    CHECK_CONTAINS(lines[0], "/envs/slow");
    CHECK_CONTAINS(lines[1], "filter.py - waiting for the Home check");
    CHECK_CONTAINS(status_json(status), "\"checking_home\": \"/envs/slow\"");
    status.checking_home.clear();
    CHECK_CONTAINS(status_lines(status)[1], "not loaded");
}
