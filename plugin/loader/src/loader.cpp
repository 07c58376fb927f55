// Home resolution, validation (files + the Home's own interpreter in a subprocess) and the two-stage
// loading of libpython (global symbols) and the bridge (local symbols). Linux is verified here; the
// macOS branches follow the same POSIX calls and are unverified; Windows is not implemented yet
// (unverified design: LoadLibraryExW of python3XY.dll by full path, then the bridge).
#include "oe_pyproc_loader.h"

#include "json_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#if !defined(_WIN32)
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
        case HomeOrigin::Chooser: return "chooser";
    }
    return "unknown";
}

namespace {

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

std::string trim(const std::string& text) {
    const auto begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) {
        return "";
    }
    const auto end = text.find_last_not_of(" \t\r\n");
    return text.substr(begin, end - begin + 1);
}

// pyvenv.cfg "key = value" lines.
std::string pyvenv_value(const std::string& text, const std::string& key) {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        const auto equals = line.find('=');
        if (equals != std::string::npos && trim(line.substr(0, equals)) == key) {
            return trim(line.substr(equals + 1));
        }
    }
    return "";
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

std::string shared_library_suffix() {
#if defined(_WIN32)
    return ".dll";
#else
    return ".so";
#endif
}

std::string available_bridges(const std::string& bridge_dir) {
    std::vector<std::string> versions;
    std::error_code error;
    for (fs::directory_iterator it(bridge_dir, error), end; !error && it != end; it.increment(error)) {
        const std::string name = it->path().filename().string();
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

struct SubprocessResult {
    bool started = false;
    bool timed_out = false;
    int exit_code = -1;
    std::string output;  // stdout + stderr
};

#if !defined(_WIN32)
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
        case 0xB7: return "aarch64";
        case 0x03: return "i686";
        case 0x28: return "armv7l";
        case 0x15: return "ppc64le";
        default: return "elf-machine-" + std::to_string(machine);
    }
}

std::string macho_cpu_name(uint32_t cpu) {
    switch (cpu) {
        case 0x01000007: return "x86_64";
        case 0x0100000C: return "aarch64";  // arm64
        case 0x00000007: return "i686";
        case 0x0000000C: return "armv7l";
        default: return "macho-cpu-" + std::to_string(cpu);
    }
}

std::string pe_machine_name(unsigned machine) {
    switch (machine) {
        case 0x8664: return "x86_64";
        case 0xAA64: return "aarch64";
        case 0x014C: return "i686";
        default: return "pe-machine-" + std::to_string(machine);
    }
}

}  // namespace

std::vector<std::string> binary_architectures(const std::string& path) {
    std::ifstream stream(path, std::ios::binary);
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
    return "oe_pyproc_bridge_cp" + std::to_string(major) + std::to_string(minor) + shared_library_suffix();
}

std::string process_arch() {
#if defined(_WIN32)
    return "unknown";
#else
    utsname name{};
    if (uname(&name) != 0) {
        return "";
    }
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#else
    return name.machine;
#endif
#endif
}

std::string default_gui_root() {
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') {
        return "";
    }
#if defined(__APPLE__)
    return std::string(home) + "/Library/Application Support/open-ephys";
#else
    return std::string(home) + "/.config/open-ephys";
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
            *problem = file.string() + ": cannot be read";
        }
        return "";
    }
    std::map<std::string, std::string> strings;
    const std::string error = read_json_object_strings(text, strings);
    if (!error.empty()) {
        if (problem != nullptr) {
            *problem = file.string() + ": malformed JSON: " + error;
        }
        return "";
    }
    const auto found = strings.find(key);
    return found == strings.end() ? "" : found->second;
}
}  // namespace

std::string read_default_home_file(const std::string& gui_root, int api, std::string* problem) {
    return read_string_member(fs::path(gui_root) / ("configs-api" + std::to_string(api)) / "oe-pyproc.json",
                              "python_home", problem);
}

std::string read_manifest_source_prefix(const std::string& gui_root, int api, std::string* problem) {
    return read_string_member(fs::path(gui_root) / ("plugins-api" + std::to_string(api)) / "oe-pyproc-manifest.json",
                              "source_prefix", problem);
}

