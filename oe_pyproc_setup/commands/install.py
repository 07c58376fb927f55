"""`oe-pyproc install`: put the plugin from a conda environment into the Open Ephys GUI (DESIGN §5).

Copies `<prefix>/lib/oe-pyproc/plugins-api<N>/oe-pyproc/` to `<root>/plugins-api<N>/oe-pyproc/` (macOS: the
bundle at the top of plugins-api<N>), records the environment as the default Home and writes
`oe-pyproc-manifest.json`, which `oe-pyproc uninstall` follows to undo all of it. Everything is checked
before anything is written; running it again with nothing changed does nothing.
"""

from __future__ import annotations

from pathlib import Path

import click

from oe_pyproc_setup.gui import GuiLayout, refuse_another_apis_root, resolve_layout
from oe_pyproc_setup.install.plugin import (
    UNINSTALL_REMINDER,
    describe_install,
    execute_install,
    plan_install,
)
from oe_pyproc_setup.options import PathArgument, api_option, gui_exe_option, gui_root_option
from oe_pyproc_setup.shell import quote


@click.command("install")
@click.option(
    "--prefix",
    type=PathArgument(path_type=Path),
    default=None,
    help="The conda environment holding the oe-pyproc package (default: the active one, $CONDA_PREFIX).",
)
@gui_root_option
@gui_exe_option
@api_option
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
@click.option(
    "--force", is_flag=True, help="Install even while the GUI is running (effective at its next start)."
)
@click.option(
    "--replace-upstream",
    is_flag=True,
    help="Move upstream's Python Processor plugin aside (out of the plugin folder); uninstall puts it back.",
)
@click.option(
    "--ignore-gui-signature",
    is_flag=True,
    help="macOS: install even though the GUI's signature (library validation) will refuse the plugin.",
)
def install(
    prefix: Path | None,
    gui_root: Path | None,
    gui_exe: Path | None,
    api: int,
    dry_run: bool,
    force: bool,
    replace_upstream: bool,
    ignore_gui_signature: bool,
) -> None:
    """Install the plugin from a conda environment into the GUI and make that environment the default Home."""
    layout = resolve_layout(gui_root, api, gui_exe)
    plan = plan_install(
        prefix=prefix,
        layout=layout,
        gui_exe=gui_exe,
        force=force,
        replace_upstream=replace_upstream,
        ignore_gui_signature=ignore_gui_signature,
    )
    refuse_another_apis_root(layout)  # after the package's own API check, whose message says more
    if plan.running:
        pids = ", ".join(str(p.pid) for p in plan.running)
        click.echo(
            f"Warning: the GUI is running (pid {pids}); --force given: the change applies at its next start."
        )
    if plan.up_to_date:
        click.echo(
            f"Already installed from {plan.prefix} into {layout.plugins_dir} and up to date; nothing to do."
        )
        return
    if dry_run:
        click.echo("Dry run: nothing is changed. install would:")
        for line in describe_install(plan):
            click.echo(f"  {line}")
        return
    manifest = execute_install(plan)
    verb = "Updated" if plan.previous is not None else "Installed"
    meta = plan.metadata
    click.echo(
        f"{verb} the oe-pyproc plugin {meta.version} ({meta.arch}, bridges for Python "
        f"{', '.join(sorted(meta.bridges))}) from {plan.prefix} into {layout.plugins_dir}."
    )
    for original, aside in plan.to_move_aside:
        click.echo(f"Moved upstream's plugin aside: {original} -> {aside}")
    if plan.installed_plugins_edit is not None:
        click.echo(f"Removed its entry from {layout.installed_plugins_xml}; uninstall puts it back.")
    click.echo(f"Default Home: {plan.prefix} (in {layout.default_home_file}).")
    _warn_if_the_home_is_unusable(plan.prefix, layout)
    click.echo(f"Manifest: {layout.manifest} ({len(manifest.files)} files).")
    click.echo("Next: start the GUI and add the Python Processor; `oe-pyproc doctor` checks the set-up.")
    click.echo(UNINSTALL_REMINDER)


def _warn_if_the_home_is_unusable(prefix: Path, layout: GuiLayout) -> None:
    """The environment becomes the default Home: say at once when the plugin cannot use it (a package
    installed into an environment without numpy, say) rather than leave it to the first load in the GUI."""
    from oe_pyproc_setup.home import HomeCandidate, detect_plugin_rules, judge_candidates
    from oe_pyproc_setup.home.host import find_host_judge

    rules = detect_plugin_rules(layout)
    host = find_host_judge(layout, prefix) if rules.name == "ours" else None
    [judged] = judge_candidates([HomeCandidate(prefix, "the environment installed from")], rules, host=host)
    verdict = judged.verdict
    if verdict.status != "error":
        return
    click.echo(f"Warning: the plugin cannot use {prefix} as its Python Home:", err=True)
    for reason in verdict.reasons:
        if reason.severity == "error":
            click.echo(f"  {reason.message}; fix: {reason.remediation}", err=True)
    click.echo(f"  then check with: oe-pyproc doctor --gui-root {quote(layout.root)}", err=True)
