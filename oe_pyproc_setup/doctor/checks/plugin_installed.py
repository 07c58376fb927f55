"""The plugin in the GUI's folder (DESIGN §5, §7): installed by `oe-pyproc install`, intact, not stale, and
not side by side with upstream's Python Processor.

Intact: every file the manifest lists is there with its sha256. Stale: the environment it was installed
from now holds a different plugin (the package was updated, `oe-pyproc install` not run again) or is gone.
"""

from __future__ import annotations

from pathlib import Path

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.install.containment import manifest_violations
from oe_pyproc_setup.install.manifest import InstallManifest, read_manifest
from oe_pyproc_setup.plugin_meta import (
    PLUGIN_FOLDER,
    find_upstream_plugins,
    prefix_plugin_dir,
    sha256_file,
    tree_files,
)
from oe_pyproc_setup.shell import quote


def _stale(manifest: InstallManifest, context: Context) -> list[str]:
    """How the prefix's plugin differs from the installed copy (empty: same files, same hashes)."""
    source = prefix_plugin_dir(Path(manifest.source_prefix), context.api)
    current: dict[str, str] = {}
    for path in tree_files(source):
        relative = path.relative_to(source).as_posix()
        key = relative if relative.split("/")[0].endswith(".bundle") else f"{PLUGIN_FOLDER}/{relative}"
        current[key] = sha256_file(path)
    installed = {f.path: f.sha256 for f in manifest.files}
    differences = [
        f"{name}: changed in {source}"
        for name in sorted(set(installed) & set(current))
        if installed[name] != current[name]
    ]
    differences += [f"{name}: new in {source}" for name in sorted(set(current) - set(installed))]
    differences += [f"{name}: no longer in {source}" for name in sorted(set(installed) - set(current))]
    return differences


def run(context: Context) -> list[Finding]:
    layout = context.layout
    if not layout.root.is_dir():
        return [CHECK.finding("skip", f"no GUI settings folder {layout.root} (see GUI folders)")]
    install_command = context.install_command
    try:
        manifest = read_manifest(layout.manifest)
    except UserFacingError as error:
        return [
            CHECK.finding(
                "error",
                error.format_message(),
                remediation=Remediation(
                    "Reinstall the plugin (the broken manifest is kept as it is):", [install_command]
                ),
            )
        ]
    outside = manifest_violations(manifest, layout) if manifest else []
    if outside:  # a tampered or damaged manifest: nothing it names is read (install/uninstall refuse it too)
        return [
            CHECK.finding(
                "error",
                f"{layout.manifest} names paths outside the folders of the GUI root that oe-pyproc owns; "
                "install and uninstall refuse it",
                details=outside,
                remediation=Remediation(
                    "Check those paths; then remove the plugin folder and the manifest by hand and install "
                    "again:",
                    [install_command],
                ),
            )
        ]
    ours_paths = {layout.plugins_dir / f.path for f in manifest.files} if manifest else set()
    upstream = find_upstream_plugins(layout.plugins_dir, ours_paths)
    findings: list[Finding] = []
    if manifest is None:
        if (layout.plugins_dir / PLUGIN_FOLDER).exists():
            findings.append(
                CHECK.finding(
                    "warn",
                    f"{layout.plugins_dir / PLUGIN_FOLDER} exists without an install manifest: a copy not "
                    "made by `oe-pyproc install`, which doctor cannot check",
                    remediation=Remediation(
                        "Remove that folder, then install from your environment:", [install_command]
                    ),
                    subject="unmanaged",
                )
            )
        elif not upstream:
            findings.append(
                CHECK.finding(
                    "warn",
                    f"the oe-pyproc plugin is not installed in {layout.plugins_dir}",
                    remediation=Remediation(
                        "Activate the conda environment with the oe-pyproc package, then:", [install_command]
                    ),
                )
            )
        else:
            findings.append(
                CHECK.finding(
                    "ok",
                    f"upstream's Python Processor is installed ({upstream[0]}); oe-pyproc's plugin is not",
                    details=[str(p) for p in upstream],
                )
            )
        return findings

    plugin = manifest.plugin
    details = [
        f"installed from {manifest.source_prefix}",
        f"by {manifest.written_by or '?'} at {manifest.written_at or '?'}",
        f"version {plugin.get('version', '?')}, {plugin.get('platform', '?')} {plugin.get('arch', '?')}, "
        f"bridges for Python {', '.join(sorted(plugin.get('bridges', {}))) or '?'}",
    ]
    damaged = []
    for entry in manifest.files:
        path = layout.plugins_dir / entry.path
        if not path.is_file():
            damaged.append(f"{entry.path}: missing")
        elif sha256_file(path) != entry.sha256:
            damaged.append(f"{entry.path}: changed since install")
    if damaged:
        findings.append(
            CHECK.finding(
                "error",
                f"the installed plugin in {layout.plugins_dir} is damaged "
                f"({len(damaged)} of {len(manifest.files)} files)",
                details=details + damaged,
                remediation=Remediation(
                    "Install it again from its environment:",
                    [f"{install_command} --prefix {quote(manifest.source_prefix)}"],
                ),
                subject="integrity",
            )
        )
    else:
        findings.append(
            CHECK.finding(
                "ok",
                f"installed in {layout.plugins_dir} ({len(manifest.files)} files, all intact)",
                details=details,
            )
        )

    source_prefix = Path(manifest.source_prefix)
    if not prefix_plugin_dir(source_prefix, context.api).is_dir():
        findings.append(
            CHECK.finding(
                "error",
                f"the environment the plugin was installed from no longer has it: {source_prefix}",
                details=[
                    "the plugin's fallback Home and the default Home may point at a removed environment"
                ],
                remediation=Remediation(
                    "Install from an environment that has the oe-pyproc package, or remove the plugin:",
                    [
                        f"{install_command} --prefix <environment>",
                        f"oe-pyproc uninstall{context.gui_options}",
                    ],
                ),
                subject="source",
            )
        )
    else:
        differences = _stale(manifest, context)
        if differences:
            findings.append(
                CHECK.finding(
                    "warn",
                    f"stale copy: the plugin in {source_prefix} differs from the one installed in the GUI",
                    details=differences,
                    remediation=Remediation(
                        "Install again to update the GUI's copy:",
                        [f"{install_command} --prefix {quote(source_prefix)}"],
                    ),
                    subject="stale",
                )
            )

    if upstream:
        findings.append(
            CHECK.finding(
                "error",
                "both oe-pyproc's and upstream's Python Processor are installed: the GUI takes whichever it "
                "finds first",
                details=[str(p) for p in upstream],
                remediation=Remediation(
                    "Let install move upstream's plugin aside (uninstall puts it back):",
                    [f"{install_command} --replace-upstream"],
                ),
                subject="upstream",
            )
        )
    return findings


CHECK = Check("plugin.installed", "Installed plugin", run)
