// A Home whose interpreter takes seconds to start (bin/python3 is a wrapper sleeping before it runs the real
// one), validated by the real loader through BackgroundChecks: starting the check returns at once, the
// caller's thread stays free while the probe runs, and the check's result is the valid Home.
// Arguments: <prefix of a real Home with numpy (a venv)> <folder with the bridges> <work folder>
#include "adapter_check.h"
#include "oe_pyproc_background_check.h"
#include "oe_pyproc_loader.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

using namespace oe_pyproc;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {
std::string g_prefix, g_bridges, g_work;

// A venv beside the real one: the same pyvenv.cfg and lib/, but bin/python3 sleeps `seconds` first.
std::string makeSlowHome(int seconds) {
    const fs::path home = fs::path(g_work) / "slow-home";
    fs::remove_all(home);
    fs::create_directories(home / "bin");
    fs::copy_file(fs::path(g_prefix) / "pyvenv.cfg", home / "pyvenv.cfg");
    fs::create_directory_symlink(fs::canonical(fs::path(g_prefix) / "lib"), home / "lib");
    // The venv's own bin/python3, not the interpreter it links to: run through the venv's path, Python
    // finds the venv's pyvenv.cfg and so its site-packages (numpy); the base interpreter would not.
    const fs::path real = fs::absolute(fs::path(g_prefix) / "bin" / "python3");
    {
        std::ofstream wrapper(home / "bin" / "python3");
        wrapper << "#!/bin/sh\nsleep " << seconds << "\nexec '" << real.string() << "' \"$@\"\n";
    }
    fs::permissions(home / "bin" / "python3", fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
    return home.string();
}
}  // namespace

TEST_CASE("a Home whose probe takes 3 s is validated off the caller's thread and then used") {
    const std::string home = makeSlowHome(3);
    ValidationOptions options;
    options.bridge_dir = g_bridges;

    std::mutex mutex;
    std::vector<std::function<void()>> posted;
    adapter::BackgroundChecks checks([&](std::function<void()> call) {
        std::lock_guard<std::mutex> lock(mutex);
        posted.push_back(std::move(call));
    });
    Validation result;
    const auto before = std::chrono::steady_clock::now();
    checks.start([home, options, &result]() -> adapter::BackgroundChecks::Apply {
        Validation validation = validate_home(home, options);
        return [validation, &result] { result = validation; };
    });
    const auto returned = std::chrono::steady_clock::now() - before;
    CHECK(returned < 100ms);
    // The caller's thread keeps answering while the probe runs: poll as the GUI's timer would.
    int polls = 0;
    while (checks.checking() && std::chrono::steady_clock::now() - before < 30s) {
        std::this_thread::sleep_for(50ms);
        ++polls;
        std::lock_guard<std::mutex> lock(mutex);
        for (auto& call : posted) {
            call();
        }
        posted.clear();
    }
    const auto took = std::chrono::steady_clock::now() - before;
    std::printf("start returned after %.1f ms; the check took %.2f s; %d polls answered meanwhile\n",
                std::chrono::duration<double, std::milli>(returned).count(),
                std::chrono::duration<double>(took).count(), polls);
    CHECK(took >= 3s);
    CHECK(polls > 40);
    CHECK(result.ok);
    if (!result.ok) {
        std::fprintf(stderr, "validation: %s\n", result.reason.c_str());
    }
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s <home prefix> <bridge folder> <work folder>\n", argv[0]);
        return 2;
    }
    g_prefix = argv[1];
    g_bridges = argv[2];
    g_work = argv[3];
    fs::create_directories(g_work);
    return adapter_check::run_all();
}
