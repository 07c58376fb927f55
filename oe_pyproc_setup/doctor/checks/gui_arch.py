"""The GUI binary's architecture against the Home's, and against numpy's compiled core module in the Home
(a pip-installed numpy of another architecture, e.g. an x86_64 wheel in an arm64 Home, fails at import):
the plugin embeds the Home in the GUI's process.

A universal (fat) macOS GUI runs as the Mac's native architecture, or as x86_64 under Rosetta when started
with "Open using Rosetta"; its process, not the file, decides which Home works (*unverified* on a Mac here).
"""

from __future__ import annotations

import platform
from pathlib import Path

from oe_pyproc_setup.binfmt import normalize_machine, read_binary_info
from oe_pyproc_setup.doctor.checks.home_numpy import install_numpy_command
from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation
from oe_pyproc_setup.home import CONDA_CREATE_COMMAND


def numpy_core_module(numpy_path: Path | None) -> Path | None:
    """numpy's compiled core (`_multiarray_umath`: numpy 2 in _core/, 1.x in core/), None if not found."""
    if numpy_path is None:
        return None
    for folder in ("_core", "core"):
        found = sorted((numpy_path / folder).glob("_multiarray_umath.*"))
        binaries = [p for p in found if p.suffix in (".so", ".pyd")]
        if binaries:
            return binaries[0]
    return None


def run(context: Context) -> list[Finding]:
    binary = context.gui_binary
    if binary is None:
        return [CHECK.finding("skip", "GUI executable unknown: give --gui-exe to compare its architecture")]
    if not binary.path.exists():
        return [CHECK.finding("error", f"{binary.path} ({binary.source}) does not exist")]
    if binary.info is None:
        return [
            CHECK.finding("error", f"{binary.path} ({binary.source}) is not an executable this tool can read")
        ]
    home = context.home
    gui_archs = binary.info.archs
    details = [f"GUI: {binary.path} ({binary.source}): {binary.info.format}, {', '.join(gui_archs)}"]
    if home is None or not home.info.archs:
        return [
            CHECK.finding(
                "skip", f"GUI is {'/'.join(gui_archs)}; the Home's architecture is unknown", details=details
            )
        ]
    home_archs = home.info.archs
    details.append(f"Home: {home.info.path}: {', '.join(home_archs)}")
    matching = [arch for arch in gui_archs if arch in home_archs]
    remediation = Remediation(
        f"Use a Home built for the GUI's architecture ({'/'.join(gui_archs)}), e.g. with a conda for it:",
        [CONDA_CREATE_COMMAND],
    )
    if not matching:
        return [
            CHECK.finding(
                "error",
                f"the GUI is {'/'.join(gui_archs)} but the Home is {'/'.join(home_archs)}: "
                "the plugin cannot load it",
                details=details,
                remediation=remediation,
            )
        ]
    numpy_core = numpy_core_module(home.info.numpy_path)
    numpy_info = read_binary_info(numpy_core) if numpy_core is not None else None
    if numpy_core is not None and numpy_info is not None:
        details.append(f"numpy: {numpy_core}: {', '.join(numpy_info.archs)}")
        numpy_matching = [arch for arch in matching if arch in numpy_info.archs]
        if not numpy_matching:
            return [
                CHECK.finding(
                    "error",
                    f"numpy in the Home is {'/'.join(numpy_info.archs)} but the Home and the GUI are "
                    f"{'/'.join(matching)}: `import numpy` fails in the GUI",
                    details=details,
                    remediation=Remediation(
                        f"Reinstall numpy for {'/'.join(matching)} in the Home (a pip run under another "
                        "architecture, e.g. Rosetta, installs that architecture's wheel):",
                        [install_numpy_command(context)],
                    ),
                )
            ]
        matching = numpy_matching
    if len(gui_archs) == 1:
        return [CHECK.finding("ok", f"GUI and Home are both {gui_archs[0]}", details=details)]
    native = normalize_machine(platform.machine())
    details.append(
        f"the GUI is universal: it runs as this machine's {native} natively, or as x86_64 under Rosetta "
        "(Finder > Get Info > Open using Rosetta), and the Home must match the running process"
    )
    if native in matching:
        return [
            CHECK.finding(
                "ok",
                f"universal GUI ({', '.join(gui_archs)}); the Home matches its native {native}",
                details=details,
            )
        ]
    return [
        CHECK.finding(
            "warn",
            f"universal GUI ({', '.join(gui_archs)}) but the Home is {'/'.join(home_archs)}: it loads only "
            f"when the GUI runs as {matching[0]}" + (" (under Rosetta)" if matching[0] == "x86_64" else ""),
            details=details,
            remediation=remediation,
        )
    ]


CHECK = Check("gui.arch", "GUI architecture", run)
