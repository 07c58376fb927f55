"""`oe-pyproc macos allow-plugins` / `undo-allow-plugins` on an app wrapping the real hardened cmake binary.

On this (non-macOS) machine the commands print their plan and refuse to run codesign. The codesign path
itself can only be exercised here with a fake `codesign`: a script that records its arguments and rewrites
the app's signature files the way a re-sign does (the main executable becomes a crafted Mach-O carrying the
entitlements it was given, as the real codesign would embed them). Whether Apple's codesign accepts these
exact arguments on a real GUI has not been run here.
"""

from __future__ import annotations

import json
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.macos.resign import (
    backup_dir_for,
    execute_allow_plugins,
    execute_undo,
    plan_allow_plugins,
    plan_undo,
)
from oe_pyproc_setup.macos.signature import DISABLE_LIBRARY_VALIDATION, read_signatures

Cli = Callable[..., subprocess.CompletedProcess[str]]
CMAKE_ENTITLEMENTS = {"com.apple.security.cs.allow-dyld-environment-variables": True}

# The fake codesign: records argv, then signs like `codesign --force --deep` would touch the files: a new
# main executable (a thin arm64 Mach-O whose ad hoc, hardened signature embeds the --entitlements plist),
# a rewritten CodeResources, and a _CodeSignature added to a nested bundle. FAKE_CODESIGN_FAIL makes it
# fail half-way, after changing the main executable, as an interrupted re-sign could.
FAKE_CODESIGN = r"""
import json, os, plistlib, struct, sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_CODESIGN_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
app = Path(args[-1])
entitlements = plistlib.dumps(plistlib.loads(Path(args[args.index("--entitlements") + 1]).read_bytes()))
ident = b"fake.resigned\0"
directory = struct.pack(">IIIIIIIIIBBBBIII", 0xFADE0C02, 52 + len(ident), 0x20400, 0x10002, 52, 52,
                        0, 0, 0, 32, 2, 0, 12, 0, 0, 0) + ident
blobs = [(0, directory), (5, struct.pack(">II", 0xFADE7171, 8 + len(entitlements)) + entitlements)]
index, body, offset = b"", b"", 12 + 8 * len(blobs)
for slot, blob in blobs:
    index += struct.pack(">II", slot, offset)
    body += blob
    offset += len(blob)
signature = struct.pack(">III", 0xFADE0CC0, offset, len(blobs)) + index + body
command = struct.pack("<IIII", 0x1D, 16, 64, len(signature))
head = struct.pack("<IiiIIIII", 0xFEEDFACF, 0x0100000C, 0, 2, 1, len(command), 0, 0) + command
binary = next((app / "Contents" / "MacOS").iterdir())
binary.write_bytes(head + bytes(64 - len(head)) + signature)
if os.environ.get("FAKE_CODESIGN_FAIL"):
    print(os.environ["FAKE_CODESIGN_FAIL"], file=sys.stderr)
    sys.exit(1)
(app / "Contents" / "_CodeSignature" / "CodeResources").write_text("<plist>resealed</plist>\n")
nested = app / "Contents" / "PlugIns" / "Builtin.bundle" / "Contents" / "_CodeSignature"
nested.mkdir(parents=True, exist_ok=True)
(nested / "CodeResources").write_text("<plist>new</plist>\n")
"""


def tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in root.rglob("*")}


@pytest.fixture
def gui_app(mac_binaries: dict[str, Path], tmp_path: Path) -> Path:
    """ "Open Ephys GUI.app" around the real hardened universal binary, with a code-signature folder, a
    nested bundle holding a real (ad hoc signed) arm64 library, and a resource that is not code."""
    app = tmp_path / "Applications" / "Open Ephys GUI.app"
    contents = app / "Contents"
    for folder in ("MacOS", "_CodeSignature", "Resources", "PlugIns/Builtin.bundle/Contents/MacOS"):
        (contents / folder).mkdir(parents=True)
    shutil.copy2(mac_binaries["cmake"], contents / "MacOS" / "Open Ephys GUI")
    (contents / "_CodeSignature" / "CodeResources").write_text("<plist>original seal</plist>\n")
    shutil.copy2(mac_binaries["openblas_arm64"], contents / "PlugIns/Builtin.bundle/Contents/MacOS/Builtin")
    (contents / "Resources" / "icon.icns").write_bytes(b"not code")
    (contents / "Info.plist").write_bytes(plistlib.dumps({"CFBundleExecutable": "Open Ephys GUI"}))
    return app


