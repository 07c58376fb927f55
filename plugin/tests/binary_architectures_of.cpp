// Prints what the loader reads from each binary's header, one line per file: "<archs, comma-separated>\t<path>"
// (empty archs when the format is not recognised). tests/macos compares it with the CLI's reading of the
// same real macOS binaries.
//   binary_architectures_of FILE...
#include "oe_pyproc_loader.h"

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE...\n", argv[0]);
        return 2;
    }
    for (int index = 1; index < argc; ++index) {
        std::string joined;
        for (const std::string& arch : oe_pyproc::binary_architectures(argv[index])) {
            joined += (joined.empty() ? "" : ",") + arch;
        }
        std::printf("%s\t%s\n", joined.c_str(), argv[index]);
    }
    return 0;
}
