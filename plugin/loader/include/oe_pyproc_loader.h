// oe_pyproc_loader.h — Home resolution, validation and the two-stage loading of libpython + bridge.
//
// No JUCE and no Python headers: the Open Ephys adapter and the headless host link this (static, PIC)
// library; the adapter itself is loaded by the GUI with dlopen(RTLD_LOCAL). Nothing here starts Python
// until Runtime::start() is given a Home that validate_home() accepted.
//
// Linux is verified. The Windows branch (LoadLibraryExW of python3XY.dll by full path) runs under wine in CI
// (.ci/parts/24-windows.sh) with the real Windows CPython and numpy; wine is not Windows (plugin/README.md
// lists what it cannot show). The macOS branch (dlopen of libpython3.X.dylib) is written to the platform's
// documentation and is unverified.
#pragma once

#include "oe_pyproc_bridge.h"

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace oe_pyproc {

// Where a candidate Home came from, in resolution order (DESIGN §4).
enum class HomeOrigin {
    Chain,            // the chain's python_home parameter (host: --python-home)
    DefaultHomeFile,  // <root>/configs-api<N>/oe-pyproc.json "python_home"
    InstallManifest,  // <root>/plugins-api<N>/oe-pyproc-manifest.json "source_prefix"
    HostPrefix,       // the environment oe-pyproc-host is installed in (host only, after the manifest)
    Chooser,          // a folder chooser (adapter only, never when headless)
};
const char* to_string(HomeOrigin origin);

struct HomeCandidate {
    std::string path;  // may be empty: "not set" is a skip reason too
    HomeOrigin origin;
};

// What the files of a Home say (no process started, nothing imported).
struct HomeInfo {
    std::string path;         // as given, made absolute
    bool is_venv = false;     // pyvenv.cfg present
    std::string base_prefix;  // the base installation (== path unless venv)
    std::string executable;   // path/bin/python3, else bin/python3.X (Windows: python.exe, venv Scripts\python.exe)
    std::string version;      // "3.10" (from lib/python3.X or pyvenv.cfg)
    int major = 0, minor = 0;
    std::string libpython;  // base_prefix/lib/libpython3.X.so.1.0 (macOS .dylib, Windows base\python3XY.dll)
    std::string arch;       // of the interpreter: "x86_64", "arm64"; universal: "x86_64,arm64"; "" unknown
    std::string numpy_dir;  // site-packages/numpy found by scanning, "" if not found
};

struct Validation {
    bool ok = false;
    std::string reason;         // why not (one line, names the path and what to do); empty when ok
    HomeInfo info;              // filled as far as inspection got
    std::string numpy_version;  // from the subprocess check
};

// Which file layout a Home has: POSIX (bin/python3, lib/python3.X, lib/libpython3.X.so) or Windows
// (python.exe, Lib\, python3XY.dll; a venv's Scripts\python.exe). Native is the layout of this build; the
// other one can be inspected too, so the Windows rules are tested on Linux.
// macOS is POSIX with libpython3.X.dylib or a framework's Python binary instead of libpython3.X.so.
enum class HomeLayout { Posix, MacOS, Windows };
HomeLayout native_home_layout();

struct ValidationOptions {
    HomeLayout layout = native_home_layout();  // another one only to test those rules on this machine
    std::string bridge_dir;  // where oe_pyproc_bridge_cp3XY.bridge live (macOS: or python-processor.bundle)
    std::chrono::milliseconds import_timeout{20000};  // for `<python> -I -c "import numpy"`
    bool check_numpy_import = true;
};

// Inspect a Home from its files only. Returns a reason string on failure (empty when it looks usable).
// Paths are UTF-8 (converted to UTF-16 on Windows).
std::string inspect_home(const std::string& path, HomeInfo& info);
std::string inspect_home(const std::string& path, HomeInfo& info, HomeLayout layout);

// Files + bridge presence + architecture + subprocess `import numpy` with timeout. Never throws, never
// starts Python in this process.
Validation validate_home(const std::string& path, const ValidationOptions& options);

// Candidate helpers (DESIGN §5 files). Return "" when the file is absent or has no such key; a malformed
// file gives "" and sets *problem.
std::string read_default_home_file(const std::string& gui_root, int api, std::string* problem = nullptr);
std::string read_manifest_source_prefix(const std::string& gui_root, int api, std::string* problem = nullptr);
// The saved-state root of the GUI for the current user (Linux: ~/.config/open-ephys; macOS:
// ~/Library/Application Support/open-ephys, unverified; Windows: %LOCALAPPDATA%\Open Ephys, under wine).
std::string default_gui_root();

// File name of the bridge for a Python version, e.g. "oe_pyproc_bridge_cp310.bridge".
std::string bridge_file_name(int major, int minor);

// `text` as a JSON string literal (quotes, escapes, control characters as \u00XX); UTF-8 passes through,
// each byte that is not part of well-formed UTF-8 becomes \udcXX (Python's surrogateescape: json.loads then
// os.fsencode restore the bytes).
// Shared by the host's report and the adapter's status so both write the same JSON.
std::string json_quote(const std::string& text);
// Architectures in an executable or library: ELF, Mach-O (thin or universal) or PE, from its header;
// names "x86_64", "arm64", "x86", "arm", ... (DESIGN §5, the CLI's names too); empty when the format is not recognised.
std::vector<std::string> binary_architectures(const std::string& path);
// CPU architecture this process runs as ("x86_64", "arm64", ...; under Rosetta: x86_64).
std::string process_arch();

// The process-wide Python runtime: libpython (global symbols) + the bridge (local). One per process; the
// first successful start() fixes the Home, a later different Home is refused (never re-initialised).
class Runtime {
public:
    static Runtime& instance();

    // Load libpython RTLD_NOW|RTLD_GLOBAL, then the bridge RTLD_NOW|RTLD_LOCAL, then initialize Python.
    // Windows (run under wine): AddDllDirectory for the base, DLLs and Library\bin, then LoadLibraryExW of
    // python3XY.dll and of the bridge by full path (LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR|..._DEFAULT_DIRS).
    // Returns nullptr and sets error on failure; the process keeps running and a later call with another
    // (good) Home may still succeed as long as Python was never started.
    const oe_pyproc_bridge_api* start(const Validation& home, const std::string& bridge_dir, std::string& error);

    const oe_pyproc_bridge_api* api() const;  // nullptr until started
    std::string home() const;                 // the Home Python runs with ("" until started)
    std::string bridge_path() const;

    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

private:
    Runtime() = default;
    mutable std::mutex mutex_;
    const oe_pyproc_bridge_api* api_ = nullptr;
    std::string home_;
    std::string bridge_path_;
    void* libpython_handle_ = nullptr;  // kept open for the process lifetime
    void* bridge_handle_ = nullptr;
};

}  // namespace oe_pyproc
