// Proves that process() performs no heap allocation per block on the C++ side (operator new counted in
// this binary, which exports it so the dlopen()ed bridge binds to it), for the view, staging and
// strided paths, and that each path modifies the GUI buffer in place. Also reports malloc calls made by
// anyone (Python included) during the measured blocks. Copy-on-keep (DESIGN §8 P8): a script keeping a
// row of every block costs at most one allocation per block (the handed-over block), and the rows it
// kept hold their blocks' values.
//   test_bridge_allocations <home> <bridge_dir> <work_dir>
#include "oe_pyproc_loader.h"
#include "test_support.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <new>
#include <string>
#include <vector>

extern "C" void* __libc_malloc(size_t size);

namespace {
std::atomic<bool> counting{false};
std::atomic<long> new_calls{0};
std::atomic<long> malloc_calls{0};
std::atomic<size_t> large_size{0};  // malloc calls of at least this many bytes are counted apart
std::atomic<long> large_malloc_calls{0};
}  // namespace

extern "C" void* malloc(size_t size) {
    if (counting.load(std::memory_order_relaxed)) {
        malloc_calls.fetch_add(1, std::memory_order_relaxed);
        if (size >= large_size.load(std::memory_order_relaxed)) {
            large_malloc_calls.fetch_add(1, std::memory_order_relaxed);
        }
    }
    return __libc_malloc(size);
}