@pytest.fixture
def fake_codesign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    script = tmp_path / "bin" / "codesign"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\n{FAKE_CODESIGN}")
    script.chmod(0o755)
    log = tmp_path / "codesign.log"
    monkeypatch.setenv("FAKE_CODESIGN_LOG", str(log))
    return script, log


def test_the_plan_and_the_refusal_off_macos(cli: Cli, gui_app: Path, tmp_path: Path) -> None:
    before = tree(gui_app.parent)
    backups = tmp_path / "backups"
    args = ("macos", "allow-plugins", "--gui-exe", str(gui_app), "--backup-dir", str(backups))
    result = cli(*args, "--yes")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Error: codesign exists only on macOS and this is Linux: nothing was changed" in result.stderr
    out = result.stdout
    assert "x86_64: signed by team W38PE5Y733, hardened runtime, library validation ON" in out
    assert "back up 3 files codesign may rewrite" in out
    for name in (
        "Contents/MacOS/Open Ephys GUI",
        "Contents/PlugIns/Builtin.bundle/Contents/MacOS/Builtin",
        "Contents/_CodeSignature/CodeResources",
    ):
        assert f"     {name}\n" in out
    assert "icon.icns" not in out and "Info.plist" not in out  # not code, not a signature
    backup = backup_dir_for(gui_app, backups)
    assert (
        "codesign --force --deep --options runtime --sign - --entitlements "
        f"'{backup}/entitlements.plist' '{gui_app}'"
    ) in out
    assert f"plus {DISABLE_LIBRARY_VALIDATION}" in out and "A GUI update or reinstall" in out
    assert tree(gui_app.parent) == before and not backups.exists()

    dry = cli(*args, "--dry-run")
    assert dry.returncode == 0 and dry.stdout.endswith("Dry run: nothing was changed.\n")
    assert tree(gui_app.parent) == before and not backups.exists()

    undo = cli("macos", "undo-allow-plugins", "--gui-exe", str(gui_app), "--backup-dir", str(backups))
    assert undo.returncode == 1 and "oe-pyproc has no backup of" in undo.stderr
    assert "Reinstall the GUI" in undo.stderr and "Traceback" not in undo.stderr

    missing = cli("macos", "allow-plugins", "--gui-exe", str(tmp_path / "nope.app"), "--dry-run")
    assert missing.returncode == 1 and "does not exist" in missing.stderr


def test_nothing_to_do_when_library_validation_is_off(cli: Cli, mac_binaries: dict[str, Path]) -> None:
    for binary in (
        mac_binaries["umath_arm64"],
        mac_binaries["numpy_x86_64"] / "random" / "mtrand.cpython-310-darwin.so",
    ):
        result = cli("macos", "allow-plugins", "--gui-exe", str(binary))
        assert result.returncode == 0 and "nothing to do" in result.stdout, result.stderr


