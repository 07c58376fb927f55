// The loader's verdict on Homes from their files only, for any layout: the shared Home-layout corpus
// (tests/homes_corpus) runs its Windows and macOS trees, which this machine cannot load, through the same
// validate_home the plugin uses, with the `import numpy` subprocess left out.
//
//   check_home_files --layout posix|macos|windows --bridge-dir DIR HOME...
//
// Prints one JSON object per Home and line: {"path": HOME, "ok": true|false, "reason": "..."}.
#include "oe_pyproc_loader.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    using namespace oe_pyproc;
    ValidationOptions options;
    options.check_numpy_import = false;
    std::vector<std::string> homes;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--layout" && i + 1 < argc) {
            const std::string name = argv[++i];
            if (name == "posix") {
                options.layout = HomeLayout::Posix;
            } else if (name == "macos") {
                options.layout = HomeLayout::MacOS;
            } else if (name == "windows") {
                options.layout = HomeLayout::Windows;
            } else {
                std::fprintf(stderr, "check_home_files: unknown layout %s\n", name.c_str());
                return 2;
            }
        } else if (arg == "--bridge-dir" && i + 1 < argc) {
            options.bridge_dir = argv[++i];
        } else {
            homes.push_back(arg);
        }
    }
    if (options.bridge_dir.empty() || homes.empty()) {
        std::fprintf(stderr, "usage: check_home_files --layout posix|macos|windows --bridge-dir DIR HOME...\n");
        return 2;
    }
    for (const std::string& home : homes) {
        const Validation validation = validate_home(home, options);
        std::printf("{\"path\": %s, \"ok\": %s, \"reason\": %s}\n", json_quote(home).c_str(),
                    validation.ok ? "true" : "false", json_quote(validation.reason).c_str());
    }
    return 0;
}
