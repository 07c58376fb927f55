// Pure string logic of Home layouts and process start-up, platform-neutral on purpose: the Windows and macOS
// rules are unit-tested on Linux (test_loader_layout) although those platforms cannot run here.
#pragma once

#include <string>
#include <vector>

namespace oe_pyproc {
namespace layout {

std::string trim(const std::string& text);

// pyvenv.cfg: the value of the first "key = value" line whose key matches case-insensitively (CPython's
// site.py lower-cases keys too); a UTF-8 byte order mark and CRLF line ends are tolerated. "" if absent.
std::string pyvenv_value(const std::string& text, const std::string& key);

// A leading "~" or "~/" (Windows also "~\\") replaced by `user_home`, as a shell or Python's
// os.path.expanduser would: a Home typed as ~/miniforge3/envs/x in a chain is found. "~user" is left as is.
std::string expand_user(const std::string& path, const std::string& user_home, bool windows);

// The base installation a venv's pyvenv.cfg `home =` names. POSIX: `home` is the base's bin/ folder, so its
// parent. Windows: `home` is the folder holding the base's python.exe, i.e. the base itself (as the Windows
// CPython's own `-m venv` writes it, 24-windows).
// Trailing separators are dropped.
std::string venv_base_prefix(const std::string& home_value, bool windows);

// Windows: "python310.dll" for 3.10; the inverse accepts only python3XY.dll (case-insensitive),
// not the stable-ABI python3.dll, a debug python310_d.dll or a free-threaded python313t.dll.
std::string windows_python_dll_name(int major, int minor);
bool parse_windows_python_dll_name(const std::string& file_name, int& major, int& minor);

// Windows: folders, relative to the base installation, added with AddDllDirectory before
// libpython is loaded so that extension modules' dependent DLLs resolve: the base itself (vcruntime140_1.dll
// of python.org installs), DLLs (libffi, sqlite of the stdlib's .pyd) and conda's Library\bin (MKL, OpenBLAS).
std::vector<std::string> windows_dll_subfolders();

// Windows: one command line from argv, quoted so that CommandLineToArgvW and the C runtime
// give back exactly argv (backslashes doubled only before a quote or the closing quote).
std::string windows_command_line(const std::vector<std::string>& argv);

// macOS (unverified): the bridges of python-processor.bundle live in Contents/MacOS beside its binary
// (DESIGN §5). A bridge folder naming the bundle itself is mapped there; any other folder is returned as is.
std::string bundle_bridge_dir(const std::string& bridge_dir);

}  // namespace layout
}  // namespace oe_pyproc
