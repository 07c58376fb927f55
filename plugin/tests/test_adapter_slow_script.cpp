// Script loading off the caller's thread with the real bridge: a script whose import sleeps 3 s. Starting
// the load returns at once and the session keeps answering (and blocks keep flowing) while it imports; the
// newest of two loads wins whatever order they finish in; destroying the owner during a load returns at once
// and the dropped load leaves no module behind.
//   test_adapter_slow_script <home> <bridge_dir> <work_dir>
#include "adapter_check.h"
#include "oe_pyproc_script_loads.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using namespace oe_pyproc;
using namespace oe_pyproc::adapter;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

fs::path g_work;
const oe_pyproc_bridge_api* g_api = nullptr;
constexpr int kChannels = 2;
constexpr int kSamples = 64;
using Clock = std::chrono::steady_clock;

// Stands in for the GUI's message thread: posted calls wait here until the test runs them.
class PostedQueue {
public:
    BackgroundChecks::Post poster() {
        return [this](std::function<void()> call) {
            std::lock_guard<std::mutex> lock(mutex_);
            calls_.push_back(std::move(call));
        };
    }
    // Runs whatever was posted so far; returns how many calls ran.
    int run_posted() {
        std::deque<std::function<void()>> calls;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            calls.swap(calls_);
        }
        for (auto& call : calls) {
            call();
        }
        return static_cast<int>(calls.size());
    }

private:
    std::mutex mutex_;
    std::deque<std::function<void()>> calls_;
};

// A script whose import takes `seconds` (sleeping, or busy in Python and so holding the GIL most of the
// time), then adds `offset` to every sample.
fs::path write_script(const std::string& name, double seconds, float offset, bool busy = false) {
    fs::path path = g_work / name;
    std::ofstream(path) << "import time\n"
                        << (busy ? "end = time.monotonic() + " : "time.sleep(") << seconds << (busy ? "\n" : ")\n")
                        << (busy ? "while time.monotonic() < end:\n    pass\n" : "") << "class PyProcessor:\n"
                        << "    def __init__(self, processor, num_channels, sample_rate):\n"
                        << "        pass\n"
                        << "    def process(self, data):\n"
                        << "        data += " << offset << "\n";
    return path;
}

// One block through the session as the audio thread does it: the value the first sample has afterwards
// (0 when the block passed through).
float run_block(ScriptSession& session) {
    std::vector<float> storage(kChannels * kSamples, 0.0f);
    std::vector<float*> rows = {storage.data(), storage.data() + kSamples};
    ScriptSession::Block block(session);
    oe_pyproc_block data{rows.data(), kChannels, kSamples, kSamples, 0};
    block.process(data, 30000.0);
    return storage[0];
}

// Scripts of the bridge still in sys.modules, counted by a probe script loaded into its own session.
int script_modules_loaded() {
    fs::path count_file = g_work / "module_count.txt";
    fs::remove(count_file);
    fs::path probe = g_work / "count_modules.py";
    std::ofstream(probe) << "import sys\n"
                         << "names = [m for m in sys.modules if m.startswith('_oe_pyproc_script_')]\n"
                         << "open(r'" << count_file.string() << "', 'w').write(str(len(names) - 1))\n"  // not itself
                         << "class PyProcessor:\n"
                         << "    def __init__(self, processor, num_channels, sample_rate):\n"
                         << "        pass\n"
                         << "    def process(self, data):\n"
                         << "        pass\n";
    ScriptSession probe_session(999);
    probe_session.attach(g_api);
    if (probe_session.load(probe.string(), kChannels, 30000.0) != OE_PYPROC_OK) {
        return -1;
    }
    std::ifstream in(count_file);
    int count = -1;
    in >> count;
    return count;
}

}  // namespace

TEST_CASE("a script whose import takes 3 s loads off the caller's thread; blocks pass through meanwhile") {
    ScriptSession session(1);
    session.attach(g_api);
    PostedQueue queue;
    ScriptLoads loads(queue.poster());
    const fs::path script = write_script("slow_import.py", 3.0, 1.0f);
    int done_status = -100;
    double done_seconds = 0.0;
    const auto before = Clock::now();
    loads.start(session, g_api, script.string(), kChannels, 30000.0, [&](int status, double seconds) {
        done_status = status;
        done_seconds = seconds;
    });
    const auto returned = Clock::now() - before;
    CHECK(returned < 100ms);
    CHECK(loads.loading());
    CHECK_EQ(loads.loading_path(), script.string());

    // Poll as the editor's timer does, and run blocks as the audio thread does, while the script imports.
    int polls = 0;
    Clock::duration slowest_poll{};
    bool passed_through = true;
    while (loads.loading() && Clock::now() - before < 30s) {
        const auto poll_start = Clock::now();
        SessionState state = session.state();
        passed_through = passed_through && !state.loaded && run_block(session) == 0.0f;
        slowest_poll = std::max(slowest_poll, Clock::now() - poll_start);
        ++polls;
        queue.run_posted();
        std::this_thread::sleep_for(20ms);
    }
    const auto took = Clock::now() - before;
    std::printf("start returned after %.2f ms; loaded after %.2f s (import %.2f s); %d polls, slowest %.2f ms\n",
                std::chrono::duration<double, std::milli>(returned).count(),
                std::chrono::duration<double>(took).count(), done_seconds, polls,
                std::chrono::duration<double, std::milli>(slowest_poll).count());
    CHECK(took >= 3s);
    CHECK(polls > 50);
    CHECK(slowest_poll < 50ms);
    CHECK(passed_through);
    CHECK_EQ(done_status, int(OE_PYPROC_OK));
    CHECK(done_seconds >= 3.0);
    CHECK(loads.loading_path().empty());
    SessionState state = session.state();
    CHECK(state.loaded && !state.faulted);
    CHECK_EQ(state.script_path, script.string());
    CHECK_EQ(run_block(session), 1.0f);
}

