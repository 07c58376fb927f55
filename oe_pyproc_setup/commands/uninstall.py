"""`oe-pyproc uninstall`: remove exactly what `oe-pyproc install` put into the GUI; put back what it moved.

Follows `<root>/plugins-api<N>/oe-pyproc-manifest.json`: removes the files it lists, moves an upstream plugin
that install moved aside back into place, restores the default Home file as it was before install (unless
it was changed since), and removes the folders install created when they are empty. Nothing else is touched.
"""

from __future__ import annotations

from pathlib import Path

import click

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.gui import resolve_layout
from oe_pyproc_setup.install.uninstall import describe_uninstall, execute_uninstall, plan_uninstall
from oe_pyproc_setup.options import api_option, gui_exe_option, gui_root_option
from oe_pyproc_setup.plugin_meta import PLUGIN_FOLDER


@click.command("uninstall")
@gui_root_option
@gui_exe_option
@api_option
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
@click.option("--force", is_flag=True, help="Uninstall even while the GUI is running.")
def uninstall(gui_root: Path | None, gui_exe: Path | None, api: int, dry_run: bool, force: bool) -> None:
    """Remove the plugin that `oe-pyproc install` put into the GUI; restore what it replaced."""
    layout = resolve_layout(gui_root, api, gui_exe)
    if gui_root is not None and not layout.root.is_dir():  # a typo must not read as "nothing to do"
        raise UserFacingError(
            f"--gui-root {layout.root} does not exist",
            hint="Give the folder you installed into (the one holding plugins-api<N>/).",
        )
    plan = plan_uninstall(layout, force)
    if plan is None:
        if (layout.plugins_dir / PLUGIN_FOLDER).exists():
            raise UserFacingError(
                f"{layout.plugins_dir / PLUGIN_FOLDER} exists but there is no install manifest "
                f"({layout.manifest}): it was not installed by `oe-pyproc install`; not touched",
                hint="Remove that folder yourself if it is an old copy of the plugin.",
            )
        click.echo(f"Nothing to uninstall: no oe-pyproc install manifest at {layout.manifest}.")
        return
    if plan.running:
        pids = ", ".join(str(p.pid) for p in plan.running)
        click.echo(f"Warning: the GUI is running (pid {pids}); --force given.")
    if dry_run:
        click.echo("Dry run: nothing is changed. uninstall would:")
        for line in describe_uninstall(plan):
            click.echo(f"  {line}")
        return
    problems = execute_uninstall(plan)
    click.echo(f"Removed {len(plan.remove)} files of the oe-pyproc plugin from {layout.plugins_dir}.")
    for path in plan.modified:
        click.echo(f"  note: {path} had changed since install; removed all the same (it was ours)")
    for path in plan.missing:
        click.echo(f"  note: {path} was already gone")
    for _, original in plan.restore:
        click.echo(f"Put back {original}.")
    if plan.installed_plugins_new is not None:
        click.echo(f"{plan.installed_plugins_file}: {plan.installed_plugins_note}.")
    if plan.default_home_action in ("restore", "remove"):
        done = (
            "restored as it was"
            if plan.default_home_action == "restore"
            else "removed (install had created it)"
        )
        click.echo(f"Default Home file {plan.default_home_file}: {done}.")
    if problems:
        for problem in problems:
            click.echo(f"Error: {problem}", err=True)
        raise SystemExit(1)
