"""The installed plugin against the Home and the GUI: a bridge for the Home's Python minor version, and one
architecture for the plugin, the Home and the GUI process (DESIGN §4: the adapter loads the Home's libpython
and the bridge for its version into the GUI's process)."""

from __future__ import annotations

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.home import CONDA_CREATE_COMMAND
from oe_pyproc_setup.install.manifest import read_manifest
from oe_pyproc_setup.shell import quote


def run(context: Context) -> list[Finding]:
    layout = context.layout
    try:
        manifest = read_manifest(layout.manifest) if layout.root.is_dir() else None
    except UserFacingError:
        manifest = None  # reported by the installed-plugin check
    if manifest is None:
        return [CHECK.finding("skip", "no plugin installed by `oe-pyproc install` (see Installed plugin)")]
    plugin = manifest.plugin
    bridges = sorted(str(b) for b in plugin.get("bridges", {}))
    plugin_arch = str(plugin.get("arch", ""))
    details = [f"plugin: {plugin_arch or '?'}, bridges for Python {', '.join(bridges) or 'none'}"]
    findings: list[Finding] = []

    home = context.home
    if home is None:
        findings.append(CHECK.finding("skip", "no Home to compare with the plugin", details=details))
    else:
        info = home.info
        details.append(
            f"Home ({home.source}): {info.path}, Python {info.version_text or '?'}, "
            f"{'/'.join(info.archs) or '?'}"
        )
        problems = []
        if info.version_text is not None and info.version_text not in bridges:
            problems.append(
                f"the plugin has no bridge for Python {info.version_text} "
                f"(it has {', '.join(bridges) or 'none'})"
            )
        if plugin_arch and info.archs and plugin_arch not in info.archs:
            problems.append(f"the plugin is {plugin_arch} but the Home is {'/'.join(info.archs)}")
        if problems:
            findings.append(
                CHECK.finding(
                    "error",
                    "; ".join(problems),
                    details=details,
                    remediation=Remediation(
                        "Use a Home the plugin can load (the environment it came from is one), e.g.:",
                        [
                            CONDA_CREATE_COMMAND,
                            "oe-pyproc configure --python-home "
                            f"{quote(manifest.source_prefix)}{context.gui_options}",
                        ],
                    ),
                    subject="home",
                )
            )
        elif info.version_text is not None:
            findings.append(
                CHECK.finding(
                    "ok",
                    f"the plugin has a bridge for the Home's Python {info.version_text}",
                    details=details,
                )
            )
        else:
            findings.append(
                CHECK.finding(
                    "skip", "the Home's Python version is unknown (see Home layout)", details=details
                )
            )

    binary = context.gui_binary
    if binary is not None and binary.info is not None and plugin_arch:
        gui_archs = binary.info.archs
        if plugin_arch not in gui_archs:
            findings.append(
                CHECK.finding(
                    "error",
                    f"the plugin is {plugin_arch} but the GUI ({binary.path}) is {'/'.join(gui_archs)}",
                    details=details,
                    remediation=Remediation(
                        "Install the package built for the GUI's architecture (an Intel GUI on Apple Silicon "
                        "needs an osx-64 environment: CONDA_SUBDIR=osx-64; unverified here)."
                    ),
                    subject="gui",
                )
            )
    return findings


CHECK = Check("plugin.home", "Plugin vs Home and GUI", run)
