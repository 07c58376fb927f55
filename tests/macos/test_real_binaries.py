"""The CLI's and the loader's Mach-O reading on real macOS binaries from PyPI's wheels: architectures,
code signatures (cross-checked with openssl), the doctor's signature check and install's stop."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from oe_pyproc_setup.binfmt import read_binary_info
from oe_pyproc_setup.macos.library_validation import library_validation_verdict
from oe_pyproc_setup.macos.signature import DISABLE_LIBRARY_VALIDATION, SliceSignature, read_signatures

KITWARE_TEAM = "W38PE5Y733"
CMAKE_ENTITLEMENTS = {"com.apple.security.cs.allow-dyld-environment-variables": True}
Cli = Callable[..., subprocess.CompletedProcess[str]]


def tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in root.rglob("*")}


def every_macho(mac_binaries) -> list[Path]:
    found = [mac_binaries["cmake"]]
    for package in (mac_binaries["numpy_arm64"], mac_binaries["numpy_x86_64"]):
        found += sorted(package.rglob("*.so")) + sorted(package.rglob("*.dylib"))
    return found


def test_architectures_of_the_real_binaries(mac_binaries: dict[str, Path], cmake_arm64: Path) -> None:
    cmake = read_binary_info(mac_binaries["cmake"])
    assert cmake is not None and cmake.format == "macho-fat" and cmake.archs == ("x86_64", "arm64")
    assert cmake.bits == 64
    for path, arch in (
        (mac_binaries["umath_arm64"], "arm64"),
        (mac_binaries["openblas_arm64"], "arm64"),
        (mac_binaries["umath_x86_64"], "x86_64"),
        (cmake_arm64, "arm64"),
    ):
        info = read_binary_info(path)
        assert info is not None and (info.format, info.archs, info.bits) == ("macho", (arch,), 64), path


def test_the_loader_reads_the_same_architectures(mac_binaries: dict[str, Path], arch_probe: Path) -> None:
    files = every_macho(mac_binaries)
    assert len(files) > 40  # numpy's extension modules and bundled libraries of both wheels
    output = subprocess.run(
        [str(arch_probe), *map(str, files)], capture_output=True, text=True, check=True
    ).stdout
    pairs = (line.split("\t", 1) for line in output.splitlines())
    loader = {Path(path): archs.split(",") for archs, path in pairs}
    for path in files:
        info = read_binary_info(path)
        assert info is not None, path
        assert loader[path] == list(info.archs), path  # one vocabulary (DESIGN §5): arm64 on both sides
    assert {tuple(archs) for archs in loader.values()} == {("x86_64", "arm64"), ("arm64",), ("x86_64",)}


def openssl_team_ids(binary: Path, entry_index: int) -> set[str]:
    """The team ids (OU=) of the certificates in a slice's CMS signature, as openssl prints them."""
    data = binary.read_bytes()
    start = 0
    for _ in range(entry_index + 1):
        start = data.index(b"\xfa\xde\x0b\x01", start + 1)  # the CMS wrapper blob of the slice
    length = int.from_bytes(data[start + 4 : start + 8], "big")
    printed = subprocess.run(
        ["openssl", "pkcs7", "-inform", "DER", "-print_certs", "-noout"],
        input=data[start + 8 : start + length],
        capture_output=True,
        check=True,
    ).stdout.decode()
    return set(re.findall(r"\bOU\s*=\s*([A-Z0-9]{10})\b", printed))


def test_the_hardened_universal_binary(mac_binaries: dict[str, Path]) -> None:
    slices = read_signatures(mac_binaries["cmake"])
    assert [s.arch for s in slices] == ["x86_64", "arm64"]
    for index, entry in enumerate(slices):
        assert entry.signed and entry.hardened_runtime and not entry.adhoc and entry.has_cms_signature
        assert (entry.identifier, entry.team_id) == ("cmake", KITWARE_TEAM)
        assert entry.signer == f"by team {KITWARE_TEAM}"
        assert entry.entitlements == CMAKE_ENTITLEMENTS and entry.der_entitlements == CMAKE_ENTITLEMENTS
        assert not entry.library_validation_disabled and entry.problems == []
        assert KITWARE_TEAM in openssl_team_ids(mac_binaries["cmake"], index)  # the certificate says the same
    verdict = library_validation_verdict(mac_binaries["cmake"])
    assert verdict is not None and verdict.refusing == ["x86_64", "arm64"]
    assert library_validation_verdict(mac_binaries["cmake"], "arm64").refusing == ["arm64"]  # type: ignore[union-attr]


def test_numpy_libraries_ad_hoc_signed_or_unsigned(mac_binaries: dict[str, Path]) -> None:
    """arm64 code must be signed (the linker signs it ad hoc); x86_64 code may be unsigned, and in
    numpy's x86_64 wheel only the libraries delocate rewrote are (re-)signed."""
    unsigned = []
    for path in every_macho(mac_binaries)[1:]:
        (entry,) = read_signatures(path)
        verdict = library_validation_verdict(path)
        assert verdict is not None and not verdict.refuses, path
        if not entry.signed:
            assert entry.arch == "x86_64" and entry.flags is None and entry.problems == [], path
            unsigned.append(path)
            continue
        assert entry.adhoc and not entry.has_cms_signature and entry.signer.startswith("ad hoc"), path
        assert (entry.hardened_runtime, entry.team_id, entry.entitlements) == (False, None, {}), path
        assert entry.identifier, path
    assert unsigned and all(p.is_relative_to(mac_binaries["numpy_x86_64"]) for p in unsigned)
    assert read_signatures(mac_binaries["umath_x86_64"])[0].signed


