// adapter_check.h — a minimal check harness for the adapter's unit tests (no framework dependency).
// CHECK records a failure with file:line and continues; main() returns the number of failures.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace adapter_check {

struct Test {
    const char* name;
    std::function<void()> body;
};

inline std::vector<Test>& registry() {
    static std::vector<Test> tests;
    return tests;
}

inline int& failures() {
    static int count = 0;
    return count;
}

struct Register {
    Register(const char* name, std::function<void()> body) { registry().push_back({name, std::move(body)}); }
};

inline void fail(const char* file, int line, const std::string& what) {
    ++failures();
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}

inline int run_all() {
    for (const auto& test : registry()) {
        int before = failures();
        test.body();
        std::printf("%s %s\n", failures() == before ? "ok  " : "FAIL", test.name);
    }
    std::printf("%zu tests, %d failed checks\n", registry().size(), failures());
    return failures() == 0 ? 0 : 1;
}

}  // namespace adapter_check

#define ADAPTER_CONCAT_INNER(a, b) a##b
#define ADAPTER_CONCAT(a, b) ADAPTER_CONCAT_INNER(a, b)
#define TEST_CASE(name)                                                                                             \
    static void ADAPTER_CONCAT(test_body_, __LINE__)();                                                             \
    static adapter_check::Register ADAPTER_CONCAT(test_reg_, __LINE__)(name, ADAPTER_CONCAT(test_body_, __LINE__)); \
    static void ADAPTER_CONCAT(test_body_, __LINE__)()

#define CHECK(condition)                                         \
    do {                                                         \
        if (!(condition))                                        \
            adapter_check::fail(__FILE__, __LINE__, #condition); \
    } while (0)

#define CHECK_EQ(actual, expected)                                                          \
    do {                                                                                    \
        const auto& check_actual_ = (actual);                                               \
        const auto& check_expected_ = (expected);                                           \
        if (!(check_actual_ == check_expected_))                                            \
            adapter_check::fail(__FILE__, __LINE__, std::string(#actual " == " #expected)); \
    } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                                       \
    do {                                                                                                       \
        const std::string check_h_ = (haystack);                                                               \
        const std::string check_n_ = (needle);                                                                 \
        if (check_h_.find(check_n_) == std::string::npos)                                                      \
            adapter_check::fail(__FILE__, __LINE__, "'" + check_h_ + "' does not contain '" + check_n_ + "'"); \
    } while (0)
