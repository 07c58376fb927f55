// Measures the bridge for benchmarks/native/bench.py (which prints the tables): per-call costs of the
// view and staging paths with a no-op script and with `data *= 0.5`, the floors measured in the same run
// (C++ memcpy of the rows in and out, interleaved with the staging path's blocks on the same buffer, both
// warm; the same multiply in C++; an uncontended mutex), copy-on-keep (a script keeping a row of every
// block against one keeping `data.copy()`, with malloc calls counted), and the upstream-style baseline
// (oe_pyproc_upstream_* from the per-Python baseline module). Prints one JSON object.
//   oe_pyproc_bench HOME BRIDGE_DIR WORK_DIR ITERATIONS CHANNELS[,CHANNELS...]
#include "oe_pyproc_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" void* __libc_malloc(size_t size);

namespace {
std::atomic<bool> counting{false};
std::atomic<long> malloc_calls{0};
}  // namespace

// Counts malloc calls by anyone (Python, numpy, the bridge) while `counting` is set; the executable exports
// it (ENABLE_EXPORTS) so the dlopen()ed libraries bind to it.
extern "C" void* malloc(size_t size) {
    if (counting.load(std::memory_order_relaxed)) {
        malloc_calls.fetch_add(1, std::memory_order_relaxed);
    }
    return __libc_malloc(size);
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kSamples = 697;
constexpr int kCallback = 1024;

struct Stats {
    double median = 0, p99 = 0;
};

Stats stats(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    Stats result;
    if (!values.empty()) {
        result.median = values[values.size() / 2];
        result.p99 = values[std::min(values.size() - 1, values.size() * 99 / 100)];
    }
    return result;
}

double now_ns() {
    return std::chrono::duration<double, std::nano>(Clock::now().time_since_epoch()).count();
}

struct Buffer {
    Buffer(int channels, int stride) : storage(static_cast<size_t>(channels) * stride, 1.0f), rows(channels) {
        for (int c = 0; c < channels; ++c) {
            rows[static_cast<size_t>(c)] = storage.data() + static_cast<size_t>(c) * stride;
        }
    }
    std::vector<float> storage;
    std::vector<float*> rows;
};

struct PathTimes {
    std::vector<double> total, overhead, script, gil_wait;
    std::vector<double> memcpy_floor;  // when asked: the rows copied in and out by C++, after each block
    double mallocs_per_block = 0;
};

// Blocks after a load that always take the staging path (copy-on-keep's probation, bridge block_array.h),
// and then some: the warm-up before any measurement.
constexpr int kWarmupBlocks = 100;

// The floor of the staging path: the same rows copied into a contiguous buffer and back.
void copy_in_out(const Buffer& buffer, std::vector<float>& staging, int channels) {
    for (int c = 0; c < channels; ++c) {
        std::memcpy(staging.data() + static_cast<size_t>(c) * kSamples, buffer.rows[static_cast<size_t>(c)],
                    kSamples * sizeof(float));
    }
    for (int c = 0; c < channels; ++c) {
        std::memcpy(buffer.rows[static_cast<size_t>(c)], staging.data() + static_cast<size_t>(c) * kSamples,
                    kSamples * sizeof(float));
    }
}

// `with_floor`: after each block, the C++ floor copies the same rows into its own contiguous buffer and back,
// so the floor is measured warm, on the same buffer, in the same moments of a shared machine as the path.
PathTimes run_bridge(const oe_pyproc_bridge_api& api, oe_pyproc_instance* instance, int channels, int stride,
                     int iterations, bool with_floor = false) {
    Buffer buffer(channels, stride);
    std::vector<float> floor_staging(static_cast<size_t>(channels) * kSamples, 1.0f);
    oe_pyproc_block block{buffer.rows.data(), channels, kSamples, stride, 0};
    oe_pyproc_block_result result{};
    PathTimes times;
    // Contiguous rows are measured on the opt-in zero-copy view (P1); the GUI's layout on the default staging.
    api.set_zero_copy(instance, stride == kSamples ? 1 : 0);
    for (int i = 0; i < std::max(iterations / 10, kWarmupBlocks); ++i) {
        api.process(instance, &block, &result);
        if (with_floor) {
            copy_in_out(buffer, floor_staging, channels);
        }
        std::fill(buffer.storage.begin(), buffer.storage.end(), 1.0f);
    }
    long mallocs = 0;
    for (int i = 0; i < iterations; ++i) {
        malloc_calls = 0;
        counting = true;
        const double start = now_ns();
        api.process(instance, &block, &result);
        const double total = now_ns() - start;
        counting = false;
        mallocs += malloc_calls.load();
        times.total.push_back(total);
        times.overhead.push_back(static_cast<double>(result.overhead_ns));
        times.script.push_back(static_cast<double>(result.script_ns));
        times.gil_wait.push_back(static_cast<double>(result.gil_wait_ns));
        if (with_floor) {
            const double floor_start = now_ns();
            copy_in_out(buffer, floor_staging, channels);
            times.memcpy_floor.push_back(now_ns() - floor_start);
        }
        if (i % 64 == 0) {
            std::fill(buffer.storage.begin(), buffer.storage.end(), 1.0f);  // keep values away from denormals
        }
    }
    times.mallocs_per_block = static_cast<double>(mallocs) / iterations;
    return times;
}

std::vector<double> run_multiply_floor(int channels, int iterations) {
    Buffer buffer(channels, kSamples);
    std::vector<double> times;
    for (int i = 0; i < iterations; ++i) {
        const double start = now_ns();
        float* data = buffer.storage.data();
        const size_t count = buffer.storage.size();
        for (size_t k = 0; k < count; ++k) {
            data[k] *= 0.5f;
        }
        times.push_back(now_ns() - start);
        if (i % 64 == 0) {
            std::fill(buffer.storage.begin(), buffer.storage.end(), 1.0f);
        }
    }
    return times;
}

std::vector<double> run_mutex_floor(int iterations) {
    std::mutex mutex;
    std::vector<double> times;
    for (int i = 0; i < iterations; ++i) {
        const double start = now_ns();
        mutex.lock();
        mutex.unlock();
        times.push_back(now_ns() - start);
    }
    return times;
}

using PrepareFn = void* (*)(const char*);
using UpstreamProcessFn = int (*)(void*, float* const*, int, int);

std::string json_stats(const char* name, const std::vector<double>& values) {
    const Stats s = stats(values);
    std::ostringstream out;
    out << "\"" << name << "\": {\"median_ns\": " << s.median << ", \"p99_ns\": " << s.p99 << "}";
    return out.str();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s HOME BRIDGE_DIR WORK_DIR ITERATIONS CHANNELS[,CHANNELS...]\n", argv[0]);
        return 2;
    }
    namespace fs = std::filesystem;
    const std::string bridge_dir = argv[2];
    const fs::path work = argv[3];
    const int iterations = std::atoi(argv[4]);
    std::vector<int> channel_counts;
    std::stringstream list(argv[5]);
    for (std::string item; std::getline(list, item, ',');) {
        channel_counts.push_back(std::stoi(item));
    }
    fs::create_directories(work);
    std::ofstream(work / "noop.py") << "class PyProcessor:\n"
                                       "    def __init__(self, processor, num_channels, sample_rate):\n"
                                       "        pass\n"
                                       "    def process(self, data):\n"
                                       "        pass\n";
    std::ofstream(work / "halve.py") << "class PyProcessor:\n"
                                        "    def __init__(self, processor, num_channels, sample_rate):\n"
                                        "        pass\n"
                                        "    def process(self, data):\n"
                                        "        data *= 0.5\n";
    // Copy-on-keep (P8): a row of every block kept, against the script copying the block itself; both keep
    // the last 8, so what they keep is freed at the same pace.
    std::ofstream(work / "keep_row.py") << "import collections\n"
                                           "class PyProcessor:\n"
                                           "    def __init__(self, processor, num_channels, sample_rate):\n"
                                           "        self.kept = collections.deque(maxlen=8)\n"
                                           "    def process(self, data):\n"
                                           "        self.kept.append(data[0])\n";
    std::ofstream(work / "keep_copy.py") << "import collections\n"
                                            "class PyProcessor:\n"
                                            "    def __init__(self, processor, num_channels, sample_rate):\n"
                                            "        self.kept = collections.deque(maxlen=8)\n"
                                            "    def process(self, data):\n"
                                            "        self.kept.append(data.copy())\n";

    oe_pyproc::ValidationOptions options;
    options.bridge_dir = bridge_dir;
    const oe_pyproc::Validation home = oe_pyproc::validate_home(argv[1], options);
    std::string error;
    const oe_pyproc_bridge_api* api = home.ok ? oe_pyproc::Runtime::instance().start(home, bridge_dir, error) : nullptr;
    if (api == nullptr) {
        std::fprintf(stderr, "cannot start Python: %s%s\n", home.reason.c_str(), error.c_str());
        return 1;
    }
    const std::string baseline_path =
        (fs::path(bridge_dir) /
         ("oe_pyproc_upstream_baseline_cp" + std::to_string(home.info.major) + std::to_string(home.info.minor) + ".so"))
            .string();
    void* baseline = dlopen(baseline_path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (baseline == nullptr) {
        std::fprintf(stderr, "cannot load %s: %s\n", baseline_path.c_str(), dlerror());
        return 1;
    }
    auto upstream_prepare = reinterpret_cast<PrepareFn>(dlsym(baseline, "oe_pyproc_upstream_prepare"));
    auto upstream_process = reinterpret_cast<UpstreamProcessFn>(dlsym(baseline, "oe_pyproc_upstream_process"));

    std::printf("{\"python\": \"%s\", \"samples\": %d, \"callback\": %d, \"iterations\": %d, \"channels\": [\n",
                home.info.version.c_str(), kSamples, kCallback, iterations);
    for (size_t index = 0; index < channel_counts.size(); ++index) {
        const int channels = channel_counts[index];
        oe_pyproc_instance* noop = api->create(1);
        oe_pyproc_instance* halve = api->create(2);
        api->load_script(noop, (work / "noop.py").c_str(), channels, 30000.0);
        api->load_script(halve, (work / "halve.py").c_str(), channels, 30000.0);
        api->prepare(noop, kCallback);
        api->prepare(halve, kCallback);
        const PathTimes noop_view = run_bridge(*api, noop, channels, kSamples, iterations);
        const PathTimes noop_staging = run_bridge(*api, noop, channels, kCallback, iterations, true);
        const PathTimes halve_view = run_bridge(*api, halve, channels, kSamples, iterations);
        const PathTimes halve_staging = run_bridge(*api, halve, channels, kCallback, iterations);
        api->destroy(noop);
        api->destroy(halve);
        oe_pyproc_instance* keep_row = api->create(3);
        oe_pyproc_instance* keep_copy = api->create(4);
        api->load_script(keep_row, (work / "keep_row.py").c_str(), channels, 30000.0);
        api->load_script(keep_copy, (work / "keep_copy.py").c_str(), channels, 30000.0);
        api->prepare(keep_row, kCallback);
        api->prepare(keep_copy, kCallback);
        const PathTimes kept_row = run_bridge(*api, keep_row, channels, kCallback, iterations);
        const PathTimes kept_copy = run_bridge(*api, keep_copy, channels, kCallback, iterations);
        api->destroy(keep_row);
        api->destroy(keep_copy);

        // Upstream style on a thread without a persistent thread state: one is made per call.
        std::vector<double> upstream_noop;
        std::vector<double> upstream_halve;
        std::thread upstream([&] {
            for (const char* name : {"noop.py", "halve.py"}) {
                void* processor = upstream_prepare((work / name).c_str());
                Buffer buffer(channels, kCallback);
                auto& times = std::strcmp(name, "noop.py") == 0 ? upstream_noop : upstream_halve;
                for (int i = 0; i < iterations + iterations / 10 + 5; ++i) {
                    const double start = now_ns();
                    upstream_process(processor, buffer.rows.data(), channels, kSamples);
                    if (i >= iterations / 10 + 5) {
                        times.push_back(now_ns() - start);
                    }
                    if (i % 64 == 0) {
                        std::fill(buffer.storage.begin(), buffer.storage.end(), 1.0f);
                    }
                }
            }
        });
        upstream.join();

        std::printf(
            "%s{\"channels\": %d, \"noop_staging_mallocs_per_block\": %g, "
            "\"keep_row_mallocs_per_block\": %g, \"keep_copy_mallocs_per_block\": %g, "
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s}\n",
            index ? "," : "", channels, noop_staging.mallocs_per_block, kept_row.mallocs_per_block,
            kept_copy.mallocs_per_block, json_stats("noop_view_total", noop_view.total).c_str(),
            json_stats("noop_view_overhead", noop_view.overhead).c_str(),
            json_stats("noop_view_script", noop_view.script).c_str(),
            json_stats("noop_view_gil_wait", noop_view.gil_wait).c_str(),
            json_stats("noop_staging_total", noop_staging.total).c_str(),
            json_stats("noop_staging_overhead", noop_staging.overhead).c_str(),
            json_stats("halve_view_total", halve_view.total).c_str(),
            json_stats("halve_view_script", halve_view.script).c_str(),
            json_stats("halve_staging_total", halve_staging.total).c_str(),
            json_stats("upstream_noop_total", upstream_noop).c_str(),
            json_stats("upstream_halve_total", upstream_halve).c_str(),
            json_stats("memcpy_in_out", noop_staging.memcpy_floor).c_str(),
            json_stats("keep_row_staging_total", kept_row.total).c_str(),
            json_stats("keep_copy_staging_total", kept_copy.total).c_str(),
            json_stats("multiply_cpp", run_multiply_floor(channels, iterations)).c_str(),
            json_stats("mutex_floor", run_mutex_floor(iterations)).c_str());
        std::fflush(stdout);
    }
    std::printf("]}\n");
    return 0;
}
