// Home resolution, validation (files + the Home's own interpreter in a subprocess) and the two-stage
// loading of libpython (global symbols) and the bridge (local symbols). Linux is verified here. The macOS
// branches follow the same POSIX calls and are unverified. The Windows branches (LoadLibraryExW by full
// path, AddDllDirectory, CreateProcessW) are cross-built with mingw-w64 and run under wine in CI part
// 24-windows with the real Windows CPython 3.10 and numpy on real Home layouts.
#include "oe_pyproc_loader.h"

#include "gui_layout.h"
#include "home_layout.h"
#include "json_reader.h"
#include "loader_platform.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#else
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace fs = std::filesystem;

namespace oe_pyproc {

const char* to_string(HomeOrigin origin) {
    switch (origin) {
        case HomeOrigin::Chain: return "chain";
        case HomeOrigin::DefaultHomeFile: return "default_home_file";
        case HomeOrigin::InstallManifest: return "install_manifest";
        case HomeOrigin::HostPrefix: return "host_prefix";
        case HomeOrigin::Chooser: return "chooser";
    }
    return "unknown";
}

namespace {

using detail::SubprocessResult;
using layout::trim;

// UTF-8 strings <-> paths: on Windows a narrow fs::path would use the ANSI code page.
fs::path to_path(const std::string& utf8) {
    return fs::u8path(utf8);
}
std::string from_path(const fs::path& path) {
    return path.u8string();
}

bool read_text(const fs::path& path, std::string& out) {
    std::ifstream stream(path, std::ios::binary);
    if (!stream) {
        return false;
    }
    std::ostringstream buffer;
    buffer << stream.rdbuf();
    out = buffer.str();
    return true;
}

bool parse_version(const std::string& text, int& major, int& minor) {
    return std::sscanf(text.c_str(), "%d.%d", &major, &minor) == 2;
}

bool is_file(const fs::path& path) {
    std::error_code error;
    return fs::is_regular_file(path, error);
}

bool is_dir(const fs::path& path) {
    std::error_code error;
    return fs::is_directory(path, error);
}

std::string available_bridges(const std::string& bridge_dir) {
    std::vector<std::string> versions;
    std::error_code error;
    for (fs::directory_iterator it(to_path(bridge_dir), error), end; !error && it != end; it.increment(error)) {
        const std::string name = from_path(it->path().filename());
        const std::string prefix = "oe_pyproc_bridge_cp3";
        if (name.rfind(prefix, 0) == 0) {
            const auto dot = name.find('.', prefix.size());
            versions.push_back("3." + name.substr(prefix.size(), dot - prefix.size()));
        }
    }
    std::sort(versions.begin(), versions.end());
    std::string joined;
    for (const auto& version : versions) {
        joined += (joined.empty() ? "" : ", ") + version;
    }
    return joined.empty() ? "none" : joined;
}

}  // namespace

namespace detail {

#if defined(_WIN32)

std::wstring to_wide(const std::string& utf8) {
    if (utf8.empty()) {
        return {};
    }
    const int length = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
    std::wstring wide(static_cast<size_t>(length), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), wide.data(), length);
    return wide;
}

std::string from_wide(const std::wstring& wide) {
    if (wide.empty()) {
        return {};
    }
    const int length =
        WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), nullptr, 0, nullptr, nullptr);
    std::string utf8(static_cast<size_t>(length), '\0');
    WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), utf8.data(), length, nullptr, nullptr);
    return utf8;
}

std::string system_error_message(unsigned long code) {
    wchar_t buffer[1024] = {};
    const DWORD length = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0,
                                        buffer, static_cast<DWORD>(sizeof(buffer) / sizeof(buffer[0])), nullptr);
    const std::string text = length == 0 ? "" : trim(from_wide(std::wstring(buffer, length)));
    const std::string number = "Windows error " + std::to_string(code);
    return text.empty() ? number : text + " (" + number + ")";
}

namespace {

struct HandleCloser {
    void operator()(HANDLE handle) const {
        if (handle != nullptr && handle != INVALID_HANDLE_VALUE) {
            CloseHandle(handle);
        }
    }
};
using UniqueHandle = std::unique_ptr<void, HandleCloser>;

struct AttributeListDeleter {
    void operator()(LPPROC_THREAD_ATTRIBUTE_LIST list) const { DeleteProcThreadAttributeList(list); }
};

// Reads what the pipe holds without blocking; false once every writer is gone (or on error).
bool drain_pipe(HANDLE pipe, std::string& output) {
    char buffer[4096];
    while (true) {
        DWORD available = 0;
        if (!PeekNamedPipe(pipe, nullptr, 0, nullptr, &available, nullptr)) {
            return false;
        }
        if (available == 0) {
            return true;
        }
        DWORD count = 0;
        if (!ReadFile(pipe, buffer, std::min<DWORD>(available, sizeof(buffer)), &count, nullptr) || count == 0) {
            return false;
        }
        if (output.size() < 65536) {
            output.append(buffer, count);
        }
    }
}

}  // namespace

