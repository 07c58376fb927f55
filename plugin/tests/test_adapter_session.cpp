// The adapter's ScriptSession on a real bridge and a real Home: what the PythonProcessor does per block,
// without the GUI. A JUCE-like buffer (rows spaced by the callback size), events before process,
// sample-accurate output events, a busy session passing blocks through, a faulted script recovered by a
// reload, two sessions side by side, and the one-interpreter rule against a second Home.
//   test_adapter_session <home> <bridge_dir> <work_dir> [<other_home>]
#include "adapter_check.h"
#include "oe_pyproc_adapter_logic.h"
#include "oe_pyproc_script_session.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

using namespace oe_pyproc;
using namespace oe_pyproc::adapter;
namespace fs = std::filesystem;

namespace {

std::string g_home, g_bridge_dir, g_other_home;
fs::path g_work;
const oe_pyproc_bridge_api* g_api = nullptr;

constexpr int kChannels = 4;
constexpr int kCallback = 1024;  // row spacing, as JUCE's callback size
constexpr int kSamples = 697;    // one 30 kHz block at 44.1 kHz callbacks

struct Buffer {
    std::vector<float> storage = std::vector<float>(kChannels * kCallback);
    std::vector<float*> rows;
    Buffer() {
        for (int c = 0; c < kChannels; ++c) {
            rows.push_back(storage.data() + c * kCallback);
        }
        fill(0);
    }
    void fill(int64_t first) {
        for (int c = 0; c < kChannels; ++c) {
            for (int s = 0; s < kSamples; ++s) {
                rows[c][s] = static_cast<float>(c * 1000 + (first + s) % 500);
            }
        }
    }
    oe_pyproc_block block(int64_t first) { return {rows.data(), kChannels, kSamples, kCallback, first}; }
    float expected(int c, int s, int64_t first) const { return static_cast<float>(c * 1000 + (first + s) % 500); }
};

fs::path write_script(const std::string& name, const std::string& text) {
    fs::path path = g_work / name;
    std::ofstream(path) << text;
    return path;
}

const char* kGainScript =
    "class PyProcessor:\n"
    "    def __init__(self, processor, num_channels, sample_rate):\n"
    "        self.processor = processor\n"
    "        self.num_channels = num_channels\n"
    "        self.ttl = []\n"
    "    def handle_ttl_event(self, source_node, channel, sample_number, line, state):\n"
    "        self.ttl.append((source_node, channel, sample_number, line, state))\n"
    "    def process(self, data):\n"
    "        assert data.shape[0] == self.num_channels\n"
    "        data *= 2.0\n"
    "        for (_, _, sample_number, line, state) in self.ttl:\n"
    "            self.processor.add_python_event(line + 10, state, 5)\n"
    "        self.ttl.clear()\n"
    "        self.processor.add_python_event(1, True, data.shape[1] - 1)\n";

const char* kFailSecondBlock =
    "class PyProcessor:\n"
    "    def __init__(self, processor, num_channels, sample_rate):\n"
    "        self.calls = 0\n"
    "    def process(self, data):\n"
    "        self.calls += 1\n"
    "        if self.calls == 2:\n"
    "            raise RuntimeError('second block went wrong')\n"
    "        data += 1.0\n";

}  // namespace

TEST_CASE("a script doubles the selected channels in place and answers events sample-accurately") {
    ScriptSession session(1);
    session.attach(g_api);
    CHECK_EQ(session.load(write_script("gain.py", kGainScript).string(), kChannels, 30000.0), int(OE_PYPROC_OK));
    CHECK_EQ(session.prepare(kCallback), int(OE_PYPROC_OK));
    CHECK_EQ(session.start_acquisition(), int(OE_PYPROC_OK));

    Buffer buffer;
    const int64_t first = 69700;
    buffer.fill(first);
    {
        ScriptSession::Block block(session);
        CHECK(block.active());
        oe_pyproc_ttl_event ttl{100, "TTL Input", first + 3, 2, 1};
        block.ttl_event(ttl);
        oe_pyproc_block data = buffer.block(first);
        CHECK_EQ(block.process(data, 30000.0), int(OE_PYPROC_OK));
        oe_pyproc_event_out drained[16];
        int count = block.drain(drained, 16);
        OutputTtl placed[16];
        int dropped = 0;
        int n = place_output_events(drained, count, first, kSamples, placed, dropped);
        CHECK_EQ(n, 2);
        CHECK_EQ(dropped, 0);
        if (n == 2) {
            CHECK(placed[0].line == 12 && placed[0].state && placed[0].sample_in_block == 5);
            CHECK_EQ(placed[0].sample_number, first + 5);
            CHECK(placed[1].line == 1 && placed[1].sample_in_block == kSamples - 1);  // the last sample
        }
    }
    bool doubled = true;
    for (int c = 0; c < kChannels; ++c) {
        for (int s = 0; s < kSamples; ++s) {
            doubled = doubled && buffer.rows[c][s] == 2.0f * buffer.expected(c, s, first);
        }
        // Samples beyond the block (the rest of the callback row) are not the script's.
        doubled = doubled && buffer.rows[c][kSamples] == 0.0f;
    }
    CHECK(doubled);
    TimingSnapshot timing = session.timer().snapshot();
    CHECK_EQ(timing.blocks, uint64_t(1));
    CHECK(timing.budget_us > 23233.0 && timing.budget_us < 23234.0);
    CHECK(timing.last_us > 0.0);
    SessionState state = session.state();
    CHECK(state.loaded && !state.faulted);
    if (!state.last_error.empty()) {
        adapter_check::fail(__FILE__, __LINE__, "unexpected error: " + state.last_error);
    }
    CHECK_EQ(session.stop_acquisition(), int(OE_PYPROC_OK));
    {  // an event queued by a last block and never drained: unloading reports it as dropped
        ScriptSession::Block block(session);
        oe_pyproc_block data = buffer.block(first);
        CHECK_EQ(block.process(data, 30000.0), int(OE_PYPROC_OK));
    }
    CHECK_EQ(session.unload(), uint64_t(1));
}

