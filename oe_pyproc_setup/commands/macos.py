"""`oe-pyproc macos allow-plugins` / `undo-allow-plugins`: with the user's consent, re-sign their copy of the
GUI so that macOS library validation lets it load our plugin, and put the original signature back.

Never done implicitly (install only points here). The plan is printed on any system; `codesign` runs only
on macOS, after the user said yes (or gave --yes).
"""

from __future__ import annotations

import platform
from pathlib import Path

import click

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.macos.library_validation import DEFAULT_MACOS_APP, describe_slice
from oe_pyproc_setup.macos.resign import (
    CONSEQUENCES,
    default_backup_root,
    describe_allow_plugins,
    describe_undo,
    execute_allow_plugins,
    execute_undo,
    plan_allow_plugins,
    plan_undo,
)
from oe_pyproc_setup.options import PathArgument
from oe_pyproc_setup.shell import quote

gui_exe_argument = click.option(
    "--gui-exe",
    type=PathArgument(path_type=Path),
    default=None,
    help=f"The GUI app (default: {DEFAULT_MACOS_APP} when it exists).",
)
backup_dir_option = click.option(
    "--backup-dir",
    type=PathArgument(path_type=Path),
    default=None,
    help="Where the backups of the original signature live (default: ~/Library/Application Support/"
    "oe-pyproc/gui-signatures).",
)
dry_run_option = click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
yes_option = click.option("--yes", is_flag=True, help="Do not ask for confirmation.")


def _gui_exe(gui_exe: Path | None) -> Path:
    if gui_exe is not None:
        return gui_exe
    if DEFAULT_MACOS_APP.exists():
        return DEFAULT_MACOS_APP
    raise click.UsageError(f"give --gui-exe: the GUI app (there is no {DEFAULT_MACOS_APP})")


def _refuse_unless_macos() -> None:
    system = platform.system()
    if system != "Darwin":
        raise UserFacingError(
            f"codesign exists only on macOS and this is {system}: nothing was changed",
            hint="Run this command on the Mac where the GUI is installed (--dry-run shows the plan on any).",
        )


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    try:
        return click.confirm(question, default=False)
    except click.Abort:  # no answer (end of input): the default, no
        click.echo("")
        return False


@click.group("macos")
def macos() -> None:
    """macOS only: let the signed GUI load plugins it did not sign (library validation), and undo it."""


@macos.command("allow-plugins")
@gui_exe_argument
@backup_dir_option
@dry_run_option
@yes_option
def allow_plugins(gui_exe: Path | None, backup_dir: Path | None, dry_run: bool, yes: bool) -> None:
    """Re-sign the GUI app ad hoc with its own entitlements plus disable-library-validation (asks first;
    saves what undo-allow-plugins needs)."""
    plan = plan_allow_plugins(_gui_exe(gui_exe), backup_dir or default_backup_root())
    if plan.already_allowed:
        click.echo(f"{plan.target} already lets macOS load plugins it did not sign; nothing to do:")
        for entry in plan.slices:
            click.echo(f"  {describe_slice(entry)}")
        return
    click.echo("allow-plugins will:")
    for line in describe_allow_plugins(plan):
        click.echo(f"  {line}")
    click.echo("What this means:")
    for line in CONSEQUENCES:
        click.echo(f"  - {line}")
    if not _go_ahead(f"Re-sign {plan.target}?", dry_run, yes):
        return
    result = execute_allow_plugins(plan)
    click.echo(f"Re-signed {plan.target}; the original signature is saved in {plan.backup_dir}.")
    for entry in result.slices:
        click.echo(f"  {describe_slice(entry)}")
    if result.still_refusing:
        raise UserFacingError(
            f"codesign finished but library validation is still on for {', '.join(result.still_refusing)}",
            hint=f"Undo with: oe-pyproc macos undo-allow-plugins --gui-exe {quote(plan.target)}",
        )
    click.echo(
        "Next: oe-pyproc install (or start the GUI). A GUI update resets this: run allow-plugins again."
    )
    click.echo(f"Undo: oe-pyproc macos undo-allow-plugins --gui-exe {quote(plan.target)}")


def _go_ahead(question: str, dry_run: bool, yes: bool) -> bool:
    """After the plan was shown: False (and why) for a dry run or a "no"; refuses off macOS."""
    if dry_run:
        click.echo("Dry run: nothing was changed.")
        return False
    _refuse_unless_macos()
    if not _confirm(question, yes):
        click.echo("Nothing was changed (use --yes to go ahead without asking).")
        return False
    return True


@macos.command("undo-allow-plugins")
@gui_exe_argument
@backup_dir_option
@dry_run_option
@yes_option
def undo_allow_plugins(gui_exe: Path | None, backup_dir: Path | None, dry_run: bool, yes: bool) -> None:
    """Put back the GUI's original signature saved by allow-plugins (or say to reinstall the GUI)."""
    plan = plan_undo(_gui_exe(gui_exe), backup_dir or default_backup_root())
    click.echo("undo-allow-plugins will:")
    for line in describe_undo(plan):
        click.echo(f"  {line}")
    if not _go_ahead(f"Restore the original signature of {plan.target}?", dry_run, yes):
        return
    slices = execute_undo(plan)
    click.echo(f"Restored the original signature of {plan.target}:")
    for entry in slices:
        click.echo(f"  {describe_slice(entry)}")