TEST_CASE("a newer load supersedes a running one, whichever finishes first; the old script runs meanwhile") {
    ScriptSession session(2);
    session.attach(g_api);
    CHECK_EQ(session.load(write_script("running.py", 0.0, 5.0f).string(), kChannels, 30000.0), int(OE_PYPROC_OK));
    PostedQueue queue;
    ScriptLoads loads(queue.poster());
    std::vector<std::string> adopted;
    auto record = [&](const std::string& name) { return [&adopted, name](int, double) { adopted.push_back(name); }; };

    // The older load is slow and finishes last.
    loads.start(session, g_api, write_script("older_slow.py", 3.0, 1.0f).string(), kChannels, 30000.0,
                record("older_slow"));
    std::this_thread::sleep_for(200ms);
    CHECK_EQ(run_block(session), 5.0f);  // the loaded script keeps running while another one imports
    const fs::path newer = write_script("newer_fast.py", 0.0, 2.0f);
    loads.start(session, g_api, newer.string(), kChannels, 30000.0, record("newer_fast"));
    CHECK_EQ(loads.loading_path(), newer.string());
    const auto before = Clock::now();
    while (adopted.empty() && Clock::now() - before < 10s) {
        queue.run_posted();
        std::this_thread::sleep_for(20ms);
    }
    CHECK_EQ(adopted, std::vector<std::string>{"newer_fast"});
    CHECK_EQ(run_block(session), 2.0f);
    std::this_thread::sleep_for(3500ms);  // the older import has ended by now; its result must be dropped
    queue.run_posted();
    CHECK_EQ(adopted, std::vector<std::string>{"newer_fast"});
    CHECK_EQ(run_block(session), 2.0f);
    CHECK_EQ(session.state().script_path, newer.string());

    // The other order: the superseded load finishes first and has posted before the newer one starts.
    adopted.clear();
    loads.start(session, g_api, write_script("older_fast.py", 0.0, 3.0f).string(), kChannels, 30000.0,
                record("older_fast"));
    std::this_thread::sleep_for(1s);  // imported and posted, not yet run on the owner's thread
    const fs::path newest = write_script("newer_slow.py", 1.0, 4.0f);
    loads.start(session, g_api, newest.string(), kChannels, 30000.0, record("newer_slow"));
    const auto second = Clock::now();
    while (adopted.empty() && Clock::now() - second < 10s) {
        queue.run_posted();
        std::this_thread::sleep_for(20ms);
    }
    CHECK_EQ(adopted, std::vector<std::string>{"newer_slow"});
    CHECK_EQ(run_block(session), 4.0f);
}

TEST_CASE("a reload into a second instance moves the script's stem alias to the new module") {
    // The script reports whether `import <its stem>` gives its own module (the bridge's stem alias).
    const fs::path script = g_work / "stem_alias_probe.py";
    std::ofstream(script)
        << "import sys\n"
        << "class PyProcessor:\n"
        << "    def __init__(self, processor, num_channels, sample_rate):\n"
        << "        pass\n"
        << "    def process(self, data):\n"
        << "        mine = sys.modules.get('stem_alias_probe') is sys.modules[type(self).__module__]\n"
        << "        data[:] = 1.0 if mine else -1.0\n";
    ScriptSession session(5);
    session.attach(g_api);
    CHECK_EQ(session.load(script.string(), kChannels, 30000.0), int(OE_PYPROC_OK));
    CHECK_EQ(run_block(session), 1.0f);
    PostedQueue queue;
    ScriptLoads loads(queue.poster());
    bool adopted = false;
    loads.start(session, g_api, script.string(), kChannels, 30000.0, [&](int, double) { adopted = true; });
    const auto before = Clock::now();
    while (!adopted && Clock::now() - before < 10s) {
        queue.run_posted();
        std::this_thread::sleep_for(20ms);
    }
    CHECK(adopted);
    CHECK_EQ(run_block(session), 1.0f);  // the old instance is gone, the alias names the new module
}

