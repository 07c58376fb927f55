// The loader's platform-neutral layout rules: pyvenv.cfg parsing, venv bases, Windows DLL names and command
// lines, the macOS bundle's bridge folder, and the Windows Home layout inspected on crafted trees (python.exe,
// python3XY.dll and PE headers built from the published format). Runs on Linux in ctest and, cross-compiled,
// under wine (where the Windows layout is the native one).
//   test_loader_layout <work_dir>
#include "home_layout.h"
#include "oe_pyproc_loader.h"
#include "test_support.h"

#include <filesystem>
#include <fstream>
#include <vector>

namespace fs = std::filesystem;
using namespace oe_pyproc;

namespace {

void write_file(const fs::path& path, const std::string& text) {
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

// A PE header: "MZ", e_lfanew at 0x3C, "PE\0\0", then the COFF machine field.
std::string pe_header(unsigned machine) {
    std::string bytes(0x100, '\0');
    bytes[0] = 'M', bytes[1] = 'Z', bytes[0x3C] = '\x80';
    bytes[0x80] = 'P', bytes[0x81] = 'E';
    bytes[0x84] = static_cast<char>(machine & 0xFF), bytes[0x85] = static_cast<char>(machine >> 8);
    return bytes;
}

// A Windows installation as python.org and conda lay it out.
void make_windows_base(const fs::path& base, unsigned dll_machine = 0x8664) {
    write_file(base / "python.exe", pe_header(0x8664));
    write_file(base / "python310.dll", pe_header(dll_machine));
    write_file(base / "python3.dll", pe_header(0x8664));  // the stable ABI forwarder, never the one loaded
    write_file(base / "Lib" / "os.py", "");
    write_file(base / "Lib" / "encodings" / "__init__.py", "");
    write_file(base / "Lib" / "site-packages" / "numpy" / "__init__.py", "");
    fs::create_directories(base / "DLLs");
    fs::create_directories(base / "Library" / "bin");
}

std::string u8(const fs::path& path) {
    return path.u8string();
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

void check_pure_functions() {
    using namespace layout;
    const std::string cfg =
        "\xEF\xBB\xBFHome = C:\\Python310\r\ninclude-system-site-packages = false\r\n"
        "version = 3.10.11\r\nhome = second\r\n";
    CHECK(pyvenv_value(cfg, "home") == "C:\\Python310");  // BOM, CRLF, key case, first line wins
    CHECK(pyvenv_value(cfg, "version") == "3.10.11");
    CHECK(pyvenv_value(cfg, "include-system-site-packages") == "false");
    CHECK(pyvenv_value(cfg, "version_info").empty());
    CHECK(pyvenv_value("home=/usr/bin", "home") == "/usr/bin");

    CHECK(venv_base_prefix("/usr/local/bin", false) == "/usr/local");
    CHECK(venv_base_prefix("/opt/py/bin/", false) == "/opt/py");
    CHECK(venv_base_prefix("/bin", false) == "/");
    CHECK(venv_base_prefix("/opt/python-bin", false) == "/opt/python-bin");
    CHECK(venv_base_prefix("C:\\Users\\me\\miniforge3", true) == "C:\\Users\\me\\miniforge3");
    CHECK(venv_base_prefix(" C:\\Python310\\ ", true) == "C:\\Python310");
    CHECK(venv_base_prefix("C:\\", true) == "C:\\");

    int major = 0;
    int minor = 0;
    CHECK(windows_python_dll_name(3, 10) == "python310.dll");
    CHECK(parse_windows_python_dll_name("python310.dll", major, minor) && major == 3 && minor == 10);
    CHECK(parse_windows_python_dll_name("PYTHON313.DLL", major, minor) && minor == 13);
    CHECK(parse_windows_python_dll_name("python39.dll", major, minor) && minor == 9);
    CHECK(!parse_windows_python_dll_name("python3.dll", major, minor));
    CHECK(!parse_windows_python_dll_name("python310_d.dll", major, minor));
    CHECK(!parse_windows_python_dll_name("python313t.dll", major, minor));
    CHECK(!parse_windows_python_dll_name("python310.dll.bak", major, minor));
    CHECK(!parse_windows_python_dll_name("python3100.dll", major, minor));
    CHECK(windows_dll_subfolders() == (std::vector<std::string>{"", "DLLs", "Library\\bin"}));

    CHECK(windows_command_line({"C:\\Program Files\\Python310\\python.exe", "-I", "-c",
                                "import numpy, sys; sys.stdout.write(numpy.__version__)"}) ==
          "\"C:\\Program Files\\Python310\\python.exe\" -I -c \"import numpy, sys; "
          "sys.stdout.write(numpy.__version__)\"");
    CHECK(windows_command_line({"a.exe", ""}) == "a.exe \"\"");
    CHECK(windows_command_line({"a.exe", "say \"hi\""}) == "a.exe \"say \\\"hi\\\"\"");
    CHECK(windows_command_line({"a.exe", "C:\\dir with space\\"}) == "a.exe \"C:\\dir with space\\\\\"");
    CHECK(windows_command_line({"a.exe", "back\\\\\"quote"}) == "a.exe \"back\\\\\\\\\\\"quote\"");
    CHECK(windows_command_line({"a.exe", "C:\\plain\\path"}) == "a.exe C:\\plain\\path");

    CHECK(bundle_bridge_dir("/p/plugins-api10/python-processor.bundle") ==
          "/p/plugins-api10/python-processor.bundle/Contents/MacOS");
    CHECK(bundle_bridge_dir("/p/python-processor.bundle/") == "/p/python-processor.bundle/Contents/MacOS");
    CHECK(bundle_bridge_dir("/p/python-processor.bundle/Contents/MacOS") ==
          "/p/python-processor.bundle/Contents/MacOS");
    CHECK(bundle_bridge_dir("/usr/lib/oe-pyproc/plugins-api10/oe-pyproc") ==
          "/usr/lib/oe-pyproc/plugins-api10/oe-pyproc");
    CHECK(bundle_bridge_dir(".bundle") == ".bundle");
}

void check_windows_layout(const fs::path& work) {
    HomeInfo info;
    // A conda-like Home in a folder with non-ASCII characters (UTF-8 in, UTF-8 out).
    const fs::path base = work / fs::u8path("env \xC3\xA9t\xC3\xA9 \xE6\x97\xA5");
    make_windows_base(base);
    CHECK(inspect_home(u8(base), info, HomeLayout::Windows).empty());
    CHECK(!info.is_venv);
    CHECK(info.version == "3.10" && info.major == 3 && info.minor == 10);
    CHECK(info.path == u8(base));
    CHECK(info.base_prefix == u8(base));
    CHECK(info.executable == u8(base / "python.exe"));
    CHECK(info.libpython == u8(base / "python310.dll"));
    CHECK(info.arch == "x86_64");
    CHECK(info.numpy_dir == u8(base / "Lib" / "site-packages" / "numpy"));
    CHECK(inspect_home(u8(base) + "/", info, HomeLayout::Windows).empty() && info.path == u8(base));

    // A venv made from it: Scripts\python.exe, its own Lib\site-packages, `home` = the base's folder.
    const fs::path venv = work / "venv";
    write_file(venv / "pyvenv.cfg", "home = " + u8(base) +
                                        "\r\ninclude-system-site-packages = false\r\n"
                                        "version = 3.10.11\r\n");
    write_file(venv / "Scripts" / "python.exe", pe_header(0x8664));
    fs::create_directories(venv / "Lib" / "site-packages");
    CHECK(inspect_home(u8(venv), info, HomeLayout::Windows).empty());
    CHECK(info.is_venv && info.base_prefix == u8(base) && info.version == "3.10");
    CHECK(info.executable == u8(venv / "Scripts" / "python.exe"));
    CHECK(info.libpython == u8(base / "python310.dll"));
    CHECK(info.numpy_dir.empty());  // not in the venv, and the base's site-packages are not included
    write_file(venv / "pyvenv.cfg",
               "home = " + u8(base) + "\ninclude-system-site-packages = true\nversion = 3.10.11\n");
    CHECK(inspect_home(u8(venv), info, HomeLayout::Windows).empty());
    CHECK(info.numpy_dir == u8(base / "Lib" / "site-packages" / "numpy"));

    // What users get wrong, each with its reason.
    fs::remove(venv / "Scripts" / "python.exe");
    CHECK(contains(inspect_home(u8(venv), info, HomeLayout::Windows), "Scripts\\python.exe"));
    write_file(venv / "pyvenv.cfg", "home = " + u8(work / "gone") + "\nversion = 3.10.11\n");
    CHECK(contains(inspect_home(u8(venv), info, HomeLayout::Windows), "which no longer exists"));
    write_file(venv / "pyvenv.cfg", "version = 3.10.11\n");
    CHECK(contains(inspect_home(u8(venv), info, HomeLayout::Windows), "has no 'home' line"));

    const fs::path no_exe = work / "no-exe";
    make_windows_base(no_exe);
    fs::remove(no_exe / "python.exe");
    CHECK(contains(inspect_home(u8(no_exe), info, HomeLayout::Windows), "has no python.exe"));

    const fs::path only_stable_abi = work / "only-python3-dll";
    make_windows_base(only_stable_abi);
    fs::remove(only_stable_abi / "python310.dll");
    CHECK(contains(inspect_home(u8(only_stable_abi), info, HomeLayout::Windows), "no python3XY.dll"));

    const fs::path no_stdlib = work / "no-stdlib";
    make_windows_base(no_stdlib);
    fs::remove_all(no_stdlib / "Lib" / "encodings");
    CHECK(contains(inspect_home(u8(no_stdlib), info, HomeLayout::Windows), "No module named encodings"));

    const fs::path arm = work / "arm64";
    make_windows_base(arm, 0xAA64);  // the architecture is the DLL's: it is what LoadLibraryExW maps
    CHECK(inspect_home(u8(arm), info, HomeLayout::Windows).empty() && info.arch == "arm64");

    write_file(work / "a-file", "");
    CHECK(contains(inspect_home(u8(work / "a-file"), info, HomeLayout::Windows), "%USERPROFILE%"));
    CHECK(contains(inspect_home(u8(work / "missing"), info, HomeLayout::Windows), "does not exist"));
    // A Windows tree is no POSIX Home, whatever the platform.
    CHECK(contains(inspect_home(u8(base), info, HomeLayout::Posix), "has no bin/python3"));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s WORK_DIR\n", argv[0]);
        return 2;
    }
    const fs::path work = fs::absolute(fs::u8path(argv[1])).lexically_normal();  // as Homes are normalised
    fs::remove_all(work);
    fs::create_directories(work);
    check_pure_functions();
    check_windows_layout(work);
    return test_result();
}
