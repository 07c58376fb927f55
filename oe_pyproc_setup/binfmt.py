"""CPU architecture of a binary from its header alone: ELF, PE (Windows), Mach-O thin and fat/universal.

Only the published header layouts are read (ELF: System V gABI; PE: Microsoft PE/COFF spec; Mach-O:
<mach-o/loader.h> and <mach-o/fat.h>). Nothing is executed or loaded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from oe_pyproc_setup.fsutil import ensure_regular

BinaryFormat = Literal["elf", "pe", "macho", "macho-fat"]

# ELF e_machine values.
_ELF_MACHINES = {
    3: "x86",
    62: "x86_64",
    40: "arm",
    183: "arm64",
    243: "riscv",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
}
# PE/COFF Machine values.
_PE_MACHINES = {0x14C: "x86", 0x8664: "x86_64", 0xAA64: "arm64", 0xA641: "arm64", 0x1C0: "arm", 0x1C4: "arm"}
# Mach-O cputype values (CPU_ARCH_ABI64 = 0x01000000, CPU_ARCH_ABI64_32 = 0x02000000).
_MACHO_CPUS = {
    7: "x86",
    0x01000007: "x86_64",
    12: "arm",
    0x0100000C: "arm64",
    0x0200000C: "arm64_32",
    18: "ppc",
    0x01000012: "ppc64",
}
_MACHO_THIN = {
    b"\xfe\xed\xfa\xce": (">", 32),
    b"\xce\xfa\xed\xfe": ("<", 32),
    b"\xfe\xed\xfa\xcf": (">", 64),
    b"\xcf\xfa\xed\xfe": ("<", 64),
}
_FAT_MAGIC = 0xCAFEBABE
_FAT_MAGIC_64 = 0xCAFEBABF
# 0xCAFEBABE is also a Java class file; its next word (the class version, >= 45) tells them apart.
_MAX_FAT_ARCHS = 30


@dataclass(frozen=True)
class BinaryInfo:
    """What a binary's header says. `archs` are normalized names: x86_64, arm64, x86, arm, ppc64, ..."""

    format: BinaryFormat
    archs: tuple[str, ...]
    bits: int | None  # None for a fat file whose slices differ
    endian: Literal["little", "big"] | None = None

    @property
    def arch(self) -> str | None:
        """The single architecture, or None for a universal binary with several."""
        return self.archs[0] if len(self.archs) == 1 else None


def _name(table: dict[int, str], value: int) -> str:
    return table.get(value, f"unknown-0x{value:x}")


def _parse_elf(head: bytes) -> BinaryInfo | None:
    if len(head) < 20 or head[4] not in (1, 2) or head[5] not in (1, 2):
        return None
    bits = 32 if head[4] == 1 else 64
    order = "<" if head[5] == 1 else ">"
    (machine,) = struct.unpack_from(order + "H", head, 18)
    arch = _name(_ELF_MACHINES, machine)
    if arch == "ppc64" and order == "<":
        arch = "ppc64le"
    if arch == "riscv":
        arch = f"riscv{bits}"
    return BinaryInfo("elf", (arch,), bits, "little" if order == "<" else "big")


def _parse_pe(handle_bytes: bytes) -> BinaryInfo | None:
    if len(handle_bytes) < 0x40:
        return None
    (pe_offset,) = struct.unpack_from("<I", handle_bytes, 0x3C)
    if pe_offset + 26 > len(handle_bytes) or handle_bytes[pe_offset : pe_offset + 4] != b"PE\0\0":
        return None
    (machine,) = struct.unpack_from("<H", handle_bytes, pe_offset + 4)
    (optional_magic,) = struct.unpack_from("<H", handle_bytes, pe_offset + 24)
    bits = {0x10B: 32, 0x20B: 64}.get(optional_magic)
    return BinaryInfo("pe", (_name(_PE_MACHINES, machine),), bits, "little")


def _parse_macho_thin(head: bytes) -> BinaryInfo | None:
    order, bits = _MACHO_THIN[head[:4]]
    if len(head) < 8:
        return None
    (cputype,) = struct.unpack_from(order + "i", head, 4)
    return BinaryInfo(
        "macho", (_name(_MACHO_CPUS, cputype & 0xFFFFFFFF),), bits, "little" if order == "<" else "big"
    )


def _parse_macho_fat(head: bytes) -> BinaryInfo | None:
    magic, count = struct.unpack_from(">II", head, 0)
    if count == 0 or count > _MAX_FAT_ARCHS:
        return None
    entry_size = 32 if magic == _FAT_MAGIC_64 else 20  # fat_arch_64 / fat_arch
    if 8 + count * entry_size > len(head):
        return None
    archs: list[str] = []
    bits_seen: set[int] = set()
    for index in range(count):
        (cputype,) = struct.unpack_from(">I", head, 8 + index * entry_size)
        archs.append(_name(_MACHO_CPUS, cputype))
        bits_seen.add(64 if cputype & 0x01000000 else 32)
    bits = bits_seen.pop() if len(bits_seen) == 1 else None
    return BinaryInfo("macho-fat", tuple(archs), bits, None)


def parse_binary_header(head: bytes) -> BinaryInfo | None:
    """Parse the first bytes of a file (4 KiB is plenty for every supported format); None if unknown."""
    if head[:4] == b"\x7fELF":
        return _parse_elf(head)
    if head[:2] == b"MZ":
        return _parse_pe(head)
    if head[:4] in _MACHO_THIN:
        return _parse_macho_thin(head)
    if len(head) >= 8 and struct.unpack_from(">I", head, 0)[0] in (_FAT_MAGIC, _FAT_MAGIC_64):
        return _parse_macho_fat(head)
    return None


def read_binary_info(path: Path) -> BinaryInfo | None:
    """The format and architectures of the binary at `path` (symlinks followed); None if not a binary
    we know or not readable. A PE whose headers lie beyond the first 4 KiB is read further as needed."""
    try:
        ensure_regular(path)  # a FIFO given as --gui-exe would block the read for ever
        with open(path, "rb") as handle:
            head = handle.read(4096)
            if head[:2] == b"MZ" and len(head) >= 0x40:
                (pe_offset,) = struct.unpack_from("<I", head, 0x3C)
                if pe_offset + 26 > len(head) and pe_offset < 1 << 20:
                    handle.seek(0)
                    head = handle.read(pe_offset + 26)
    except OSError:
        return None
    return parse_binary_header(head)


def normalize_machine(machine: str) -> str:
    """platform.machine()-style names (AMD64, aarch64, i686, ...) to the names used in BinaryInfo.archs."""
    lowered = machine.lower()
    aliases = {
        "amd64": "x86_64",
        "x64": "x86_64",
        "x86_64": "x86_64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "i386": "x86",
        "i486": "x86",
        "i586": "x86",
        "i686": "x86",
        "x86": "x86",
        "armv7l": "arm",
        "armv6l": "arm",
        "ppc64le": "ppc64le",
    }
    return aliases.get(lowered, lowered)