SubprocessResult run_subprocess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    SubprocessResult result;
    SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    HANDLE read_raw = nullptr;
    HANDLE write_raw = nullptr;
    if (!CreatePipe(&read_raw, &write_raw, &inheritable, 0)) {
        result.output = "cannot create a pipe: " + system_error_message(GetLastError());
        return result;
    }
    UniqueHandle read_end(read_raw);
    UniqueHandle write_end(write_raw);
    SetHandleInformation(read_raw, HANDLE_FLAG_INHERIT, 0);
    UniqueHandle null_input(
        CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &inheritable, OPEN_EXISTING, 0, nullptr));
    if (null_input.get() == INVALID_HANDLE_VALUE) {
        result.output = "cannot open NUL: " + system_error_message(GetLastError());
        return result;
    }
    // Only these two handles reach the child, even when other threads of the GUI start processes meanwhile
    // (an inherited copy of the write end elsewhere would keep the pipe open).
    HANDLE inherited[2] = {write_raw, null_input.get()};
    SIZE_T list_size = 0;
    InitializeProcThreadAttributeList(nullptr, 1, 0, &list_size);
    std::vector<unsigned char> list_storage(list_size);
    auto* list = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(list_storage.data());
    if (!InitializeProcThreadAttributeList(list, 1, 0, &list_size)) {
        result.output = "cannot prepare the process attributes: " + system_error_message(GetLastError());
        return result;
    }
    std::unique_ptr<_PROC_THREAD_ATTRIBUTE_LIST, AttributeListDeleter> list_guard(list);
    if (!UpdateProcThreadAttribute(list, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited, sizeof(inherited), nullptr,
                                   nullptr)) {
        result.output = "cannot prepare the process attributes: " + system_error_message(GetLastError());
        return result;
    }
    STARTUPINFOEXW startup{};
    startup.StartupInfo.cb = sizeof(startup);
    startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    startup.StartupInfo.hStdInput = null_input.get();
    startup.StartupInfo.hStdOutput = write_raw;
    startup.StartupInfo.hStdError = write_raw;
    startup.lpAttributeList = list;
    const std::wstring application = to_wide(argv.at(0));  // full path: CreateProcessW does no search then
    std::wstring command_line = to_wide(layout::windows_command_line(argv));
    PROCESS_INFORMATION process{};
    if (!CreateProcessW(application.c_str(), command_line.data(), nullptr, nullptr, TRUE,
                        CREATE_NO_WINDOW | EXTENDED_STARTUPINFO_PRESENT, nullptr, nullptr, &startup.StartupInfo,
                        &process)) {
        result.output = system_error_message(GetLastError());
        return result;
    }
    UniqueHandle process_handle(process.hProcess);
    UniqueHandle thread_handle(process.hThread);
    write_end.reset();  // the child holds the only write end now: the pipe breaks when it exits
    result.started = true;

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool pipe_open = true;
    while (true) {
        if (pipe_open) {
            pipe_open = drain_pipe(read_end.get(), result.output);
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            TerminateProcess(process_handle.get(), 1);
            WaitForSingleObject(process_handle.get(), 5000);
            break;
        }
        // Poll the pipe every 10 ms while it is open (anonymous pipes have no overlapped reads).
        const DWORD wait_ms = static_cast<DWORD>(pipe_open ? std::min<int64_t>(left.count(), 10) : left.count());
        if (WaitForSingleObject(process_handle.get(), wait_ms) == WAIT_OBJECT_0) {
            if (pipe_open) {
                drain_pipe(read_end.get(), result.output);
            }
            break;
        }
    }
    DWORD exit_code = 0;
    if (!result.timed_out && GetExitCodeProcess(process_handle.get(), &exit_code)) {
        result.exit_code = static_cast<int>(exit_code);
    }
    return result;
}

#else

SubprocessResult run_subprocess(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    SubprocessResult result;
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) {
        result.output = std::strerror(errno);
        return result;
    }
    std::vector<char*> args;
    for (const auto& arg : argv) {
        args.push_back(const_cast<char*>(arg.c_str()));
    }
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
        result.output = std::strerror(errno);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return result;
    }
    if (pid == 0) {
        dup2(pipe_fds[1], STDOUT_FILENO);
        dup2(pipe_fds[1], STDERR_FILENO);
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        const int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0) {
            dup2(null_fd, STDIN_FILENO);
        }
        execv(args[0], args.data());
        _exit(127);
    }
    close(pipe_fds[1]);
    result.started = true;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buffer[4096];
    while (true) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            break;
        }
        pollfd descriptor{pipe_fds[0], POLLIN, 0};
        const int ready = poll(&descriptor, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
        if (ready < 0 && errno != EINTR) {
            break;
        }
        if (ready > 0) {
            const ssize_t count = read(pipe_fds[0], buffer, sizeof(buffer));
            if (count <= 0) {
                break;  // EOF: the child closed its output (exited)
            }
            if (result.output.size() < 65536) {
                result.output.append(buffer, static_cast<size_t>(count));
            }
        }
    }
    close(pipe_fds[0]);
    int status = 0;
    if (result.timed_out) {
        kill(pid, SIGKILL);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!result.timed_out) {
        result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    return result;
}

