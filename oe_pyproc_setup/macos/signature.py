"""A Mach-O's code signature, read from the published layouts (<mach-o/loader.h>, <mach-o/fat.h>, and the
code-signing blob formats of Apple's open-source `cs_blobs.h`): per architecture slice, whether it is
signed, ad hoc or by a team, with the hardened runtime, and its embedded entitlements (the XML plist and
the DER form newer macOS versions read). Nothing is executed.
"""

from __future__ import annotations

import plistlib
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from oe_pyproc_setup.binfmt import parse_binary_header
from oe_pyproc_setup.fsutil import ensure_regular

LC_CODE_SIGNATURE = 0x1D
SUPERBLOB_MAGIC = 0xFADE0CC0
CODEDIRECTORY_MAGIC = 0xFADE0C02
ENTITLEMENTS_MAGIC = 0xFADE7171
DER_ENTITLEMENTS_MAGIC = 0xFADE7172
CMS_WRAPPER_MAGIC = 0xFADE0B01
SLOT_CODEDIRECTORY = 0
SLOT_ENTITLEMENTS = 5
SLOT_DER_ENTITLEMENTS = 7
SLOT_SIGNATURE = 0x10000
# CodeDirectory flags (cs_blobs.h).
CS_ADHOC = 0x00000002
CS_REQUIRE_LV = 0x00002000
CS_RUNTIME = 0x00010000
CS_LINKER_SIGNED = 0x00020000
CD_VERSION_WITH_TEAM = 0x20200
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
    """One architecture slice's signature. `entitlements` is the XML plist (None: unsigned or unreadable),
    `der_entitlements` the DER form (None when the slice carries none, as older signatures do)."""

    arch: str
    signed: bool = False
    flags: int | None = None  # the CodeDirectory's flags
    identifier: str | None = None
    team_id: str | None = None
    has_cms_signature: bool = False  # a certificate-based (not ad hoc) signature is present
    entitlements: dict[str, Any] | None = None
    der_entitlements: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def hardened_runtime(self) -> bool | None:
        return None if self.flags is None else bool(self.flags & CS_RUNTIME)

    @property
    def adhoc(self) -> bool:
        return self.flags is not None and bool(self.flags & CS_ADHOC)

    @property
    def requires_library_validation(self) -> bool:
        """The signature itself asks for library validation (codesign --options library)."""
        return self.flags is not None and bool(self.flags & CS_REQUIRE_LV)

    @property
    def library_validation_disabled(self) -> bool:
        """The entitlement is granted in every form the slice carries (XML and, when present, DER)."""
        forms = [self.entitlements] + ([self.der_entitlements] if self.der_entitlements is not None else [])
        return all(form is not None and form.get(DISABLE_LIBRARY_VALIDATION) is True for form in forms)

    @property
    def signer(self) -> str:
        """Who signed it, in words: "ad hoc", "by team W38PE5Y733", "unsigned"."""
        if not self.signed:
            return "unsigned"
        if self.adhoc or not self.has_cms_signature:
            return "ad hoc" + (" (by the linker)" if self.flags and self.flags & CS_LINKER_SIGNED else "")
        return f"by team {self.team_id}" if self.team_id else "by a certificate without a team id"


def _read_at(handle: BinaryIO, offset: int, size: int) -> bytes:
    handle.seek(offset)
    return handle.read(size)


def _c_string(data: bytes, offset: int) -> str | None:
    if not 0 < offset < len(data):
        return None
    end = data.find(b"\0", offset)
    return data[offset : end if end >= 0 else len(data)].decode("utf-8", "replace")


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