std::string inspect_home(const std::string& path_text, HomeInfo& info) {
    info = HomeInfo{};
    if (path_text.empty()) {
        return "no Home given";
    }
    std::error_code error;
    fs::path path = fs::absolute(fs::path(path_text), error);
    info.path = path.lexically_normal().string();
    if (!info.path.empty() && info.path.size() > 1 && info.path.back() == '/') {
        info.path.pop_back();
    }
    path = fs::path(info.path);
    if (fs::is_symlink(fs::symlink_status(path, error)) && !fs::exists(path, error)) {
        return info.path + " is a broken symbolic link";
    }
    if (!fs::exists(path, error)) {
        return info.path + " does not exist";
    }
    if (!is_dir(path)) {
        return info.path +
               " is a file, not a folder (a Python Home is the environment's folder, e.g. "
               "~/miniforge3/envs/oe-python-plugin)";
    }
#if defined(_WIN32)
    return "Windows Homes are not supported by this build yet (unverified platform)";
#else
    info.executable = (path / "bin" / "python3").string();
    const fs::path cfg = path / "pyvenv.cfg";
    fs::path base = path;
    std::string cfg_text;
    if (is_file(cfg) && read_text(cfg, cfg_text)) {
        info.is_venv = true;
        const std::string base_bin = pyvenv_value(cfg_text, "home");
        if (base_bin.empty()) {
            return info.path + "/pyvenv.cfg has no 'home' line: a broken virtual environment";
        }
        base = fs::path(base_bin).filename() == "bin" ? fs::path(base_bin).parent_path() : fs::path(base_bin);
        std::string version = pyvenv_value(cfg_text, "version_info");
        if (version.empty()) {
            version = pyvenv_value(cfg_text, "version");
        }
        parse_version(version, info.major, info.minor);
        if (!is_dir(base)) {
            return "the virtual environment " + info.path + " was made from " + base.string() +
                   ", which no longer exists: recreate the venv";
        }
    }
    info.base_prefix = base.string();
    if (!is_file(info.executable)) {
        return info.path +
               " has no bin/python3: not a Python installation (pick the environment's folder, the "
               "one containing bin/ and lib/)";
    }
    if (info.major == 0) {
        // The base's lib/python3.X folder holding the standard library.
        std::vector<std::pair<int, int> > found;
        for (fs::directory_iterator it(base / "lib", error), end; !error && it != end; it.increment(error)) {
            int major = 0;
            int minor = 0;
            const std::string name = it->path().filename().string();
            if (name.rfind("python", 0) == 0 && parse_version(name.substr(6), major, minor) &&
                name == "python" + std::to_string(major) + "." + std::to_string(minor)) {
                found.emplace_back(major, minor);
            }
        }
        if (found.empty()) {
            return info.path + " has no lib/python3.X folder: the standard library is missing";
        }
        std::sort(found.begin(), found.end());
        info.major = found.back().first;
        info.minor = found.back().second;
    }
    info.version = std::to_string(info.major) + "." + std::to_string(info.minor);
    const fs::path stdlib = base / "lib" / ("python" + info.version);
    if (!is_file(stdlib / "os.py") || !is_file(stdlib / "encodings" / "__init__.py")) {
        return "the standard library of Python " + info.version + " is missing under " + stdlib.string() +
               " (os.py, encodings/): Python would fail to start with 'No module named encodings'";
    }
#if defined(__APPLE__)
    const std::vector<std::string> names = {"libpython" + info.version + ".dylib"};
#else
    const std::vector<std::string> names = {"libpython" + info.version + ".so.1.0", "libpython" + info.version + ".so"};
#endif
    for (const auto& name : names) {
        if (is_file(base / "lib" / name)) {
            info.libpython = (base / "lib" / name).string();
            break;
        }
    }
    if (info.libpython.empty()) {
        return "no shared library " + names.front() + " in " + (base / "lib").string() +
               ": this Python was built without --enable-shared and cannot be embedded";
    }
    for (const auto& arch : binary_architectures(fs::canonical(info.executable, error).string())) {
        info.arch += (info.arch.empty() ? "" : ",") + arch;
    }
    // numpy by scanning (the subprocess check confirms it imports).
    std::vector<fs::path> site_dirs = {path / "lib" / ("python" + info.version) / "site-packages"};
    if (info.is_venv && pyvenv_value(cfg_text, "include-system-site-packages") == "true") {
        site_dirs.push_back(stdlib / "site-packages");
    }
    for (const auto& site : site_dirs) {
        if (is_file(site / "numpy" / "__init__.py")) {
            info.numpy_dir = (site / "numpy").string();
            break;
        }
    }
    return "";
#endif
}