TEST_CASE("the watchdog stops an endless loop in process; the session goes on bypassing the script") {
    const char* endless =
        "class PyProcessor:\n"
        "    def __init__(self, processor, num_channels, sample_rate):\n"
        "        pass\n"
        "    def process(self, data):\n"
        "        while True:\n"
        "            pass\n";
    ScriptSession session(7);
    session.attach(g_api);
    session.set_watchdog(0.2, 5.0);
    CHECK_EQ(session.load(write_script("endless.py", endless).string(), kChannels, 30000.0), int(OE_PYPROC_OK));
    CHECK_EQ(session.prepare(kCallback), int(OE_PYPROC_OK));
    Buffer buffer;
    buffer.fill(0);
    const auto started = std::chrono::steady_clock::now();
    {
        ScriptSession::Block block(session);
        oe_pyproc_block data = buffer.block(0);
        CHECK_EQ(block.process(data, 30000.0), int(OE_PYPROC_SCRIPT_ERROR));
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    CHECK(seconds >= 0.2 && seconds < 1.0);
    SessionState state = session.state();
    CHECK(state.faulted);
    CHECK_CONTAINS(state.last_error, "WatchdogTimeout");
    CHECK_CONTAINS(state.last_error, "process() ran for");
    CHECK_CONTAINS(state.last_error, "over the watchdog limit of 0.2 s");
    {
        ScriptSession::Block block(session);
        oe_pyproc_block data = buffer.block(0);
        CHECK_EQ(block.process(data, 30000.0), int(OE_PYPROC_BYPASSED));
    }
    bool untouched = true;
    for (int c = 0; c < kChannels; ++c) {
        for (int s = 0; s < kSamples; ++s) {
            untouched = untouched && buffer.rows[c][s] == buffer.expected(c, s, 0);
        }
    }
    CHECK(untouched);
}

TEST_CASE("a block arriving while the session is busy passes through unchanged") {
    ScriptSession session(2);
    session.attach(g_api);
    CHECK_EQ(session.load(write_script("gain_busy.py", kGainScript).string(), kChannels, 30000.0), int(OE_PYPROC_OK));
    Buffer buffer;
    bool other_active = true;
    {
        ScriptSession::Block holder(session);  // as if a reload held the session
        CHECK(holder.active());
        std::thread audio([&] {
            ScriptSession::Block block(session);
            other_active = block.active();
            oe_pyproc_block data = buffer.block(0);
            CHECK_EQ(block.process(data, 30000.0), int(OE_PYPROC_BYPASSED));
        });
        audio.join();
    }
    CHECK(!other_active);
    CHECK_EQ(session.blocks_skipped_busy(), uint64_t(1));
    CHECK(buffer.rows[1][10] == buffer.expected(1, 10, 0));
}

TEST_CASE("a script that raises is bypassed with its traceback, and a reload recovers it") {
    ScriptSession session(3);
    session.attach(g_api);
    CHECK_EQ(session.load(write_script("fail_second.py", kFailSecondBlock).string(), kChannels, 30000.0),
             int(OE_PYPROC_OK));
    Buffer buffer;
    int statuses[3];
    for (int i = 0; i < 3; ++i) {
        buffer.fill(i * kSamples);
        ScriptSession::Block block(session);
        oe_pyproc_block data = buffer.block(i * kSamples);
        statuses[i] = block.process(data, 30000.0);
        if (i == 2) {
            // Faulted: the third block is the input, untouched.
            CHECK(buffer.rows[0][0] == buffer.expected(0, 0, i * kSamples));
        }
    }
    CHECK_EQ(statuses[0], int(OE_PYPROC_OK));
    CHECK_EQ(statuses[1], int(OE_PYPROC_SCRIPT_ERROR));
    CHECK_EQ(statuses[2], int(OE_PYPROC_BYPASSED));
    SessionState state = session.state();
    CHECK(state.faulted);
    CHECK_CONTAINS(state.last_error, "Traceback");
    CHECK_CONTAINS(state.last_error, "RuntimeError: second block went wrong");
    CHECK_EQ(error_summary(state.last_error), std::string("RuntimeError: second block went wrong"));

    CHECK_EQ(session.reload(), int(OE_PYPROC_OK));
    state = session.state();
    CHECK(!state.faulted);
    buffer.fill(0);
    {
        ScriptSession::Block block(session);
        oe_pyproc_block data = buffer.block(0);
        CHECK_EQ(block.process(data, 30000.0), int(OE_PYPROC_OK));
    }
    CHECK(buffer.rows[2][7] == buffer.expected(2, 7, 0) + 1.0f);

    // Policy "continue": the failing call is reported, the next block reaches the script again.
    session.set_policy(ErrorPolicy::Continue);
    CHECK_EQ(session.reload(), int(OE_PYPROC_OK));
    int continued[3];
    for (int i = 0; i < 3; ++i) {
        ScriptSession::Block block(session);
        oe_pyproc_block data = buffer.block(0);
        continued[i] = block.process(data, 30000.0);
    }
    CHECK_EQ(continued[1], int(OE_PYPROC_SCRIPT_ERROR));
    CHECK_EQ(continued[2], int(OE_PYPROC_OK));
    CHECK(!session.state().faulted);
}

TEST_CASE("a script that cannot load leaves the session unloaded with a clear error; unload empties it") {
    ScriptSession session(4);
    session.attach(g_api);
    fs::path broken = write_script("broken.py", "class PyProcessor(:\n");
    CHECK_EQ(session.load(broken.string(), kChannels, 30000.0), int(OE_PYPROC_LOAD_FAILED));
    SessionState state = session.state();
    CHECK(!state.loaded);
    CHECK_CONTAINS(state.last_error, "SyntaxError");
    ScriptSession::Block block(session);
    CHECK(!block.active());
}

TEST_CASE("two sessions with the same script keep separate state") {
    ScriptSession a(5), b(6);
    a.attach(g_api);
    b.attach(g_api);
    fs::path script = write_script("fail_second_shared.py", kFailSecondBlock);
    CHECK_EQ(a.load(script.string(), kChannels, 30000.0), int(OE_PYPROC_OK));
    CHECK_EQ(b.load(script.string(), 2, 1000.0), int(OE_PYPROC_OK));
    Buffer buffer;
    for (int i = 0; i < 2; ++i) {
        ScriptSession::Block block(a);
        oe_pyproc_block data = buffer.block(0);
        block.process(data, 30000.0);
    }
    CHECK(a.state().faulted);
    CHECK(!b.state().faulted);
    {
        ScriptSession::Block block(b);
        oe_pyproc_block data = buffer.block(0);
        data.num_channels = 2;
        CHECK_EQ(block.process(data, 1000.0), int(OE_PYPROC_OK));
    }
    b.unload();
    CHECK(!b.state().loaded);
    ScriptSession::Block after_unload(b);
    CHECK(!after_unload.active());
}

TEST_CASE("one interpreter: another Home is refused once Python runs") {
    const std::string running = Runtime::instance().home();
    CHECK(!running.empty());
    HomeDecision same = decide_home(running, {{g_home, HomeOrigin::Chain}}, true, nullptr);
    CHECK(same.action == HomeAction::UseRunning);
    if (!g_other_home.empty()) {
        HomeDecision other = decide_home(running, {{g_other_home, HomeOrigin::Chain}}, true, nullptr);
        CHECK(other.action == HomeAction::Refuse);
        CHECK_CONTAINS(other.message, "restart the GUI to switch Home");
    }
}

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: %s HOME BRIDGE_DIR WORK_DIR [OTHER_HOME]\n", argv[0]);
        return 2;
    }
    g_home = argv[1];
    g_bridge_dir = argv[2];
    g_work = argv[3];
    g_other_home = argc > 4 ? argv[4] : "";
    fs::create_directories(g_work);

    ValidationOptions options;
    options.bridge_dir = g_bridge_dir;
    Validation home = validate_home(g_home, options);
    if (!home.ok) {
        std::fprintf(stderr, "Home rejected: %s\n", home.reason.c_str());
        return 1;
    }
    std::string error;
    g_api = Runtime::instance().start(home, g_bridge_dir, error);
    if (g_api == nullptr) {
        std::fprintf(stderr, "Python did not start: %s\n", error.c_str());
        return 1;
    }
    return adapter_check::run_all();
}