def _read_code_directory(directory: bytes, result: SliceSignature) -> None:
    version, flags, _, ident_offset = struct.unpack_from(">IIII", directory, 8)
    result.flags = flags
    result.identifier = _c_string(directory, ident_offset)
    if version >= CD_VERSION_WITH_TEAM and len(directory) >= 52:
        (team_offset,) = struct.unpack_from(">I", directory, 48)
        result.team_id = _c_string(directory, team_offset)


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
        body = blob[offset : offset + length]
        if slot == SLOT_CODEDIRECTORY and magic == CODEDIRECTORY_MAGIC and len(body) >= 44:
            _read_code_directory(body, result)
        elif slot == SLOT_ENTITLEMENTS and magic == ENTITLEMENTS_MAGIC:
            try:
                value = plistlib.loads(body[8:])
            except (plistlib.InvalidFileException, ValueError, TypeError) as error:
                result.problems.append(f"entitlements are not a readable plist ({error})")
                continue
            result.entitlements = value if isinstance(value, dict) else {}
        elif slot == SLOT_DER_ENTITLEMENTS and magic == DER_ENTITLEMENTS_MAGIC:
            try:
                result.der_entitlements = parse_der_entitlements(body[8:])
            except ValueError as error:
                result.problems.append(f"DER entitlements are not readable ({error})")
        elif slot == SLOT_SIGNATURE and magic == CMS_WRAPPER_MAGIC:
            result.has_cms_signature = length > 8  # an ad hoc signature's wrapper is empty
    if result.flags is None:
        result.problems.append("no CodeDirectory in the signature")
    if result.entitlements is None:
        result.entitlements = {}
    if result.der_entitlements is not None and result.der_entitlements != result.entitlements:
        result.problems.append("the XML and DER entitlements differ")


# ------------------------------------------------------------------------------ DER entitlements

_DER_BOOLEAN, _DER_INTEGER, _DER_UTF8, _DER_SEQUENCE, _DER_DICT = 0x01, 0x02, 0x0C, 0x30, 0xB0
_DER_ENTITLEMENTS_ROOT = 0x70  # [APPLICATION 16] { INTEGER version, [16] dictionary }


def _der_item(data: bytes, offset: int) -> tuple[int, bytes, int]:
    """(tag, content, offset after the item) of the DER item at `offset`; ValueError when truncated."""
    if offset + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[offset], data[offset + 1]
    offset += 2
    if length & 0x80:
        size = length & 0x7F
        if size == 0 or size > 4 or offset + size > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[offset : offset + size], "big")
        offset += size
    if offset + length > len(data):
        raise ValueError("truncated")
    return tag, data[offset : offset + length], offset + length


def _der_items(content: bytes) -> list[tuple[int, bytes]]:
    items, offset = [], 0
    while offset < len(content):
        tag, body, offset = _der_item(content, offset)
        items.append((tag, body))
    return items


def _der_value(tag: int, body: bytes) -> Any:
    if tag == _DER_BOOLEAN:
        return body != b"\0"
    if tag == _DER_INTEGER:
        return int.from_bytes(body, "big", signed=True)
    if tag == _DER_UTF8:
        return body.decode("utf-8")
    if tag == _DER_SEQUENCE:
        return [_der_value(t, b) for t, b in _der_items(body)]
    if tag == _DER_DICT:
        entries: dict[str, Any] = {}
        for pair_tag, pair in _der_items(body):
            parts = _der_items(pair)
            if pair_tag != _DER_SEQUENCE or len(parts) != 2 or parts[0][0] != _DER_UTF8:
                raise ValueError("a dictionary entry is not a (key, value) pair")
            entries[parts[0][1].decode("utf-8")] = _der_value(*parts[1])
        return entries
    raise ValueError(f"unknown DER tag 0x{tag:02x}")


def parse_der_entitlements(data: bytes) -> dict[str, Any]:
    """Apple's DER entitlements: [APPLICATION 16] {INTEGER 1, [16] {SEQUENCE {UTF8String, value}...}}."""
    tag, root, _ = _der_item(data, 0)
    parts = _der_items(root) if tag == _DER_ENTITLEMENTS_ROOT else []
    if len(parts) != 2 or parts[0][0] != _DER_INTEGER or parts[1][0] != _DER_DICT:
        raise ValueError("not an entitlements structure")
    value = _der_value(*parts[1])
    if not isinstance(value, dict):
        raise ValueError("not an entitlements dictionary")
    return value


def read_signatures(path: Path) -> list[SliceSignature]:
    """One entry per slice (one for a thin Mach-O); [] when `path` is not a Mach-O. OSError propagates."""
    ensure_regular(path)  # never blocks on a FIFO: NotARegularFile is an OSError
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
