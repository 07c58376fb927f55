"""`oe-pyproc homes [PATH ...] [--json] [--exec]`: find Python Homes, inspect them from their files,
optionally run their interpreter, and give each a verdict by the rules of the plugin that will load it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.gui import GuiLayout, executable_plugin_dirs, gui_process_arch, resolve_layout
from oe_pyproc_setup.home import (
    OURS,
    UPSTREAM,
    PluginRules,
    detect_plugin_rules,
    discover_homes,
    judge_candidates,
    render_table,
)
from oe_pyproc_setup.home.host import find_host_judge
from oe_pyproc_setup.options import FiniteFloatRange, PathArgument, gui_options

JSON_SCHEMA = 1


def choose_rules(layout: GuiLayout | None, plugin: str, gui_exe: Path | None = None) -> PluginRules:
    """--plugin auto|ours|upstream → the rules Homes are judged by (auto also looks beside --gui-exe)."""
    if plugin == "ours":
        return OURS
    if plugin == "upstream":
        return UPSTREAM
    beside = executable_plugin_dirs(gui_exe) if gui_exe is not None else []
    return detect_plugin_rules(layout, executable_plugin_dirs=beside)


@click.command("homes")
@click.argument("paths", nargs=-1, type=PathArgument(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON document (schema 1) instead of a table.")
@click.option(
    "--exec",
    "execute",
    is_flag=True,
    help="Also run each Home's interpreter isolated (-I): confirms version, architecture, `import numpy`.",
)
@click.option(
    "--timeout",
    type=FiniteFloatRange(min=0.1, max=3600.0),
    default=10.0,
    show_default=True,
    help="Seconds per --exec.",
)
@click.option("--all", "include_discovered", is_flag=True, help="With PATHs: list the discovered Homes too.")
@click.option(
    "--plugin",
    type=click.Choice(["auto", "ours", "upstream"]),
    default="auto",
    show_default=True,
    help="Judge by oe-pyproc's plugin, upstream's, or whichever the GUI's plugin folder has.",
)
@click.option("-v", "--verbose", is_flag=True, help="Show where each fact came from.")
@gui_options
def homes(
    paths: tuple[Path, ...],
    as_json: bool,
    execute: bool,
    timeout: float,
    include_discovered: bool,
    plugin: str,
    verbose: bool,
    gui_root: Path | None,
    gui_exe: Path | None,
    api: int,
) -> None:
    """List Python Homes and whether the Python Processor can use them.

    Without PATH, Homes are discovered: the active conda env, this program's Python, conda's
    environments.txt and envs folders, pyenv versions, python.org/Homebrew (macOS), per-user and
    all-user installs (Windows). With PATHs only those are judged (add --all for both). Homes are
    inspected from their files; --exec also runs their interpreter. For oe-pyproc's plugin, the plugin's
    host (OE_PYPROC_HOST, the plugin's environment, the Home's, PATH) judges when one is at hand: its
    loader runs the Home's interpreter; each row says which judged. Exit code 1 when a given PATH is
    unusable.
    """
    layout = resolve_layout(gui_root, api, gui_exe)
    rules = choose_rules(layout, plugin, gui_exe)
    gui_arch = None
    if gui_exe is not None:
        if not gui_exe.exists():
            raise UserFacingError(f"--gui-exe {gui_exe} does not exist")
        gui_arch = gui_process_arch(gui_exe)
        if gui_arch is None:
            raise UserFacingError(f"cannot read the architecture of {gui_exe} (not an executable we know)")

    candidates = (
        discover_homes(paths) if (include_discovered or not paths) else discover_homes(paths, only_given=True)
    )
    host = find_host_judge(layout, paths[0] if len(paths) == 1 else None) if rules.name == "ours" else None
    judged = judge_candidates(candidates, rules, gui_arch, execute=execute, timeout=timeout, host=host)

    if as_json:
        document = {
            "schema": JSON_SCHEMA,
            "rules": rules.to_json(),
            "gui_root": str(layout.root),
            "gui_arch": gui_arch,
            "judged_by": host.description if host is not None else "files",
            "homes": [row.to_json() for row in judged],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(render_table(judged, rules, verbose))
    if any(row.source == "given" and row.verdict.status == "error" for row in judged):
        raise SystemExit(1)