#endif

}  // namespace detail

namespace {

std::string last_line(const std::string& text) {
    const std::string trimmed = trim(text);
    const auto newline = trimmed.rfind('\n');
    return newline == std::string::npos ? trimmed : trimmed.substr(newline + 1);
}

}  // namespace

namespace {

uint32_t read_u32(const unsigned char* bytes, bool little) {
    return little
               ? (uint32_t(bytes[0]) | uint32_t(bytes[1]) << 8 | uint32_t(bytes[2]) << 16 | uint32_t(bytes[3]) << 24)
               : (uint32_t(bytes[3]) | uint32_t(bytes[2]) << 8 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[0]) << 24);
}

std::string elf_machine_name(unsigned machine) {
    switch (machine) {
        case 0x3E: return "x86_64";
        case 0xB7: return "arm64";
        case 0x03: return "x86";
        case 0x28: return "arm";
        case 0x15: return "ppc64le";
        default: return "elf-machine-" + std::to_string(machine);
    }
}

std::string macho_cpu_name(uint32_t cpu) {
    switch (cpu) {
        case 0x01000007: return "x86_64";
        case 0x0100000C: return "arm64";
        case 0x00000007: return "x86";
        case 0x0000000C: return "arm";
        default: return "macho-cpu-" + std::to_string(cpu);
    }
}

std::string pe_machine_name(unsigned machine) {
    switch (machine) {
        case 0x8664: return "x86_64";
        case 0xAA64: return "arm64";
        case 0x014C: return "x86";
        default: return "pe-machine-" + std::to_string(machine);
    }
}

}  // namespace

std::vector<std::string> binary_architectures(const std::string& path) {
    std::ifstream stream(to_path(path), std::ios::binary);
    std::vector<unsigned char> head(4096, 0);
    stream.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
    const size_t size = static_cast<size_t>(stream.gcount());
    if (size < 8) {
        return {};
    }
    const unsigned char* bytes = head.data();
    if (size >= 20 && bytes[0] == 0x7F && bytes[1] == 'E' && bytes[2] == 'L' && bytes[3] == 'F') {
        const bool little = bytes[5] == 1;
        return {elf_machine_name(little ? (bytes[18] | bytes[19] << 8) : (bytes[18] << 8 | bytes[19]))};
    }
    const uint32_t magic_le = read_u32(bytes, true);
    if (magic_le == 0xFEEDFACF || magic_le == 0xFEEDFACE) {  // thin Mach-O, little-endian
        return {macho_cpu_name(read_u32(bytes + 4, true))};
    }
    const uint32_t magic_be = read_u32(bytes, false);
    if (magic_be == 0xCAFEBABE || magic_be == 0xCAFEBABF) {  // universal: big-endian fat header
        const uint32_t count = read_u32(bytes + 4, false);
        const size_t entry = magic_be == 0xCAFEBABF ? 32 : 20;  // fat_arch_64 / fat_arch
        if (count == 0 || count > 16 || 8 + count * entry > size) {
            return {};  // also Java class files share 0xCAFEBABE
        }
        std::vector<std::string> archs;
        for (uint32_t k = 0; k < count; ++k) {
            archs.push_back(macho_cpu_name(read_u32(bytes + 8 + k * entry, false)));
        }
        return archs;
    }
    if (bytes[0] == 'M' && bytes[1] == 'Z' && size >= 0x40) {
        const uint32_t pe_offset = read_u32(bytes + 0x3C, true);
        if (pe_offset + 6 <= size && std::memcmp(bytes + pe_offset, "PE\0\0", 4) == 0) {
            return {pe_machine_name(bytes[pe_offset + 4] | bytes[pe_offset + 5] << 8)};
        }
    }
    return {};
}

std::string bridge_file_name(int major, int minor) {
    // Not .so/.dll: the GUI would try to load the bridge as a plugin (see OE_PYPROC_BRIDGE_SUFFIX in CMake).
    return "oe_pyproc_bridge_cp" + std::to_string(major) + std::to_string(minor) + ".bridge";
}

std::string process_arch() {
#if defined(__x86_64__) || defined(_M_X64)
    return "x86_64";  // also an x86_64 build running under Rosetta or Windows' x64 emulation
#elif defined(__aarch64__) || defined(_M_ARM64)
    return "arm64";
#elif defined(_WIN32)
    return "";
#else
    utsname name{};
    return uname(&name) == 0 ? name.machine : "";
#endif
}