Validation validate_home(const std::string& path, const ValidationOptions& options) {
    Validation validation;
    validation.reason = inspect_home(path, validation.info);
    if (!validation.reason.empty()) {
        return validation;
    }
    const HomeInfo& info = validation.info;
    if (info.major != 3 || info.minor < 10) {
        validation.reason = info.path + " is Python " + info.version + "; oe-pyproc needs 3.10 or newer";
        return validation;
    }
    const fs::path bridge = fs::path(options.bridge_dir) / bridge_file_name(info.major, info.minor);
    if (!is_file(bridge)) {
        validation.reason = info.path + " is Python " + info.version + ", which this plugin has no bridge for (" +
                            bridge.filename().string() + " not in " + options.bridge_dir +
                            "; bridges available: " + available_bridges(options.bridge_dir) + ")";
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
#if defined(_WIN32)
    validation.reason = "Windows is not supported by this build yet (unverified platform)";
    return validation;
#else
    if (options.check_numpy_import) {
        const SubprocessResult run =
            run_subprocess({info.executable, "-I", "-c", "import numpy, sys; sys.stdout.write(numpy.__version__)"},
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
#endif
    validation.ok = true;
    return validation;
}

Resolution resolve_home(const std::vector<HomeCandidate>& candidates, const ValidationOptions& options) {
    Resolution resolution;
    for (const auto& candidate : candidates) {
        ResolutionStep step{candidate, false, ""};
        if (resolution.chosen) {
            step.reason = "not needed: an earlier candidate was valid";
        } else if (candidate.path.empty()) {
            step.reason = "not set";
        } else {
            Validation validation = validate_home(candidate.path, options);
            if (validation.ok) {
                step.accepted = true;
                resolution.chosen = std::move(validation);
                resolution.chosen_origin = candidate.origin;
            } else {
                step.reason = validation.reason;
            }
        }
        resolution.steps.push_back(std::move(step));
    }
    return resolution;
}

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

const oe_pyproc_bridge_api* Runtime::start(const Validation& home, const std::string& bridge_dir, std::string& error) {
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
    error = "loading Python is not implemented on Windows yet (unverified platform)";
    return nullptr;
#else
    // Global symbols: numpy's extension modules resolve Py* against this libpython.
    void* libpython = dlopen(home.info.libpython.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (libpython == nullptr) {
        error = "could not load " + home.info.libpython + ": " + dlerror();
        return nullptr;
    }
    const std::string bridge = (fs::path(bridge_dir) / bridge_file_name(home.info.major, home.info.minor)).string();
    void* bridge_handle = dlopen(bridge.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (bridge_handle == nullptr) {
        error = "could not load the bridge " + bridge + ": " + dlerror();
        dlclose(libpython);
        return nullptr;
    }
    auto get_api = reinterpret_cast<oe_pyproc_bridge_get_api_fn>(dlsym(bridge_handle, "oe_pyproc_bridge_get_api"));
    const oe_pyproc_bridge_api* api = get_api != nullptr ? get_api(OE_PYPROC_BRIDGE_ABI_VERSION) : nullptr;
    if (api == nullptr || api->struct_size < sizeof(oe_pyproc_bridge_api) ||
        api->python_minor != static_cast<uint32_t>(home.info.minor)) {
        error = "the bridge " + bridge + " does not match (C ABI " + std::to_string(OE_PYPROC_BRIDGE_ABI_VERSION) +
                ", Python " + home.info.version + " expected)";
        dlclose(bridge_handle);
        dlclose(libpython);
        return nullptr;
    }
    const std::string base_home = home.info.base_prefix;
    const std::string executable = home.info.executable;
    oe_pyproc_python_config config{sizeof(oe_pyproc_python_config), base_home.c_str(), executable.c_str(), nullptr, 0};
    char message[2048] = {};
    const int status = api->initialize(&config, message, sizeof(message));
    if (status != OE_PYPROC_OK) {
        error = std::string("Python did not start: ") + message;
        // Python may be half-initialised: keep both libraries loaded, never unload a libpython that ran.
        libpython_handle_ = libpython;
        bridge_handle_ = bridge_handle;
        return nullptr;
    }
    libpython_handle_ = libpython;
    bridge_handle_ = bridge_handle;
    api_ = api;
    home_ = home.info.path;
    bridge_path_ = bridge;
    return api_;
#endif
}

}  // namespace oe_pyproc
