// The loader's architecture check from crafted headers of the published formats (ELF, thin and universal
// Mach-O, PE) and a real interpreter; a Home whose interpreter is of another architecture is refused.
//   test_binary_architectures <work_dir> <bridge_dir> <real_python>
#include "oe_pyproc_loader.h"
#include "test_support.h"

#include <filesystem>
#include <fstream>
#include <vector>

namespace {

using Bytes = std::vector<unsigned char>;

void put_u32(Bytes& bytes, size_t at, uint32_t value, bool little) {
    for (int i = 0; i < 4; ++i) {
        bytes[at + i] = static_cast<unsigned char>(little ? value >> (8 * i) : value >> (8 * (3 - i)));
    }
}

std::string write(const std::filesystem::path& path, const Bytes& bytes) {
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path.string();
}

Bytes elf(unsigned machine) {
    Bytes bytes(64, 0);
    bytes[0] = 0x7F, bytes[1] = 'E', bytes[2] = 'L', bytes[3] = 'F', bytes[4] = 2, bytes[5] = 1;
    bytes[18] = static_cast<unsigned char>(machine & 0xFF), bytes[19] = static_cast<unsigned char>(machine >> 8);
    return bytes;
}

Bytes thin_macho(uint32_t cpu) {
    Bytes bytes(64, 0);
    put_u32(bytes, 0, 0xFEEDFACF, true);
    put_u32(bytes, 4, cpu, true);
    return bytes;
}

Bytes universal_macho(const std::vector<uint32_t>& cpus) {
    Bytes bytes(8 + 20 * cpus.size() + 16, 0);
    put_u32(bytes, 0, 0xCAFEBABE, false);
    put_u32(bytes, 4, static_cast<uint32_t>(cpus.size()), false);
    for (size_t k = 0; k < cpus.size(); ++k) {
        put_u32(bytes, 8 + 20 * k, cpus[k], false);
    }
    return bytes;
}

Bytes pe(unsigned machine) {
    Bytes bytes(0x100, 0);
    bytes[0] = 'M', bytes[1] = 'Z';
    put_u32(bytes, 0x3C, 0x80, true);
    bytes[0x80] = 'P', bytes[0x81] = 'E';
    bytes[0x84] = static_cast<unsigned char>(machine & 0xFF), bytes[0x85] = static_cast<unsigned char>(machine >> 8);
    return bytes;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s WORK_DIR BRIDGE_DIR REAL_PYTHON\n", argv[0]);
        return 2;
    }
    namespace fs = std::filesystem;
    const fs::path work = argv[1];
    fs::create_directories(work);
    using oe_pyproc::binary_architectures;
    using List = std::vector<std::string>;
    CHECK(binary_architectures(write(work / "elf-x86_64", elf(0x3E))) == List{"x86_64"});
    CHECK(binary_architectures(write(work / "elf-aarch64", elf(0xB7))) == List{"arm64"});
    CHECK(binary_architectures(write(work / "macho-arm64", thin_macho(0x0100000C))) == List{"arm64"});
    CHECK(binary_architectures(write(work / "macho-universal", universal_macho({0x01000007, 0x0100000C}))) ==
          (List{"x86_64", "arm64"}));
    CHECK(binary_architectures(write(work / "pe-amd64", pe(0x8664))) == List{"x86_64"});
    CHECK(binary_architectures(write(work / "pe-arm64", pe(0xAA64))) == List{"arm64"});
    Bytes java(64, 0);
    put_u32(java, 0, 0xCAFEBABE, false);
    put_u32(java, 4, 0x34, false);  // a class file version, not an architecture count
    CHECK(binary_architectures(write(work / "Java.class", java)).empty());
    CHECK(binary_architectures(write(work / "text", Bytes{'#', '!', '/', 'b', 'i', 'n', '\n', 0})).empty());
    CHECK(binary_architectures((work / "missing").string()).empty());
    CHECK(binary_architectures(argv[3]) == List{oe_pyproc::process_arch()});

    // A Home complete by its files whose interpreter is an arm64-only Mach-O binary: refused by architecture.
    const fs::path home = work / "foreign-home";
    fs::create_directories(home / "bin");
    fs::create_directories(home / "lib" / "python3.10" / "encodings");
    fs::create_directories(home / "lib" / "python3.10" / "site-packages" / "numpy");
    for (const auto& file :
         {home / "lib" / "python3.10" / "os.py", home / "lib" / "python3.10" / "encodings" / "__init__.py",
          home / "lib" / "python3.10" / "site-packages" / "numpy" / "__init__.py",
          home / "lib" / "libpython3.10.so.1.0"}) {
        std::ofstream(file) << "\n";
    }
    write(home / "bin" / "python3", thin_macho(oe_pyproc::process_arch() == "arm64" ? 0x01000007 : 0x0100000C));
    oe_pyproc::ValidationOptions options;
    options.bridge_dir = argv[2];
    const oe_pyproc::Validation validation = oe_pyproc::validate_home(home.string(), options);
    std::printf("foreign Home: %s\n", validation.reason.c_str());
    CHECK(!validation.ok);
    CHECK(validation.reason.find("but this process runs as " + oe_pyproc::process_arch()) != std::string::npos);
    return test_result();
}