std::string default_gui_root() {
#if defined(_WIN32)
    // JUCE's local application data folder, %LOCALAPPDATA%\Open Ephys (DESIGN §2): the host reads the default
    // Home file there under wine (24-windows); that the real GUI saves there is not shown by wine.
    std::wstring buffer(32768, L'\0');
    const DWORD length = GetEnvironmentVariableW(L"LOCALAPPDATA", buffer.data(), static_cast<DWORD>(buffer.size()));
    if (length == 0 || length >= buffer.size()) {
        return "";
    }
    buffer.resize(length);
    return detail::from_wide(buffer) + "\\Open Ephys";
#else
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') {
        return "";
    }
#if defined(__APPLE__)
    return std::string(home) + "/Library/Application Support/open-ephys";  // unverified
#else
    return std::string(home) + "/.config/open-ephys";
#endif
#endif
}

namespace {
std::string read_string_member(const fs::path& file, const std::string& key, std::string* problem) {
    std::string text;
    if (!is_file(file)) {
        return "";
    }
    if (!read_text(file, text)) {
        if (problem != nullptr) {
            *problem = from_path(file) + ": cannot be read";
        }
        return "";
    }
    std::map<std::string, std::string> strings;
    std::map<std::string, std::string> numbers;
    const std::string error = read_json_object_strings(text, strings, &numbers);
    if (!error.empty()) {
        if (problem != nullptr) {
            *problem = from_path(file) + ": malformed JSON: " + error;
        }
        return "";
    }
    // Refused like the CLI refuses it: a file of another schema may mean something else by the same keys.
    const auto schema = numbers.find("schema");
    if (schema == numbers.end() || schema->second != "1") {
        if (problem != nullptr) {
            *problem = from_path(file) + ": schema " + (schema == numbers.end() ? "missing" : schema->second) +
                       "; this plugin reads schema 1";
        }
        return "";
    }
    const auto found = strings.find(key);
    return found == strings.end() ? "" : found->second;
}
}  // namespace

std::string read_default_home_file(const std::string& gui_root, int api, std::string* problem) {
    return read_string_member(to_path(gui_layout::default_home_file(gui_root, api)), "python_home", problem);
}

std::string read_manifest_source_prefix(const std::string& gui_root, int api, std::string* problem) {
    return read_string_member(to_path(gui_layout::manifest_file(gui_root, api)), "source_prefix", problem);
}

HomeLayout native_home_layout() {
#if defined(_WIN32)
    return HomeLayout::Windows;
#elif defined(__APPLE__)
    return HomeLayout::MacOS;
#else
    return HomeLayout::Posix;
#endif
}