void* operator new(size_t size) {
    if (counting.load(std::memory_order_relaxed)) {
        new_calls.fetch_add(1, std::memory_order_relaxed);
    }
    void* memory = __libc_malloc(size == 0 ? 1 : size);
    if (memory == nullptr) {
        throw std::bad_alloc();
    }
    return memory;
}
void* operator new[](size_t size) {
    return operator new(size);
}
void operator delete(void* memory) noexcept {
    std::free(memory);
}
void operator delete[](void* memory) noexcept {
    std::free(memory);
}
void operator delete(void* memory, size_t) noexcept {
    std::free(memory);
}
void operator delete[](void* memory, size_t) noexcept {
    std::free(memory);
}

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s HOME BRIDGE_DIR WORK_DIR\n", argv[0]);
        return 2;
    }
    namespace fs = std::filesystem;
    const fs::path work = argv[3];
    fs::create_directories(work);
    const fs::path script = work / "halve.py";
    std::ofstream(script) << "class PyProcessor:\n"
                             "    def __init__(self, processor, num_channels, sample_rate):\n"
                             "        pass\n"
                             "    def process(self, data):\n"
                             "        data *= 0.5\n";

    oe_pyproc::ValidationOptions options;
    options.bridge_dir = argv[2];
    const oe_pyproc::Validation home = oe_pyproc::validate_home(argv[1], options);
    if (!home.ok) {
        std::fprintf(stderr, "Home rejected: %s\n", home.reason.c_str());
        return 1;
    }
    std::string error;
    const oe_pyproc_bridge_api* api = oe_pyproc::Runtime::instance().start(home, argv[2], error);
    if (api == nullptr) {
        std::fprintf(stderr, "start failed: %s\n", error.c_str());
        return 1;
    }
    constexpr int kChannels = 16;
    constexpr int kCallback = 1024;
    constexpr int kSamples = 697;
    oe_pyproc_instance* instance = api->create(1);
    CHECK(api->load_script(instance, script.c_str(), kChannels, 30000.0) == OE_PYPROC_OK);
    CHECK(api->prepare(instance, kCallback) == OE_PYPROC_OK);

    struct Case {
        const char* name;
        int row_stride;
        bool zero_copy;
        uint32_t expected_path;
    };
    const Case cases[] = {{"view", kSamples, true, OE_PYPROC_PATH_VIEW},
                          {"contiguous, staged", kSamples, false, OE_PYPROC_PATH_STAGING},
                          {"staging", kCallback, false, OE_PYPROC_PATH_STAGING},
                          {"strided", kCallback, true, OE_PYPROC_PATH_STRIDED}};
    for (const Case& test : cases) {
        api->set_zero_copy(instance, test.zero_copy ? 1 : 0);
        std::vector<float> storage(static_cast<size_t>(kChannels) * test.row_stride, 0.0f);
        std::vector<float*> rows(kChannels);
        for (int c = 0; c < kChannels; ++c) {
            rows[static_cast<size_t>(c)] = storage.data() + static_cast<size_t>(c) * test.row_stride;
        }
        oe_pyproc_block block{rows.data(), kChannels, kSamples, test.row_stride, 0};
        oe_pyproc_block_result result{};
        // More than the zero-copy probation after a load (block_array.h) on the first path.
        for (int warmup = 0; warmup < 100; ++warmup) {
            CHECK(api->process(instance, &block, &result) == OE_PYPROC_OK);
        }
        CHECK(result.data_path == test.expected_path);
        new_calls = 0;
        malloc_calls = 0;
        counting = true;
        for (int i = 0; i < 1000; ++i) {
            api->process(instance, &block, &result);
        }
        counting = false;
        std::printf("%-8s path: operator new calls %ld, malloc calls %ld over 1000 blocks\n", test.name,
                    new_calls.load(), malloc_calls.load());
        CHECK(new_calls.load() == 0);
        if (test.expected_path != OE_PYPROC_PATH_STRIDED) {
            CHECK(malloc_calls.load() == 0);  // nobody allocates: numpy's in-place multiply on a plain view
        }
        // In place, only the block's samples, every row: fill, process once, check.
        for (int c = 0; c < kChannels; ++c) {
            for (int s = 0; s < test.row_stride; ++s) {
                rows[static_cast<size_t>(c)][s] = static_cast<float>(c * 1000 + s);
            }
        }
        block.first_sample_number += kSamples;
        CHECK(api->process(instance, &block, &result) == OE_PYPROC_OK);
        bool in_place = true;
        for (int c = 0; c < kChannels; ++c) {
            for (int s = 0; s < test.row_stride; ++s) {
                const float original = static_cast<float>(c * 1000 + s);
                const float expected = s < kSamples ? original * 0.5f : original;
                in_place = in_place && rows[static_cast<size_t>(c)][s] == expected;
            }
        }
        CHECK(in_place);
    }
    // Copy-on-keep: a script keeping the first row of each block (the last 8 in a deque). Block k holds k in
    // every sample; stop_acquisition checks each kept row still holds its own block's value.
    const fs::path keeper = work / "keep_row.py";
    std::ofstream(keeper) << "import collections\n"
                             "class PyProcessor:\n"
                             "    def __init__(self, processor, num_channels, sample_rate):\n"
                             "        self.rows = collections.deque(maxlen=8)\n"
                             "    def process(self, data):\n"
                             "        self.rows.append(data[0])\n"
                             "    def stop_acquisition(self):\n"
                             "        first = float(self.rows[0][0])\n"
                             "        for k, row in enumerate(self.rows):\n"
                             "            assert (row == first + k).all(), (k, row)\n";
    const Case keep_cases[] = {{"staging", kCallback, false, OE_PYPROC_PATH_STAGING},
                               {"view", kSamples, true, OE_PYPROC_PATH_STAGING}};  // staging from its first keep
    for (const Case& test : keep_cases) {
        oe_pyproc_instance* keeping = api->create(2);
        api->set_zero_copy(keeping, test.zero_copy ? 1 : 0);
        CHECK(api->load_script(keeping, keeper.c_str(), kChannels, 30000.0) == OE_PYPROC_OK);
        CHECK(api->prepare(keeping, kCallback) == OE_PYPROC_OK);
        std::vector<float> storage(static_cast<size_t>(kChannels) * test.row_stride, 0.0f);
        std::vector<float*> rows(kChannels);
        for (int c = 0; c < kChannels; ++c) {
            rows[static_cast<size_t>(c)] = storage.data() + static_cast<size_t>(c) * test.row_stride;
        }
        oe_pyproc_block block{rows.data(), kChannels, kSamples, test.row_stride, 0};
        oe_pyproc_block_result result{};
        int block_number = 0;
        for (; block_number < 100; ++block_number) {
            std::fill(storage.begin(), storage.end(), static_cast<float>(block_number));
            CHECK(api->process(keeping, &block, &result) == OE_PYPROC_OK);
        }
        CHECK(result.data_path == test.expected_path);
        CHECK((result.flags & OE_PYPROC_BLOCK_KEPT_REFERENCE) != 0);
        new_calls = 0;
        malloc_calls = 0;
        large_malloc_calls = 0;
        large_size = static_cast<size_t>(kChannels) * kSamples * sizeof(float);
        counting = true;
        for (int i = 0; i < 1000; ++i, ++block_number) {
            std::fill(storage.begin(), storage.end(), static_cast<float>(block_number));
            api->process(keeping, &block, &result);
        }
        counting = false;
        std::printf(
            "keep-a-row, %-8s layout: operator new calls %ld, malloc calls %ld (%ld of a block or more) "
            "over 1000 blocks\n",
            test.name, new_calls.load(), malloc_calls.load(), large_malloc_calls.load());
        CHECK(new_calls.load() == 0);
        CHECK(large_malloc_calls.load() == 1000);  // the handed-over block, once per block
        CHECK(malloc_calls.load() <= 1000);        // and nothing else, once numpy's and Python's caches are warm
        CHECK(api->stop_acquisition(keeping) == OE_PYPROC_OK);
        CHECK(std::string(api->get_last_error(keeping)).empty());
        api->destroy(keeping);
    }

    // A channel-count change: blocks pass through (one warning) until reinit re-instantiates the script.
    static std::string warnings;
    api->set_log_callback(
        [](void*, int level, uint64_t, const char* message) {
            if (level == OE_PYPROC_LOG_WARNING) {
                warnings += message;
            }
        },
        nullptr);
    std::vector<float> three(3 * kSamples, 2.0f);
    float* three_rows[3] = {three.data(), three.data() + kSamples, three.data() + 2 * kSamples};
    oe_pyproc_block narrow{three_rows, 3, kSamples, kSamples, 0};
    CHECK(api->process(instance, &narrow, nullptr) == OE_PYPROC_BYPASSED);
    CHECK(api->process(instance, &narrow, nullptr) == OE_PYPROC_BYPASSED);
    CHECK(three[0] == 2.0f);
    CHECK(warnings.find("block has 3 channels but the script was initialised for 16") != std::string::npos);
    CHECK(api->reinit(instance, 3, 30000.0) == OE_PYPROC_OK);
    CHECK(api->process(instance, &narrow, nullptr) == OE_PYPROC_OK);
    CHECK(three[0] == 1.0f && three[3 * kSamples - 1] == 1.0f);
    api->set_log_callback(nullptr, nullptr);
    api->destroy(instance);
    return test_result();
}
