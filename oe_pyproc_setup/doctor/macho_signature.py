"""A Mach-O's code signature, read from the published layouts (<mach-o/loader.h>, <mach-o/fat.h>, and the
code-signing blob formats of Apple's open-source `cs_blobs.h`): whether each slice is signed, with the
hardened runtime, and its embedded entitlements plist. Nothing is executed.

Whether the GUI 1.0 app actually lacks `disable-library-validation` is *unverified* (DESIGN §2).
"""

from __future__ import annotations

import plistlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from oe_pyproc_setup.binfmt import parse_binary_header

LC_CODE_SIGNATURE = 0x1D
SUPERBLOB_MAGIC = 0xFADE0CC0
CODEDIRECTORY_MAGIC = 0xFADE0C02
ENTITLEMENTS_MAGIC = 0xFADE7171
SLOT_CODEDIRECTORY = 0
SLOT_ENTITLEMENTS = 5
CS_RUNTIME = 0x00010000  # CodeDirectory flag: hardened runtime
DISABLE_LIBRARY_VALIDATION = "com.apple.security.cs.disable-library-validation"
_THIN = {
    b"\xfe\xed\xfa\xce": (">", 28),
    b"\xce\xfa\xed\xfe": ("<", 28),
    b"\xfe\xed\xfa\xcf": (">", 32),
    b"\xcf\xfa\xed\xfe": ("<", 32),
}
_MAX_SIGNATURE = 64 << 20


@dataclass
class SliceSignature:
    arch: str
    signed: bool = False
    hardened_runtime: bool | None = None
    entitlements: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def library_validation_disabled(self) -> bool:
        return bool(self.entitlements and self.entitlements.get(DISABLE_LIBRARY_VALIDATION) is True)


def _read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def _slice_signature(handle: BinaryIO, base: int, arch: str) -> SliceSignature:
    result = SliceSignature(arch)
    head = _read_at(handle, base, 32)
    if head[:4] not in _THIN:
        result.problems.append("not a Mach-O slice")
        return result
    order, header_size = _THIN[head[:4]]
    ncmds, sizeofcmds = struct.unpack_from(order + "II", head, 16)
    commands = _read_at(handle, base + header_size, min(sizeofcmds, 1 << 20))
    position = 0
    for _ in range(ncmds):
        if position + 8 > len(commands):
            break
        cmd, cmdsize = struct.unpack_from(order + "II", commands, position)
        if cmd == LC_CODE_SIGNATURE and position + 16 <= len(commands):
            dataoff, datasize = struct.unpack_from(order + "II", commands, position + 8)
            _read_superblob(_read_at(handle, base + dataoff, min(datasize, _MAX_SIGNATURE)), result)
            return result
        if cmdsize < 8:
            result.problems.append("malformed load command")
            break
        position += cmdsize
    return result


def _read_superblob(blob: bytes, result: SliceSignature) -> None:
    if len(blob) < 12 or struct.unpack_from(">I", blob, 0)[0] != SUPERBLOB_MAGIC:
        result.problems.append("LC_CODE_SIGNATURE does not point at a code-signature SuperBlob")
        return
    result.signed = True
    (count,) = struct.unpack_from(">I", blob, 8)
    for index in range(min(count, 64)):
        entry = 12 + index * 8
        if entry + 8 > len(blob):
            break
        slot, offset = struct.unpack_from(">II", blob, entry)
        if offset + 8 > len(blob):
            continue
        magic, length = struct.unpack_from(">II", blob, offset)
        if slot == SLOT_CODEDIRECTORY and magic == CODEDIRECTORY_MAGIC and offset + 16 <= len(blob):
            (flags,) = struct.unpack_from(">I", blob, offset + 12)
            result.hardened_runtime = bool(flags & CS_RUNTIME)
        elif slot == SLOT_ENTITLEMENTS and magic == ENTITLEMENTS_MAGIC:
            try:
                value = plistlib.loads(blob[offset + 8 : offset + length])
            except (plistlib.InvalidFileException, ValueError, TypeError) as error:
                result.problems.append(f"entitlements are not a readable plist ({error})")
                continue
            result.entitlements = value if isinstance(value, dict) else {}
    if result.entitlements is None:
        result.entitlements = {}


def read_signatures(path: Path) -> list[SliceSignature]:
    """One entry per slice (one for a thin Mach-O); [] when `path` is not a Mach-O. OSError propagates."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
        info = parse_binary_header(head)
        if info is None or info.format not in ("macho", "macho-fat"):
            return []
        if info.format == "macho":
            return [_slice_signature(handle, 0, info.archs[0])]
        magic, count = struct.unpack_from(">II", head, 0)
        wide = magic == 0xCAFEBABF
        entry_size = 32 if wide else 20
        slices = []
        for index, arch in enumerate(info.archs[:count]):
            entry = 8 + index * entry_size
            offset = struct.unpack_from(">Q" if wide else ">I", head, entry + 8)[0]
            slices.append(_slice_signature(handle, offset, arch))
        return slices
