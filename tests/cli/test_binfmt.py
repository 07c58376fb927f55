"""Architecture from binary headers: real ELF files from pyenv, crafted PE and Mach-O (thin and fat)
headers built from the published layouts."""

from __future__ import annotations

import platform
import struct
from pathlib import Path

import pytest

from oe_pyproc_setup.binfmt import BinaryInfo, normalize_machine, parse_binary_header, read_binary_info

HOST = normalize_machine(platform.machine())


def elf_header(bits: int, little: bool, machine: int) -> bytes:
    order = "<" if little else ">"
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if little else 2, 1, 0]) + bytes(8)
    # e_type (ET_DYN), e_machine, e_version; the rest of the header is zero for this purpose.
    return ident + struct.pack(order + "HHI", 3, machine, 1) + bytes(40)


def pe_file(machine: int, optional_magic: int, pe_offset: int = 0x80) -> bytes:
    dos = bytearray(pe_offset)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, pe_offset)
    # COFF header: Machine, NumberOfSections, TimeDateStamp, PointerToSymbolTable, NumberOfSymbols,
    # SizeOfOptionalHeader, Characteristics; then the optional header's Magic.
    coff = struct.pack("<HHIIIHH", machine, 1, 0, 0, 0, 240 if optional_magic == 0x20B else 224, 0x2022)
    return bytes(dos) + b"PE\0\0" + coff + struct.pack("<H", optional_magic) + bytes(64)


def macho_thin(magic: int, cputype: int, big_endian: bool) -> bytes:
    order = ">" if big_endian else "<"
    return struct.pack(order + "IiiIIII", magic, cputype, 3, 6, 10, 1000, 0x85) + bytes(16)


def macho_fat(cputypes: list[int], wide: bool = False) -> bytes:
    magic = 0xCAFEBABF if wide else 0xCAFEBABE
    data = struct.pack(">II", magic, len(cputypes))
    for index, cputype in enumerate(cputypes):
        offset = 0x4000 * (index + 1)
        if wide:
            data += struct.pack(">iiQQII", cputype, 0, offset, 0x1000, 14, 0)
        else:
            data += struct.pack(">iiIII", cputype, 0, offset, 0x1000, 14)
    return data + bytes(64)


@pytest.mark.parametrize(
    ("bits", "little", "machine", "arch"),
    [(64, True, 62, "x86_64"), (32, True, 3, "x86"), (64, True, 183, "arm64"), (32, True, 40, "arm"),
     (64, False, 21, "ppc64"), (64, True, 21, "ppc64le"), (64, True, 243, "riscv64")],
)  # fmt: skip
def test_crafted_elf(bits: int, little: bool, machine: int, arch: str) -> None:
    info = parse_binary_header(elf_header(bits, little, machine))
    assert info == BinaryInfo("elf", (arch,), bits, "little" if little else "big")


def test_real_elf_interpreter_and_libpython(good_base: Path) -> None:
    for binary in (good_base / "bin" / "python3.10", good_base / "lib" / "libpython3.10.so.1.0"):
        info = read_binary_info(binary)
        assert info is not None
        assert info.format == "elf"
        assert info.archs == (HOST,)
        assert info.bits == struct.calcsize("P") * 8


@pytest.mark.parametrize(
    ("machine", "magic", "arch", "bits"),
    [(0x8664, 0x20B, "x86_64", 64), (0x14C, 0x10B, "x86", 32), (0xAA64, 0x20B, "arm64", 64)],
)
def test_crafted_pe(tmp_path: Path, machine: int, magic: int, arch: str, bits: int) -> None:
    dll = tmp_path / "python310.dll"
    dll.write_bytes(pe_file(machine, magic))
    assert read_binary_info(dll) == BinaryInfo("pe", (arch,), bits, "little")


def test_pe_header_beyond_first_page_is_found(tmp_path: Path) -> None:
    exe = tmp_path / "python.exe"
    exe.write_bytes(pe_file(0x8664, 0x20B, pe_offset=0x1800))
    info = read_binary_info(exe)
    assert info is not None and info.archs == ("x86_64",)


def test_mz_without_pe_signature_is_unknown() -> None:
    data = bytearray(pe_file(0x8664, 0x20B))
    data[0x80:0x84] = b"NE\0\0"
    assert parse_binary_header(bytes(data)) is None


@pytest.mark.parametrize(
    ("magic", "cputype", "big", "arch", "bits"),
    [
        (0xFEEDFACF, 0x0100000C, False, "arm64", 64),
        (0xFEEDFACF, 0x01000007, False, "x86_64", 64),
        (0xFEEDFACE, 7, False, "x86", 32),
        (0xFEEDFACE, 18, True, "ppc", 32),
        (0xFEEDFACF, 0x01000007, True, "x86_64", 64),
    ],
)
def test_crafted_macho_thin(magic: int, cputype: int, big: bool, arch: str, bits: int) -> None:
    info = parse_binary_header(macho_thin(magic, cputype, big))
    assert info is not None
    assert (info.format, info.archs, info.bits) == ("macho", (arch,), bits)
    assert info.endian == ("big" if big else "little")


@pytest.mark.parametrize("wide", [False, True])
def test_crafted_macho_universal(tmp_path: Path, wide: bool) -> None:
    binary = tmp_path / "Python"
    binary.write_bytes(macho_fat([0x01000007, 0x0100000C], wide=wide))
    info = read_binary_info(binary)
    assert info == BinaryInfo("macho-fat", ("x86_64", "arm64"), 64, None)
    assert info.arch is None


def test_universal_with_mixed_widths_has_no_single_bit_count() -> None:
    info = parse_binary_header(macho_fat([7, 0x01000007]))
    assert info is not None and info.archs == ("x86", "x86_64") and info.bits is None


def test_java_class_file_is_not_universal_binary() -> None:
    assert parse_binary_header(b"\xca\xfe\xba\xbe\x00\x00\x00\x3d" + bytes(32)) is None


def test_not_binaries(tmp_path: Path) -> None:
    script = tmp_path / "python3"
    script.write_text('#!/bin/sh\nexec python3 "$@"\n')
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.so"
    truncated.write_bytes(b"\x7fELF\x02\x01")
    for path in (script, empty, truncated, tmp_path / "missing", tmp_path):
        assert read_binary_info(path) is None


def test_normalize_machine() -> None:
    assert normalize_machine("AMD64") == "x86_64"
    assert normalize_machine("aarch64") == "arm64"
    assert normalize_machine("i686") == "x86"
    assert normalize_machine("arm64") == "arm64"
