// The loader's Win32 pieces, cross-compiled with mingw-w64 and run under wine by .ci/parts/24-windows.sh
// (which also runs the whole Windows branch on real Windows Pythons and Homes). UTF-8 <-> UTF-16, the quoting
// of command lines as CommandLineToArgvW reads them, CreateProcessW with output capture, exit code and the
// timeout kill, FormatMessageW texts, and LoadLibraryExW failures reported by Runtime::start.
//   test_loader_windows.exe <work_dir>        (runs itself as the child process with --child ...)
#include "home_layout.h"
#include "loader_platform.h"
#include "oe_pyproc_loader.h"
#include "test_support.h"

#include <windows.h>
#include <shellapi.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
using namespace oe_pyproc;

namespace {

std::vector<std::string> own_arguments() {
    int count = 0;
    wchar_t** wide = CommandLineToArgvW(GetCommandLineW(), &count);
    std::vector<std::string> args;
    for (int k = 0; k < count; ++k) {
        args.push_back(detail::from_wide(wide[k]));
    }
    LocalFree(wide);
    return args;
}

std::string own_path() {
    wchar_t buffer[MAX_PATH * 4];
    const DWORD length = GetModuleFileNameW(nullptr, buffer, MAX_PATH * 4);
    return detail::from_wide(std::wstring(buffer, length));
}

// The child: echo its arguments after --child, one per line, on stdout and stderr, then exit 7; or sleep.
int child(const std::vector<std::string>& args) {
    if (args.size() > 2 && args[2] == "sleep") {
        std::this_thread::sleep_for(std::chrono::seconds(60));
        return 0;
    }
    std::string text;
    for (size_t k = 2; k < args.size(); ++k) {
        text += args[k] + "\n";
    }
    DWORD written = 0;
    WriteFile(GetStdHandle(STD_OUTPUT_HANDLE), text.data(), static_cast<DWORD>(text.size()), &written, nullptr);
    WriteFile(GetStdHandle(STD_ERROR_HANDLE), "err\n", 4, &written, nullptr);
    return 7;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

void check_text_conversion() {
    const std::string utf8 = "Hom\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x90\x8D";  // é, 日本, a snake (surrogates)
    const std::wstring wide = detail::to_wide(utf8);
    CHECK(wide.size() == 10 && wide[3] == 0x00E9 && wide[5] == 0x65E5 && wide[8] == 0xD83D && wide[9] == 0xDC0D);
    CHECK(detail::from_wide(wide) == utf8);
    CHECK(detail::to_wide("").empty() && detail::from_wide(L"").empty());
}

void check_command_lines() {
    const std::vector<std::vector<std::string> > cases = {
        {"C:\\Program Files\\Python310\\python.exe", "-I", "-c", "import numpy, sys; sys.stdout.write('x')"},
        {"a.exe", "", "say \"hi\"", "C:\\dir with space\\", "back\\\\\"quote", "tab\there", "\\\\server\\share"},
    };
    for (const auto& argv : cases) {
        int count = 0;
        wchar_t** parsed = CommandLineToArgvW(detail::to_wide(layout::windows_command_line(argv)).c_str(), &count);
        std::vector<std::string> back;
        for (int k = 0; k < count; ++k) {
            back.push_back(detail::from_wide(parsed[k]));
        }
        LocalFree(parsed);
        CHECK(back == argv);
    }
}

void check_subprocess(const fs::path& work) {
    // A copy of this program under a non-ASCII name, so that the path goes through UTF-16.
    const fs::path copy = work / fs::u8path("chi\xC3\xA9ld dir") / "child.exe";
    fs::create_directories(copy.parent_path());
    fs::copy_file(fs::u8path(own_path()), copy, fs::copy_options::overwrite_existing);
    const std::vector<std::string> argv = {copy.u8string(), "--child", "a b", "quote\"d", "caf\xC3\xA9", ""};
    detail::SubprocessResult run = detail::run_subprocess(argv, std::chrono::seconds(30));
    CHECK(run.started && !run.timed_out && run.exit_code == 7);
    CHECK(contains(run.output, "a b\nquote\"d\ncaf\xC3\xA9\n\n"));  // the Windows code page must not mangle é
    CHECK(contains(run.output, "err\n"));

    const auto begin = std::chrono::steady_clock::now();
    run = detail::run_subprocess({copy.u8string(), "--child", "sleep"}, std::chrono::milliseconds(500));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    CHECK(run.started && run.timed_out && run.exit_code == -1);
    CHECK(seconds >= 0.5 && seconds < 10);

    run = detail::run_subprocess({(work / "missing.exe").u8string(), "-c", "pass"}, std::chrono::seconds(5));
    CHECK(!run.started && contains(run.output, "(Windows error 2)"));
}

void check_error_messages() {
    const std::string message = detail::system_error_message(ERROR_FILE_NOT_FOUND);
    CHECK(contains(message, "(Windows error 2)") && message.size() > std::string(" (Windows error 2)").size());
    CHECK(message.find('\r') == std::string::npos && message.find('\n') == std::string::npos);
    CHECK(!default_gui_root().empty() && contains(default_gui_root(), "\\Open Ephys"));
}

// Runtime::start refuses libraries that cannot load, with the system's reason, and stays startable.
void check_runtime_failures(const fs::path& work) {
    Validation home;
    home.ok = true;
    home.info.path = (work / "home").u8string();
    home.info.base_prefix = home.info.path;
    home.info.major = 3, home.info.minor = 10, home.info.version = "3.10";
    fs::create_directories(work / "home");
    std::ofstream(work / "home" / "python310.dll") << "not a DLL";
    home.info.libpython = (work / "home" / "python310.dll").u8string();
    std::string error;
    CHECK(Runtime::instance().start(home, work.u8string(), error) == nullptr);
    CHECK(contains(error, "could not load " + home.info.libpython) && contains(error, "(Windows error 193)"));
    home.info.libpython = (work / "home" / "gone.dll").u8string();
    CHECK(Runtime::instance().start(home, work.u8string(), error) == nullptr);
    CHECK(contains(error, "(Windows error 126)"));
    CHECK(Runtime::instance().api() == nullptr && Runtime::instance().home().empty());
}

// validate_home on a crafted Windows Home up to the subprocess check, whose "interpreter" here is this
// program: it cannot import numpy, so the Home is refused with the child's exit code and last line.
void check_validation(const fs::path& work) {
    const fs::path home = work / "valid-layout";
    const auto write = [](const fs::path& path, const std::string& text) {
        fs::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary) << text;
    };
    write(home / "python310.dll", "");
    write(home / "Lib" / "os.py", "");
    write(home / "Lib" / "encodings" / "__init__.py", "");
    write(home / "Lib" / "site-packages" / "numpy" / "__init__.py", "");
    fs::copy_file(fs::u8path(own_path()), home / "python.exe", fs::copy_options::overwrite_existing);
    ValidationOptions options;
    options.bridge_dir = (work / "bridges").u8string();
    fs::create_directories(work / "bridges");
    Validation validation = validate_home(home.u8string(), options);
    CHECK(!validation.ok && contains(validation.reason, "oe_pyproc_bridge_cp310.bridge not in"));
    write(work / "bridges" / "oe_pyproc_bridge_cp310.bridge", "");
    validation = validate_home(home.u8string(), options);
    CHECK(!validation.ok && contains(validation.reason, "numpy cannot be imported by") &&
          contains(validation.reason, "(exit 3): not an interpreter"));
}

}  // namespace

int main() {
    const std::vector<std::string> args = own_arguments();
    if (args.size() > 1 && args[1] == "--child") {
        return child(args);
    }
    if (args.size() > 1 && args[1] == "-I") {  // run by validate_home as the Home's "python.exe"
        std::fputs("not an interpreter\n", stderr);
        return 3;
    }
    if (args.size() != 2) {
        std::fprintf(stderr, "usage: test_loader_windows.exe WORK_DIR\n");
        return 2;
    }
    const fs::path work = fs::absolute(fs::u8path(args[1])).lexically_normal();
    fs::remove_all(work);
    fs::create_directories(work);
    check_text_conversion();
    check_command_lines();
    check_subprocess(work);
    check_error_messages();
    check_runtime_failures(work);
    check_validation(work);
    return test_result();
}
