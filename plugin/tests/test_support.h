// Minimal check macros for the C++ tests (ctest reads the exit code).
#pragma once

#include <cstdio>
#include <map>
#include <string>

inline int& test_failures() {
    static int failures = 0;
    return failures;
}

#define CHECK(condition)                                                                       \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
            ++test_failures();                                                                 \
        }                                                                                      \
    } while (0)

inline int test_result() {
    if (test_failures() == 0) {
        std::printf("all checks passed\n");
        return 0;
    }
    std::fprintf(stderr, "%d checks failed\n", test_failures());
    return 1;
}