namespace {

std::string architectures_of(const fs::path& binary) {
    std::error_code error;
    const fs::path resolved = fs::canonical(binary, error);
    std::string joined;
    for (const auto& arch : binary_architectures(from_path(error ? binary : resolved))) {
        joined += (joined.empty() ? "" : ",") + arch;
    }
    return joined;
}

// numpy by scanning site-packages (the subprocess check confirms it imports).
void find_numpy(const std::vector<fs::path>& site_dirs, HomeInfo& info) {
    for (const auto& site : site_dirs) {
        if (is_file(site / "numpy" / "__init__.py")) {
            info.numpy_dir = from_path(site / "numpy");
            return;
        }
    }
}

// The venv part shared by both layouts: base installation and version from pyvenv.cfg.
std::string read_venv(const fs::path& path, bool windows, HomeInfo& info, fs::path& base, std::string& cfg_text) {
    const fs::path cfg = path / "pyvenv.cfg";
    base = path;
    if (!is_file(cfg) || !read_text(cfg, cfg_text)) {
        return "";
    }
    info.is_venv = true;
    const std::string home_value = layout::pyvenv_value(cfg_text, "home");
    if (home_value.empty()) {
        return from_path(cfg) + " has no 'home' line: a broken virtual environment";
    }
    base = to_path(layout::venv_base_prefix(home_value, windows));
    std::string version = layout::pyvenv_value(cfg_text, "version_info");
    if (version.empty()) {
        version = layout::pyvenv_value(cfg_text, "version");
    }
    parse_version(version, info.major, info.minor);
    if (!is_dir(base)) {
        return "the virtual environment " + info.path + " was made from " + from_path(base) +
               ", which no longer exists: recreate the venv";
    }
    return "";
}

// pyvenv.cfg's include-system-site-packages, compared as CPython's site.py does (lower-cased "true").
bool includes_system_site_packages(const HomeInfo& info, const std::string& cfg_text) {
    std::string value = layout::pyvenv_value(cfg_text, "include-system-site-packages");
    std::transform(value.begin(), value.end(), value.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return info.is_venv && value == "true";
}

// Where a POSIX prefix keeps packages: site-packages, and Debian's dist-packages (its python3 adds
// local/lib/python3.X/dist-packages and lib/python3/dist-packages to sys.path).
std::vector<fs::path> posix_package_dirs(const fs::path& prefix, const std::string& version) {
    return {prefix / "lib" / ("python" + version) / "site-packages",
            prefix / "local" / "lib" / ("python" + version) / "dist-packages",
            prefix / "lib" / "python3" / "dist-packages"};
}

// lib/ and Debian's multiarch lib/<triplet>/ (e.g. lib/x86_64-linux-gnu), where libpython may live.
std::vector<fs::path> posix_library_dirs(const fs::path& base) {
    std::vector<fs::path> dirs = {base / "lib"};
    std::vector<fs::path> multiarch;
    std::error_code error;
    for (fs::directory_iterator it(base / "lib", error), end; !error && it != end; it.increment(error)) {
        if (from_path(it->path().filename()).find("-linux-gnu") != std::string::npos && is_dir(it->path())) {
            multiarch.push_back(it->path());
        }
    }
    std::sort(multiarch.begin(), multiarch.end());
    dirs.insert(dirs.end(), multiarch.begin(), multiarch.end());
    return dirs;
}

std::string inspect_posix_home(const fs::path& path, HomeInfo& info, bool macos) {
    fs::path base;
    std::string cfg_text;
    std::string problem = read_venv(path, false, info, base, cfg_text);
    if (!problem.empty()) {
        return problem;
    }
    info.base_prefix = from_path(base);
    std::error_code error;
    if (info.major == 0) {
        // The base's lib/python3.X folder holding the standard library.
        std::vector<std::pair<int, int> > found;
        for (fs::directory_iterator it(base / "lib", error), end; !error && it != end; it.increment(error)) {
            int major = 0;
            int minor = 0;
            const std::string name = from_path(it->path().filename());
            if (name.rfind("python", 0) == 0 && parse_version(name.substr(6), major, minor) &&
                name == "python" + std::to_string(major) + "." + std::to_string(minor)) {
                found.emplace_back(major, minor);
            }
        }
        if (!found.empty()) {
            std::sort(found.begin(), found.end());
            info.major = found.back().first;
            info.minor = found.back().second;
        }
    }
    if (info.major != 0) {
        info.version = std::to_string(info.major) + "." + std::to_string(info.minor);
    }
    // bin/python3; a venv or install without it still runs through bin/python3.X (what `python3.X -m venv
    // --copies` or a hand-made layout may leave).
    for (const std::string& name : {std::string("python3"), "python" + info.version}) {
        if (!info.version.empty() || name == "python3") {
            if (is_file(path / "bin" / name)) {
                info.executable = from_path(path / "bin" / name);
                break;
            }
        }
    }
    if (info.executable.empty()) {
        return info.path + " has no bin/python3" + (info.version.empty() ? "" : " or bin/python" + info.version) +
               ": not a Python installation (pick the environment's folder, the one containing bin/ and lib/)";
    }
    if (info.version.empty()) {
        return info.path + " has no lib/python3.X folder: the standard library is missing";
    }
    const fs::path stdlib = base / "lib" / ("python" + info.version);
    if (!is_file(stdlib / "os.py") || !is_file(stdlib / "encodings" / "__init__.py")) {
        return "the standard library of Python " + info.version + " is missing under " + from_path(stdlib) +
               " (os.py, encodings/): Python would fail to start with 'No module named encodings'";
    }
    std::vector<fs::path> libraries;
    if (macos) {
        // Unverified: conda and Homebrew have lib/libpython3.X.dylib; a python.org framework build has it
        // as a link to the framework's Python binary, which is tried last.
        libraries = {base / "lib" / ("libpython" + info.version + ".dylib"), base / "Python"};
    } else {
        for (const auto& folder : posix_library_dirs(base)) {
            libraries.push_back(folder / ("libpython" + info.version + ".so.1.0"));
            libraries.push_back(folder / ("libpython" + info.version + ".so"));
        }
    }
    for (const auto& library : libraries) {
        if (is_file(library)) {
            info.libpython = from_path(library);
            break;
        }
    }
    if (info.libpython.empty()) {
        return "no shared library " + from_path(libraries.front().filename()) + " in " + from_path(base / "lib") +
               (macos ? "" : " (nor a multiarch lib/<triplet>/)") +
               ": this Python was built without --enable-shared and cannot be embedded";
    }
    info.arch = architectures_of(to_path(info.executable));
    std::vector<fs::path> site_dirs = posix_package_dirs(path, info.version);
    if (includes_system_site_packages(info, cfg_text)) {
        const std::vector<fs::path> base_dirs = posix_package_dirs(base, info.version);
        site_dirs.insert(site_dirs.end(), base_dirs.begin(), base_dirs.end());
    }
    find_numpy(site_dirs, info);
    return "";
}

// Windows layout (real python.org, venv, conda-env and embeddable layouts under wine in 24-windows; crafted
// trees in the Home corpus): python.exe, Lib\ and python3XY.dll in the installation's folder (python.org and
// conda alike); a venv has Scripts\python.exe and Lib\site-packages, its pyvenv.cfg `home` names the base's
// folder.
std::string inspect_windows_home(const fs::path& path, HomeInfo& info) {
    fs::path base;
    std::string cfg_text;
    std::string problem = read_venv(path, true, info, base, cfg_text);
    if (!problem.empty()) {
        return problem;
    }
    info.base_prefix = from_path(base);
    info.executable = from_path(info.is_venv ? path / "Scripts" / "python.exe" : path / "python.exe");
    if (!is_file(to_path(info.executable))) {
        return info.is_venv ? info.path + " has no Scripts\\python.exe: a broken virtual environment (recreate it)"
                            : info.path +
                                  " has no python.exe: not a Python installation (pick the environment's folder, "
                                  "the one containing python.exe and Lib\\)";
    }
    std::error_code error;
    if (info.major == 0) {
        std::vector<std::pair<int, int> > found;
        for (fs::directory_iterator it(base, error), end; !error && it != end; it.increment(error)) {
            int major = 0;
            int minor = 0;
            if (layout::parse_windows_python_dll_name(from_path(it->path().filename()), major, minor)) {
                found.emplace_back(major, minor);
            }
        }
        if (found.empty()) {
            return "no python3XY.dll in " + info.base_prefix +
                   ": not a CPython installation that can be embedded (the Microsoft Store Python is not "
                   "supported)";
        }
        std::sort(found.begin(), found.end());
        info.major = found.back().first;
        info.minor = found.back().second;
    }
    info.version = std::to_string(info.major) + "." + std::to_string(info.minor);
    const fs::path dll = base / layout::windows_python_dll_name(info.major, info.minor);
    if (!is_file(dll)) {
        return "no " + from_path(dll.filename()) + " in " + info.base_prefix + ": Python " + info.version +
               " cannot be embedded from there";
    }
    info.libpython = from_path(dll);
    // The embeddable package: a ._pth file beside the DLL (python3XY._pth) or the executable (python._pth)
    // makes CPython ignore PYTHONPATH and the Home's site-packages and take sys.path from it alone, and the
    // package has no pip: refused, as the CLI refuses it (oe_pyproc_setup.home.rules, code "embeddable").
    for (const fs::path& pth :
         {base / (from_path(dll.stem()) + "._pth"), to_path(info.executable).parent_path() / "python._pth"}) {
        if (is_file(pth)) {
            return info.path + " is an embeddable Python package (" + from_path(pth.filename()) +
                   "): its ._pth file fixes sys.path (no site-packages, PYTHONPATH ignored) and it has no pip; "
                   "use a full install (python.org's installer or a conda env)";
        }
    }
    const fs::path stdlib = base / "Lib";
    if (!is_file(stdlib / "os.py") || !is_file(stdlib / "encodings" / "__init__.py")) {
        return "the standard library of Python " + info.version + " is missing under " + from_path(stdlib) +
               " (os.py, encodings\\): Python would fail to start with 'No module named encodings'";
    }
    info.arch = architectures_of(dll);  // what LoadLibraryExW will map
    std::vector<fs::path> site_dirs = {path / "Lib" / "site-packages"};
    if (includes_system_site_packages(info, cfg_text)) {
        site_dirs.push_back(stdlib / "site-packages");
    }
    find_numpy(site_dirs, info);
    return "";
}

}  // namespace

std::string inspect_home(const std::string& path_text, HomeInfo& info) {
    return inspect_home(path_text, info, native_home_layout());
}

std::string inspect_home(const std::string& path_text, HomeInfo& info, HomeLayout home_layout) {
    info = HomeInfo{};
    if (path_text.empty()) {
        return "no Home given";
    }
    std::error_code error;
    const bool windows = home_layout == HomeLayout::Windows;
    const char* user_home = std::getenv(windows ? "USERPROFILE" : "HOME");
    const std::string expanded = layout::expand_user(path_text, user_home == nullptr ? "" : user_home, windows);
    fs::path path = fs::absolute(to_path(expanded), error).lexically_normal();
    if (path.has_relative_path() && !path.has_filename()) {
        path = path.parent_path();  // a trailing separator
    }
    info.path = from_path(path);
    if (fs::is_symlink(fs::symlink_status(path, error)) && !fs::exists(path, error)) {
        return info.path + " is a broken symbolic link";
    }
    if (!fs::exists(path, error)) {
        return info.path + " does not exist";
    }
    if (!is_dir(path)) {
        return info.path + " is a file, not a folder (a Python Home is the environment's folder, e.g. " +
               (home_layout == HomeLayout::Windows ? "%USERPROFILE%\\miniforge3\\envs\\oe-python-plugin)"
                                                   : "~/miniforge3/envs/oe-python-plugin)");
    }
    if (home_layout == HomeLayout::Windows) {
        return inspect_windows_home(path, info);
    }
    return inspect_posix_home(path, info, home_layout == HomeLayout::MacOS);
}

Validation validate_home(const std::string& path, const ValidationOptions& options) try {
    Validation validation;
    validation.reason = inspect_home(path, validation.info, options.layout);
    if (!validation.reason.empty()) {
        return validation;
    }
    const HomeInfo& info = validation.info;
    if (info.major != 3 || info.minor < 10) {
        validation.reason = info.path + " is Python " + info.version + "; oe-pyproc needs 3.10 or newer";
        return validation;
    }
    const std::string bridge_dir = layout::bundle_bridge_dir(options.bridge_dir);
    const fs::path bridge = to_path(bridge_dir) / bridge_file_name(info.major, info.minor);
    if (!is_file(bridge)) {
        validation.reason = info.path + " is Python " + info.version + ", which this plugin has no bridge for (" +
                            from_path(bridge.filename()) + " not in " + bridge_dir +
                            "; bridges available: " + available_bridges(bridge_dir) + ")";
        return validation;
    }
    const std::string arch = process_arch();
    const std::string archs = "," + info.arch + ",";
    if (!info.arch.empty() && !arch.empty() && archs.find("," + arch + ",") == std::string::npos) {
        validation.reason = info.path + " is built for " + info.arch + " but this process runs as " + arch +
                            ": use a " + arch + " Home";
        return validation;
    }
    if (info.numpy_dir.empty()) {
        validation.reason = "numpy is not installed in " + info.path + " (install it with `" + info.executable +
                            " -m pip install numpy` or conda)";
        return validation;
    }
    if (options.check_numpy_import) {
        const detail::SubprocessResult run = detail::run_subprocess(
            {info.executable, "-I", "-c", "import numpy, sys; sys.stdout.write(numpy.__version__)"},
            options.import_timeout);
        if (!run.started) {
            validation.reason = "could not run " + info.executable + ": " + run.output;
            return validation;
        }
        if (run.timed_out) {
            validation.reason = "`" + info.executable + " -c 'import numpy'` did not finish within " +
                                std::to_string(options.import_timeout.count() / 1000.0).substr(0, 4) + " s";
            return validation;
        }
        if (run.exit_code != 0) {
            validation.reason = "numpy cannot be imported by " + info.executable + " (exit " +
                                std::to_string(run.exit_code) + "): " + last_line(run.output);
            return validation;
        }
        validation.numpy_version = trim(run.output);
    }
    validation.ok = true;
    return validation;
} catch (const std::exception& failure) {
    // Never throws (the adapter calls it from GUI callbacks): out of memory or a file system error is a reason.
    Validation validation;
    validation.reason = "the Home " + path + " could not be checked: " + failure.what();
    return validation;
}

namespace {

// The platform's shared-library calls behind one interface, so that Runtime::start reads the same on all.
#if defined(_WIN32)
struct LibraryCloser {
    void operator()(void* handle) const { FreeLibrary(static_cast<HMODULE>(handle)); }
};
#else
struct LibraryCloser {
    void operator()(void* handle) const { dlclose(handle); }
};
#endif
using LibraryHandle = std::unique_ptr<void, LibraryCloser>;

#if defined(_WIN32)
// No "cannot find the DLL" message box from inside the GUI: the error comes back as a string instead.
class QuietLoadErrors {
public:
    QuietLoadErrors() { SetThreadErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX, &previous_); }
    ~QuietLoadErrors() { SetThreadErrorMode(previous_, nullptr); }
    QuietLoadErrors(const QuietLoadErrors&) = delete;
    QuietLoadErrors& operator=(const QuietLoadErrors&) = delete;

private:
    DWORD previous_ = 0;
};
#endif

// Full path only: never a search of PATH or the current folder. POSIX: global symbols for libpython (numpy's
// extension modules resolve Py* against it), local ones for the bridge. Windows has no such distinction:
// the bridge imports python3XY.dll by name and binds to the one already loaded.
LibraryHandle open_library(const std::string& path, bool global_symbols, std::string& error) {
#if defined(_WIN32)
    (void)global_symbols;
    QuietLoadErrors quiet;
    // The DLL's own folder first for its dependencies (vcruntime140.dll beside python3XY.dll), then the
    // application folder, System32 and the AddDllDirectory folders; PATH is not searched.
    // LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR needs a fully qualified path (a relative --bridge-dir would fail).
    std::error_code ignored;
    const fs::path full_path = fs::absolute(to_path(path), ignored);
    HMODULE module = LoadLibraryExW(full_path.wstring().c_str(), nullptr,
                                    LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
    if (module == nullptr) {
        const DWORD code = GetLastError();
        error = detail::system_error_message(code);
        if (code == ERROR_MOD_NOT_FOUND) {
            error +=
                ": a DLL it depends on was not found (the Visual C++ runtime, or for conda the Home's "
                "Library\\bin)";
        } else if (code == ERROR_BAD_EXE_FORMAT) {
            error += ": it is built for another CPU architecture than this process (" + process_arch() + ")";
        }
    }
    return LibraryHandle(module);
#else
    void* handle = dlopen(path.c_str(), RTLD_NOW | (global_symbols ? RTLD_GLOBAL : RTLD_LOCAL));
    if (handle == nullptr) {
        error = dlerror();
    }
    return LibraryHandle(handle);
#endif
}

void* find_symbol(void* library, const char* name) {
#if defined(_WIN32)
    return reinterpret_cast<void*>(GetProcAddress(static_cast<HMODULE>(library), name));
#else
    return dlsym(library, name);
#endif
}

#if defined(_WIN32)
// The folders numpy's (and the stdlib's) extension modules need for their dependent DLLs (24-windows: an
// extension whose DLL is only in a conda Home's Library\bin imports in the host, not in python.exe alone).
// They are process-wide and stay for the process lifetime once Python started; a failed start removes them.
class DllDirectories {
public:
    explicit DllDirectories(const std::string& base_prefix) {
        for (const std::string& subfolder : layout::windows_dll_subfolders()) {
            const fs::path folder = subfolder.empty() ? to_path(base_prefix) : to_path(base_prefix) / subfolder;
            if (is_dir(folder)) {
                if (DLL_DIRECTORY_COOKIE cookie = AddDllDirectory(folder.wstring().c_str())) {
                    cookies_.push_back(cookie);
                }
            }
        }
    }
    ~DllDirectories() {
        for (DLL_DIRECTORY_COOKIE cookie : cookies_) {
            RemoveDllDirectory(cookie);
        }
    }
    void keep() { cookies_.clear(); }
    DllDirectories(const DllDirectories&) = delete;
    DllDirectories& operator=(const DllDirectories&) = delete;

private:
    std::vector<DLL_DIRECTORY_COOKIE> cookies_;
};
#endif

}  // namespace

Runtime& Runtime::instance() {
    static Runtime runtime;
    return runtime;
}

const oe_pyproc_bridge_api* Runtime::api() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return api_;
}