def test_resign_and_undo_with_a_fake_codesign(
    cli: Cli, gui_app: Path, tmp_path: Path, fake_codesign: tuple[Path, Path]
) -> None:
    script, log = fake_codesign
    original = tree(gui_app)
    backups = tmp_path / "backups"
    plan = plan_allow_plugins(gui_app, backups)
    assert plan.entitlements == CMAKE_ENTITLEMENTS and not plan.already_allowed
    result = execute_allow_plugins(plan, codesign=str(script))

    (arguments,) = [json.loads(line) for line in log.read_text().splitlines()]
    entitlements_file = plan.backup_dir / "entitlements.plist"
    assert arguments == [
        "--force", "--deep", "--options", "runtime", "--sign", "-", "--entitlements", str(entitlements_file),
        str(gui_app),
    ]  # fmt: skip
    assert plistlib.loads(entitlements_file.read_bytes()) == {
        **CMAKE_ENTITLEMENTS,
        DISABLE_LIBRARY_VALIDATION: True,
    }
    assert (
        plistlib.loads((plan.backup_dir / "original-entitlements.plist").read_bytes()) == CMAKE_ENTITLEMENTS
    )
    assert result.still_refusing == []
    (resigned,) = read_signatures(gui_app / "Contents" / "MacOS" / "Open Ephys GUI")
    assert resigned.adhoc and resigned.hardened_runtime and resigned.library_validation_disabled
    record = json.loads((plan.backup_dir / "record.json").read_text())
    assert record["created"] == ["Contents/PlugIns/Builtin.bundle/Contents/_CodeSignature/CodeResources"]
    for name in record["files"]:
        assert (plan.backup_dir / "files" / name).read_bytes() == original[name]

    again = plan_allow_plugins(gui_app, backups)
    assert again.already_allowed  # a second run has nothing to do

    # The CLI shows the undo plan here, and refuses to act off macOS.
    refused = cli(
        "macos", "undo-allow-plugins", "--gui-exe", str(gui_app), "--backup-dir", str(backups), "--yes"
    )
    assert refused.returncode == 1 and "codesign exists only on macOS" in refused.stderr
    assert (
        "remove Contents/PlugIns/Builtin.bundle/Contents/_CodeSignature/CodeResources (added by codesign)"
        in refused.stdout
    )

    slices = execute_undo(plan_undo(gui_app, backups))
    assert tree(gui_app) == original  # byte for byte, the added signature file gone
    assert [(s.arch, s.team_id, s.library_validation_disabled) for s in slices] == [
        ("x86_64", "W38PE5Y733", False),
        ("arm64", "W38PE5Y733", False),
    ]
    assert not plan.backup_dir.exists()


def test_a_failing_codesign_leaves_the_app_as_it_was(
    gui_app: Path, tmp_path: Path, fake_codesign: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    script, _ = fake_codesign
    original = tree(gui_app)
    monkeypatch.setenv("FAKE_CODESIGN_FAIL", "Open Ephys GUI.app: Operation not permitted")
    plan = plan_allow_plugins(gui_app, tmp_path / "backups")
    with pytest.raises(UserFacingError) as raised:
        execute_allow_plugins(plan, codesign=str(script))
    message = raised.value.format_message()
    assert "codesign failed: Open Ephys GUI.app: Operation not permitted" in message
    assert "App Management" in message and "the app's files were put back" in message
    assert tree(gui_app) == original and not plan.backup_dir.exists()


def test_undo_refuses_an_app_changed_since(
    gui_app: Path, tmp_path: Path, fake_codesign: tuple[Path, Path], mac_binaries: dict[str, Path]
) -> None:
    script, _ = fake_codesign
    backups = tmp_path / "backups"
    execute_allow_plugins(plan_allow_plugins(gui_app, backups), codesign=str(script))
    shutil.copy2(mac_binaries["cmake"], gui_app / "Contents" / "MacOS" / "Open Ephys GUI")  # a GUI update
    with pytest.raises(UserFacingError) as raised:
        plan_undo(gui_app, backups)
    assert "changed since oe-pyproc re-signed it" in raised.value.format_message()
    assert "Reinstall the GUI" in raised.value.format_message()
    replan = plan_allow_plugins(gui_app, backups)  # the update brought library validation back
    assert not replan.already_allowed and replan.replaces_stale_backup


def test_an_interrupted_resign_keeps_its_backup_and_undo_restores_it(
    gui_app: Path, tmp_path: Path, fake_codesign: tuple[Path, Path]
) -> None:
    """The record as it is between the backup and codesign's end (a killed run): allow-plugins refuses to
    replace that backup, and undo puts the original files back whatever state the app was left in."""
    script, _ = fake_codesign
    original = tree(gui_app)
    backups = tmp_path / "backups"
    plan = plan_allow_plugins(gui_app, backups)
    execute_allow_plugins(plan, codesign=str(script))
    record_file = plan.backup_dir / "record.json"
    record = json.loads(record_file.read_text())
    record.update(signed_at=None, after=None, created=None)
    record_file.write_text(json.dumps(record))
    with pytest.raises(UserFacingError) as raised:
        plan_allow_plugins(gui_app, backups)
    assert "did not finish" in raised.value.format_message()
    assert "undo-allow-plugins" in raised.value.format_message()
    undo = plan_undo(gui_app, backups)
    assert undo.remove == ["Contents/PlugIns/Builtin.bundle/Contents/_CodeSignature/CodeResources"]
    execute_undo(undo)
    assert tree(gui_app) == original and not plan.backup_dir.exists()
