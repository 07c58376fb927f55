// Platform pieces of the loader that its tests reach directly (the Windows ones run under wine in
// 24-windows). Strings are UTF-8 everywhere; Windows APIs get UTF-16 through to_wide/from_wide.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace oe_pyproc {
namespace detail {

struct SubprocessResult {
    bool started = false;
    bool timed_out = false;
    int exit_code = -1;
    std::string output;  // stdout + stderr (the first 64 KiB), or why the process could not start
};

// Runs argv[0] (a full path, no PATH search) with argv, stdin from the null device, and kills it when
// it outlives the timeout.
SubprocessResult run_subprocess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

#if defined(_WIN32)
std::wstring to_wide(const std::string& utf8);
std::string from_wide(const std::wstring& wide);
// FormatMessageW's text for a GetLastError() code, with the number: "The specified module could not be
// found. (Windows error 126)".
std::string system_error_message(unsigned long code);
#endif

}  // namespace detail
}  // namespace oe_pyproc