std::string Runtime::home() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return home_;
}

std::string Runtime::bridge_path() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bridge_path_;
}

const oe_pyproc_bridge_api* Runtime::start(const Validation& home, const std::string& bridge_dir,
                                           std::string& error) try {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!home.ok) {
        error = "the Home was not validated: " + home.reason;
        return nullptr;
    }
    if (api_ != nullptr) {
        if (home.info.path == home_) {
            return api_;
        }
        error = "Python is already running in this process with Home " + home_ + "; refusing Home " + home.info.path +
                ": restart the GUI to switch Home";
        return nullptr;
    }
#if defined(_WIN32)
    DllDirectories dll_directories(home.info.base_prefix);
#endif
    std::string why;
    LibraryHandle libpython = open_library(home.info.libpython, true, why);
    if (!libpython) {
        error = "could not load " + home.info.libpython + ": " + why;
        return nullptr;
    }
    const std::string bridge =
        from_path(to_path(layout::bundle_bridge_dir(bridge_dir)) / bridge_file_name(home.info.major, home.info.minor));
    LibraryHandle bridge_handle = open_library(bridge, false, why);
    if (!bridge_handle) {
        error = "could not load the bridge " + bridge + ": " + why;
        return nullptr;
    }
    auto get_api =
        reinterpret_cast<oe_pyproc_bridge_get_api_fn>(find_symbol(bridge_handle.get(), "oe_pyproc_bridge_get_api"));
    const oe_pyproc_bridge_api* api = get_api != nullptr ? get_api(OE_PYPROC_BRIDGE_ABI_VERSION) : nullptr;
    if (api == nullptr || api->struct_size < sizeof(oe_pyproc_bridge_api) ||
        api->python_minor != static_cast<uint32_t>(home.info.minor)) {
        error = "the bridge " + bridge + " does not match (C ABI " + std::to_string(OE_PYPROC_BRIDGE_ABI_VERSION) +
                ", Python " + home.info.version + " expected)";
        return nullptr;
    }
    const std::string base_home = home.info.base_prefix;
    const std::string executable = home.info.executable;
    oe_pyproc_python_config config{sizeof(oe_pyproc_python_config), base_home.c_str(), executable.c_str(), nullptr, 0};
    char message[2048] = {};
    const int status = api->initialize(&config, message, sizeof(message));
    // From here on Python may have run: never unload either library, nor drop the DLL folders it may use.
#if defined(_WIN32)
    dll_directories.keep();
#endif
    libpython_handle_ = libpython.release();
    bridge_handle_ = bridge_handle.release();
    if (status != OE_PYPROC_OK) {
        error = std::string("Python did not start: ") + message;
        return nullptr;
    }
    api_ = api;
    home_ = home.info.path;
    bridge_path_ = bridge;
    return api_;
} catch (const std::exception& failure) {
    // No exception reaches the GUI's callbacks (out of memory, a file system error): an error like the others.
    error = std::string("Python could not be started: ") + failure.what();
    return nullptr;
}

}  // namespace oe_pyproc