TEST_CASE("adopted during acquisition the script gets start_acquisition; a failed import is adopted with its error") {
    const fs::path script = g_work / "acquiring.py";
    std::ofstream(script) << "class PyProcessor:\n"
                          << "    def __init__(self, processor, num_channels, sample_rate):\n"
                          << "        self.value = 7.0\n"
                          << "    def start_acquisition(self):\n"
                          << "        self.value = 9.0\n"
                          << "    def process(self, data):\n"
                          << "        data[:] = self.value\n";
    ScriptSession session(6);
    session.attach(g_api);
    session.prepare(kSamples);
    CHECK_EQ(session.start_acquisition(), int(OE_PYPROC_NOT_INITIALIZED));  // acquiring, nothing loaded yet
    PostedQueue queue;
    ScriptLoads loads(queue.poster());
    int adopted_status = -100;
    auto wait_adopted = [&] {
        const auto before = Clock::now();
        while (adopted_status == -100 && Clock::now() - before < 10s) {
            queue.run_posted();
            std::this_thread::sleep_for(20ms);
        }
    };
    loads.start(session, g_api, script.string(), kChannels, 30000.0,
                [&](int status, double) { adopted_status = status; });
    wait_adopted();
    CHECK_EQ(adopted_status, int(OE_PYPROC_OK));
    CHECK_EQ(run_block(session), 9.0f);

    const fs::path broken = g_work / "broken_import.py";
    std::ofstream(broken) << "class PyProcessor(:\n";
    adopted_status = -100;
    loads.start(session, g_api, broken.string(), kChannels, 30000.0,
                [&](int status, double) { adopted_status = status; });
    wait_adopted();
    CHECK_EQ(adopted_status, int(OE_PYPROC_LOAD_FAILED));
    SessionState state = session.state();
    CHECK(!state.loaded);
    CHECK_EQ(state.script_path, broken.string());
    CHECK_CONTAINS(state.last_error, "SyntaxError");
    CHECK_EQ(run_block(session), 0.0f);  // blocks pass through
    session.stop_acquisition();
}

TEST_CASE("a cancelled load is never adopted") {
    ScriptSession session(3);
    session.attach(g_api);
    PostedQueue queue;
    ScriptLoads loads(queue.poster());
    bool adopted = false;
    loads.start(session, g_api, write_script("cancelled.py", 0.5, 1.0f).string(), kChannels, 30000.0,
                [&](int, double) { adopted = true; });
    loads.cancel();
    CHECK(!loads.loading());
    CHECK(loads.loading_path().empty());
    std::this_thread::sleep_for(1500ms);
    queue.run_posted();
    CHECK(!adopted);
    CHECK(!session.state().loaded);
}

TEST_CASE("destroying the owner during a load returns at once; the dropped load leaves no module behind") {
    const int modules_before = script_modules_loaded();
    PostedQueue queue;
    auto session = std::make_unique<ScriptSession>(4);
    session->attach(g_api);
    auto loads = std::make_unique<ScriptLoads>(queue.poster());
    bool adopted = false;
    // Busy in Python: the session's destruction needs the GIL, which the import gives up every switch interval.
    loads->start(*session, g_api, write_script("orphan.py", 3.0, 1.0f, true).string(), kChannels, 30000.0,
                 [&](int, double) { adopted = true; });
    std::this_thread::sleep_for(300ms);  // the import is running
    const auto before = Clock::now();
    loads.reset();
    session.reset();
    const auto took = Clock::now() - before;
    std::printf("destroyed during the load in %.2f ms\n", std::chrono::duration<double, std::milli>(took).count());
    CHECK(took < 200ms);
    std::this_thread::sleep_for(3500ms);  // the import ends on its own thread
    CHECK_EQ(queue.run_posted(), 0);      // its result was dropped on the worker: nothing was even posted
    CHECK(!adopted);
    CHECK(modules_before >= 0);
    CHECK_EQ(script_modules_loaded(), modules_before);
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s HOME BRIDGE_DIR WORK_DIR\n", argv[0]);
        return 2;
    }
    g_work = argv[3];
    fs::create_directories(g_work);
    ValidationOptions options;
    options.bridge_dir = argv[2];
    Validation home = validate_home(argv[1], options);
    if (!home.ok) {
        std::fprintf(stderr, "Home rejected: %s\n", home.reason.c_str());
        return 1;
    }
    std::string error;
    g_api = Runtime::instance().start(home, argv[2], error);
    if (g_api == nullptr) {
        std::fprintf(stderr, "Python did not start: %s\n", error.c_str());
        return 1;
    }
    return adapter_check::run_all();
}