def test_xml_entitlements_granting_it_without_the_der_form(
    mac_binaries: dict[str, Path], tmp_path: Path
) -> None:
    """The real binary with its XML entitlements rewritten in place (same length) to grant the entitlement:
    library validation is then off only when the DER form agrees; here it does not, which is reported."""
    data = bytearray(mac_binaries["cmake"].read_bytes())
    old = b"com.apple.security.cs.allow-dyld-environment-variables"
    xml_key = b"<key>" + old + b"</key>"
    position = data.index(xml_key)
    padded = b"<key>" + DISABLE_LIBRARY_VALIDATION.encode() + b"</key>"
    data[position : position + len(xml_key)] = padded + b" " * (len(xml_key) - len(padded))
    edited = tmp_path / "cmake-edited"
    edited.write_bytes(bytes(data))
    first: SliceSignature = read_signatures(edited)[0]
    assert first.entitlements == {DISABLE_LIBRARY_VALIDATION: True}
    assert first.der_entitlements == CMAKE_ENTITLEMENTS and not first.library_validation_disabled
    assert "the XML and DER entitlements differ" in first.problems


def test_doctor_reports_library_validation_per_slice(cli: Cli, mac_binaries: dict[str, Path]) -> None:
    result = cli("doctor", "--json", "--check", "gui.entitlements", "--gui-exe", str(mac_binaries["cmake"]))
    assert result.returncode == 1, result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["status"] == "error"
    assert "macOS will refuse to load the oe-pyproc plugin" in finding["message"]
    assert f"team {KITWARE_TEAM}" in finding["message"]
    for arch in ("x86_64", "arm64"):
        assert (
            f"{arch}: signed by team {KITWARE_TEAM}, hardened runtime, library validation ON; entitlements: "
            "com.apple.security.cs.allow-dyld-environment-variables"
        ) in finding["details"]
    assert finding["remediation"]["commands"] == [
        f"oe-pyproc macos allow-plugins --gui-exe {mac_binaries['cmake']}"
    ]
    text = cli("doctor", "--check", "gui.entitlements", "--gui-exe", str(mac_binaries["cmake"]))
    assert text.returncode == 1 and "library validation ON" in text.stdout and "Traceback" not in text.stderr

    args = ("doctor", "--json", "--check", "gui.entitlements", "--gui-exe", str(mac_binaries["umath_arm64"]))
    numpy_so = cli(*args)
    (finding,) = json.loads(numpy_so.stdout)["findings"]
    assert numpy_so.returncode == 0 and finding["status"] == "ok"
    assert finding["details"] == [
        "arm64: signed ad hoc, no hardened runtime, library validation off; entitlements: none"
    ]


def crafted_app(binary: Path, folder: Path) -> Path:
    """An "Open Ephys GUI.app" bundle wrapping a real binary as its executable."""
    app = folder / "Open Ephys GUI.app"
    (app / "Contents" / "MacOS").mkdir(parents=True)
    shutil.copy2(binary, app / "Contents" / "MacOS" / "Open Ephys GUI")
    return app


@pytest.mark.parametrize("wrapped", [False, True], ids=["binary", "app"])
def test_install_stops_before_copying(
    cli: Cli,
    mac_binaries: dict[str, Path],
    plugin_prefix: Path,
    gui_root: Path,
    tmp_path: Path,
    wrapped: bool,
) -> None:
    gui_exe = crafted_app(mac_binaries["cmake"], tmp_path) if wrapped else mac_binaries["cmake"]
    before = tree(gui_root)
    args = ("install", "--prefix", str(plugin_prefix), "--gui-root", str(gui_root), "--gui-exe", str(gui_exe))
    result = cli(*args)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "macOS will refuse to load the oe-pyproc plugin" in result.stderr
    assert "hardened runtime" in result.stderr and DISABLE_LIBRARY_VALIDATION in result.stderr
    assert "Nothing was installed." in result.stderr
    assert f"oe-pyproc macos allow-plugins --gui-exe {shlex.quote(str(gui_exe))}" in result.stderr
    assert "--ignore-gui-signature" in result.stderr
    assert tree(gui_root) == before
    dry = cli(*args, "--dry-run")
    assert dry.returncode == 1 and "macOS will refuse" in dry.stderr
    anyway = cli(*args, "--ignore-gui-signature")
    assert anyway.returncode == 0, anyway.stderr
    assert (gui_root / "plugins-api10" / "oe-pyproc" / "python-processor.so").is_file()


def test_on_macos_the_app_in_applications_is_checked_without_gui_exe(
    mac_binaries: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS is simulated (platform.system and the /Applications path replaced): with no --gui-exe and no
    running GUI, doctor and install look at the app where the GUI's installer puts it."""
    from oe_pyproc_setup.doctor import context as context_module
    from oe_pyproc_setup.doctor.checks import gui_entitlements
    from oe_pyproc_setup.errors import UserFacingError
    from oe_pyproc_setup.macos import library_validation

    app = crafted_app(mac_binaries["cmake"], tmp_path)
    monkeypatch.setattr(library_validation, "DEFAULT_MACOS_APP", app)
    monkeypatch.setattr(library_validation.platform, "system", lambda: "Darwin")
    context = context_module.Context(gui_root=tmp_path / "root")
    monkeypatch.setattr(context_module.Context, "running_guis", [])
    assert context.gui_binary is not None
    assert context.gui_binary.path == app / "Contents" / "MacOS" / "Open Ephys GUI"
    assert context.gui_binary.source == "the app in /Applications"
    (finding,) = gui_entitlements.run(context)
    assert finding.status == "error" and "library validation admits only" in finding.message
    with pytest.raises(UserFacingError) as raised:
        library_validation.refuse_library_validation(None, [], "arm64")
    assert f"({app / 'Contents' / 'MacOS' / 'Open Ephys GUI'}, arm64): it is signed" in str(raised.value)
