// Unit tests of the adapter's JUCE-free logic: Home decision and one-interpreter rule, stream selection,
// output event placement, block timing, config messages, status text.
#include "adapter_check.h"
#include "oe_pyproc_adapter_logic.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

using namespace oe_pyproc;
using namespace oe_pyproc::adapter;
namespace fs = std::filesystem;

namespace {

// A validator that accepts the folders listed and explains the others, counting its calls.
struct ScriptedValidator {
    std::map<std::string, std::string> valid;  // path -> version
    int calls = 0;
    HomeValidator fn() {
        return [this](const std::string& path) {
            ++calls;
            Validation v;
            auto it = valid.find(path);
            if (it == valid.end()) {
                v.reason = "no lib/python3.X under " + path;
            } else {
                v.ok = true;
                v.info.path = path;
                v.info.version = it->second;
            }
            return v;
        };
    }
};

fs::path make_temp_dir(const std::string& tag) {
    std::string pattern = (fs::temp_directory_path() / ("oe-pyproc-adapter-" + tag + "-XXXXXX")).string();
    char* made = mkdtemp(pattern.data());
    return made != nullptr ? fs::path(made) : fs::path();
}

void write_file(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("first valid candidate wins, skipped ones are logged with their reason") {
    ScriptedValidator validator;
    validator.valid["/homes/good"] = "3.10";
    std::vector<HomeCandidate> candidates = {{"", HomeOrigin::Chain},
                                             {"/homes/broken", HomeOrigin::DefaultHomeFile},
                                             {"/homes/good", HomeOrigin::InstallManifest}};
    HomeDecision d = decide_home("", candidates, /*headless=*/true, validator.fn());
    CHECK(d.action == HomeAction::Start);
    CHECK(d.origin == HomeOrigin::InstallManifest);
    CHECK(d.validation.has_value() && d.validation->info.path == "/homes/good");
    CHECK_EQ(d.log.size(), size_t(3));
    CHECK_CONTAINS(d.log[0], "not set");
    CHECK_CONTAINS(d.log[1], "/homes/broken");
    CHECK_CONTAINS(d.log[1], "no lib/python3.X");
    CHECK_CONTAINS(d.log[2], "using /homes/good");
    CHECK_EQ(validator.calls, 2);
}

TEST_CASE("every candidate gets a step: unset, skipped with its reason, accepted, not needed after it") {
    ScriptedValidator validator;
    validator.valid["/homes/manifest"] = "3.12";
    HomeDecision d = decide_home("",
                                 {{"", HomeOrigin::Chain},
                                  {"/homes/broken", HomeOrigin::DefaultHomeFile},
                                  {"/homes/manifest", HomeOrigin::InstallManifest},
                                  {"/homes/host", HomeOrigin::HostPrefix}},
                                 true, validator.fn());
    CHECK(d.action == HomeAction::Start);
    CHECK_EQ(d.steps.size(), size_t(4));
    CHECK_EQ(d.steps[0].reason, std::string("not set"));
    CHECK(!d.steps[1].accepted);
    CHECK_CONTAINS(d.steps[1].reason, "no lib/python3.X under /homes/broken");
    CHECK(d.steps[2].accepted && d.steps[2].reason.empty());
    CHECK(!d.steps[3].accepted);
    CHECK_CONTAINS(d.steps[3].reason, "not needed");
    CHECK_EQ(validator.calls, 2);
    CHECK_EQ(std::string(to_string(HomeOrigin::HostPrefix)), std::string("host_prefix"));
    HomeDecision none = decide_home("", {{"", HomeOrigin::Chain}, {"", HomeOrigin::HostPrefix}}, true, validator.fn());
    CHECK_CONTAINS(none.message, "(chain python_home, the host's own environment)");
}

TEST_CASE("the chain's Home comes first even when the default file is valid too") {
    ScriptedValidator validator;
    validator.valid["/homes/a"] = "3.10";
    validator.valid["/homes/b"] = "3.12";
    HomeDecision d = decide_home("", {{"/homes/b", HomeOrigin::Chain}, {"/homes/a", HomeOrigin::DefaultHomeFile}}, true,
                                 validator.fn());
    CHECK(d.action == HomeAction::Start);
    CHECK(d.origin == HomeOrigin::Chain);
    CHECK_EQ(validator.calls, 1);
}

TEST_CASE("no valid Home: chooser only when the GUI is interactive") {
    ScriptedValidator validator;
    std::vector<HomeCandidate> candidates = {{"/nope", HomeOrigin::Chain}, {"", HomeOrigin::DefaultHomeFile}};
    HomeDecision headless = decide_home("", candidates, true, validator.fn());
    CHECK(headless.action == HomeAction::NoHome);
    CHECK_CONTAINS(headless.message, "oe-pyproc configure");
    CHECK_CONTAINS(headless.message, "(no lib/python3.X under /nope)");
    HomeDecision interactive = decide_home("", candidates, false, validator.fn());
    CHECK(interactive.action == HomeAction::AskChooser);
}

TEST_CASE("one interpreter: the running Home is reused, a different chain Home is refused, nothing validated") {
    ScriptedValidator validator;
    fs::path dir = make_temp_dir("running");
    fs::create_directories(dir / "env");
    fs::create_directory_symlink(dir / "env", dir / "link");
    const std::string running = (dir / "env").string();

    HomeDecision same = decide_home(running, {{running + "/", HomeOrigin::Chain}}, true, validator.fn());
    CHECK(same.action == HomeAction::UseRunning);
    HomeDecision via_link = decide_home(running, {{(dir / "link").string(), HomeOrigin::Chain}}, true, validator.fn());
    CHECK(via_link.action == HomeAction::UseRunning);
    HomeDecision unset =
        decide_home(running, {{"", HomeOrigin::Chain}, {"/other", HomeOrigin::DefaultHomeFile}}, true, validator.fn());
    CHECK(unset.action == HomeAction::UseRunning);

    HomeDecision other = decide_home(running, {{"/homes/other", HomeOrigin::Chain}}, false, validator.fn());
    CHECK(other.action == HomeAction::Refuse);
    CHECK_CONTAINS(other.message, "restart the GUI to switch Home");
    CHECK_CONTAINS(other.message, running);
    CHECK_CONTAINS(other.message, "/homes/other");
    CHECK_EQ(validator.calls, 0);
    fs::remove_all(dir);
}

TEST_CASE("same_folder compares spellings, not strings") {
    CHECK(same_folder("/usr/lib/../lib", "/usr/lib/"));
    CHECK(!same_folder("/usr/lib", "/usr/share"));
    CHECK(!same_folder("", "/usr"));
    CHECK(same_folder("", ""));
}

TEST_CASE("candidates come from the chain, the default Home file and the install manifest") {
    fs::path root = make_temp_dir("root");
    write_file(root / "configs-api10" / "oe-pyproc.json",
               R"({"schema": 1, "python_home": "/envs/from-default", "written_by": "test", "written_at": "now"})");
    write_file(root / "plugins-api10" / "oe-pyproc-manifest.json",
               R"({"schema": 1, "source_prefix": "/envs/from-manifest", "files": [], "moved_aside": []})");
    std::vector<std::string> log;
    auto candidates = gather_home_candidates("/envs/from-chain", root.string(), 10, log);
    CHECK_EQ(candidates.size(), size_t(3));
    CHECK(candidates[0].origin == HomeOrigin::Chain && candidates[0].path == "/envs/from-chain");
    CHECK(candidates[1].origin == HomeOrigin::DefaultHomeFile && candidates[1].path == "/envs/from-default");
    CHECK(candidates[2].origin == HomeOrigin::InstallManifest && candidates[2].path == "/envs/from-manifest");
    CHECK(log.empty());

    // A malformed default file is reported, not used; the API number selects the folders.
    write_file(root / "configs-api10" / "oe-pyproc.json", "{not json");
    log.clear();
    candidates = gather_home_candidates("", root.string(), 10, log);
    CHECK(candidates[1].path.empty());
    CHECK_EQ(log.size(), size_t(1));
    CHECK_CONTAINS(log.empty() ? "" : log[0], "default Home file");
    log.clear();
    candidates = gather_home_candidates("", root.string(), 8, log);
    CHECK(candidates[1].path.empty() && candidates[2].path.empty());
    fs::remove_all(root);
}

TEST_CASE("a folder that is not a Python Home is skipped by the real validator") {
    fs::path dir = make_temp_dir("nothome");
    ValidationOptions options;
    options.bridge_dir = dir.string();
    HomeDecision d = decide_home("", {{dir.string(), HomeOrigin::Chain}}, true,
                                 [&](const std::string& path) { return validate_home(path, options); });
    CHECK(d.action == HomeAction::NoHome);
    CHECK_EQ(d.log.size(), size_t(2));
    CHECK_CONTAINS(d.log[0], "skipped " + dir.string());
    fs::remove_all(dir);
}

TEST_CASE("stream selection by index, falling back to the first stream") {
    std::vector<StreamInfo> streams = {{101, "100,example_data", 16, 40000.0}, {102, "100,aux", 3, 2000.0}};
    CHECK(!choose_stream({}, 0).valid);
    StreamChoice second = choose_stream(streams, 1);
    CHECK(second.valid && second.index == 1 && second.stream.id == 102);
    CHECK_EQ(choose_stream(streams, 7).stream.id, uint16_t(101));
    CHECK_EQ(choose_stream(streams, -1).index, 0);

    StreamChoice first = choose_stream(streams, 0);
    CHECK(stream_change(first, first) == StreamChange::None);
    CHECK(stream_change(first, second) == StreamChange::Reinit);
    std::vector<StreamInfo> more_channels = streams;
    more_channels[0].num_channels = 32;
    CHECK(stream_change(first, choose_stream(more_channels, 0)) == StreamChange::Reinit);
    CHECK(stream_change(first, StreamChoice{}) == StreamChange::Reinit);
    CHECK(stream_change(StreamChoice{}, StreamChoice{}) == StreamChange::None);
}

TEST_CASE("only events of the selected stream reach the script") {
    StreamChoice selected = choose_stream({{101, "a", 16, 30000.0}, {102, "b", 8, 30000.0}}, 1);
    CHECK(forward_event_to_script(102, selected));
    CHECK(!forward_event_to_script(101, selected));
    CHECK(!forward_event_to_script(102, StreamChoice{}));
}

TEST_CASE("output events are placed sample-accurately and clamped into the block") {
    oe_pyproc_event_out events[] = {{3, 1, 500},  {1, 1, 0},   {2, 0, 696}, {4, 1, -5},
                                    {256, 1, 10}, {-1, 0, 10}, {5, 0, 500}};
    int dropped = -1;
    OutputTtl placed[7];
    int count = place_output_events(events, 7, 1000, 696, placed, dropped);
    CHECK_EQ(dropped, 2);
    CHECK_EQ(count, 5);
    if (count == 5) {
        // Sorted by position; equal positions keep emission order.
        CHECK(placed[0].line == 1 && placed[0].sample_in_block == 0 && placed[0].sample_number == 1000);
        CHECK(placed[1].line == 4 && placed[1].sample_in_block == 0);
        CHECK(placed[2].line == 3 && placed[2].sample_in_block == 500 && placed[2].sample_number == 1500);
        CHECK(placed[3].line == 5 && placed[3].sample_in_block == 500 && !placed[3].state);
        CHECK(placed[4].line == 2 && placed[4].sample_in_block == 695 && placed[4].sample_number == 1695);
    }
    CHECK_EQ(place_output_events(events, 7, 0, 0, placed, dropped), 0);
    oe_pyproc_event_out top_line[] = {{255, 1, 1}};
    CHECK_EQ(place_output_events(top_line, 1, 0, 10, placed, dropped), 1);
}

TEST_CASE("block timer: last, running mean, max and the budget of the block") {
    BlockTimer timer;
    CHECK_EQ(timer.snapshot().blocks, uint64_t(0));
    timer.record(100000, 697, 30000.0);  // 100 us
    timer.record(300000, 697, 30000.0);  // 300 us
    TimingSnapshot s = timer.snapshot();
    CHECK_EQ(s.blocks, uint64_t(2));
    CHECK(s.last_us == 300.0);
    CHECK(s.mean_us > 199.99 && s.mean_us < 200.01);
    CHECK(s.max_us == 300.0);
    CHECK(s.budget_us > 23233.3 && s.budget_us < 23233.4);
    CHECK(s.load > 0.0086 && s.load < 0.0087);
    for (int i = 0; i < 1000; ++i) {
        timer.record(50000, 697, 30000.0);
    }
    s = timer.snapshot();
    CHECK(s.mean_us > 49.99 && s.mean_us < 50.01);  // the moving window forgets the start
    CHECK(s.max_us == 300.0);
    timer.reset();
    CHECK_EQ(timer.snapshot().blocks, uint64_t(0));
    CHECK(timer.snapshot().max_us == 0.0);
}

TEST_CASE("config messages") {
    CHECK(parse_config_message("reload").kind == ConfigCommand::Kind::Reload);
    CHECK(parse_config_message("  RELOAD \n").kind == ConfigCommand::Kind::Reload);
    CHECK(parse_config_message("status").kind == ConfigCommand::Kind::Status);
    CHECK(parse_config_message("last_error").kind == ConfigCommand::Kind::LastError);
    ConfigCommand policy = parse_config_message("policy Continue");
    CHECK(policy.kind == ConfigCommand::Kind::SetPolicy && policy.policy == ErrorPolicy::Continue);
    CHECK(parse_config_message("policy bypass").policy == ErrorPolicy::Bypass);
    ConfigCommand bad_policy = parse_config_message("policy ignore");
    CHECK(bad_policy.kind == ConfigCommand::Kind::Unknown);
    CHECK_CONTAINS(bad_policy.problem, "bypass or continue");
    ConfigCommand unknown = parse_config_message("restart");
    CHECK(unknown.kind == ConfigCommand::Kind::Unknown);
    CHECK_CONTAINS(unknown.problem, "accepted: reload");
    CHECK(parse_config_message("reload now").kind == ConfigCommand::Kind::Unknown);
    ConfigCommand watchdog = parse_config_message("watchdog 2.5");
    CHECK(watchdog.kind == ConfigCommand::Kind::SetWatchdog && watchdog.seconds == 2.5);
    ConfigCommand load_watchdog = parse_config_message("LOAD_WATCHDOG 0");
    CHECK(load_watchdog.kind == ConfigCommand::Kind::SetLoadWatchdog && load_watchdog.seconds == 0.0);
    CHECK(parse_config_message("watchdog default").seconds < 0);
    for (const char* bad : {"watchdog -1", "watchdog nan", "watchdog 1e9", "watchdog 2s", "watchdog"}) {
        CHECK(parse_config_message(bad).kind == ConfigCommand::Kind::Unknown);
    }
    CHECK_CONTAINS(parse_config_message("watchdog soon").problem, "0..86400");
    CHECK(parse_config_message("").kind == ConfigCommand::Kind::Unknown);
    CHECK(!policy_from_string("").has_value());
    CHECK_EQ(std::string(to_string(ErrorPolicy::Continue)), std::string("continue"));
}

TEST_CASE("status text: Home, module, error summary with the traceback kept, timing against budget") {
    const std::string traceback =
        "Traceback (most recent call last):\n  File \"/s/bad.py\", line 9, in process\n    1 / 0\n"
        "ZeroDivisionError: division by zero\n\n";
    CHECK_EQ(error_summary(traceback), std::string("ZeroDivisionError: division by zero"));
    CHECK_EQ(error_summary(""), std::string());

    StatusInfo status;
    status.home = "/envs/oe-python-plugin";
    status.python_version = "3.10.13";
    status.script_path = "/scripts/bad.py";
    status.loaded = true;
    status.faulted = true;
    status.last_error = traceback;
    status.timing.blocks = 10;
    status.timing.mean_us = 1500.0;
    status.timing.max_us = 2500.0;
    status.timing.budget_us = 23233.3;
    status.timing.load = 1500.0 / 23233.3;
    auto lines = status_lines(status);
    CHECK_EQ(lines.size(), size_t(4));
    if (lines.size() == 4) {
        CHECK_CONTAINS(lines[0], "/envs/oe-python-plugin (Python 3.10.13)");
        CHECK_CONTAINS(lines[1], "bad.py");
        CHECK_CONTAINS(lines[1], "FAULTED");
        CHECK_CONTAINS(lines[2], "ZeroDivisionError");
        CHECK_CONTAINS(lines[3], "1.50 ms mean");
        CHECK_CONTAINS(lines[3], "23.23 ms budget (6%)");
    }
    std::string json = status_json(status);
    CHECK_CONTAINS(json, "\"schema\": 1");
    CHECK_CONTAINS(json, "\"faulted\": true");
    CHECK_CONTAINS(json, "line 9, in process\\n    1 / 0\\n");
    CHECK_CONTAINS(json, "File \\\"/s/bad.py\\\"");

    StatusInfo empty;
    empty.home_problem = "no valid Python Home";
    lines = status_lines(empty);
    CHECK_EQ(lines.size(), size_t(2));
    CHECK_CONTAINS(lines[0], "none - no valid Python Home");
    CHECK_CONTAINS(lines[1], "Script: none");
}

TEST_CASE("this_module_directory names the folder of the binary holding the code") {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    CHECK(!ec);
    CHECK(same_folder(this_module_directory(), exe.parent_path().string()));
}

int main() {
    return adapter_check::run_all();
}
