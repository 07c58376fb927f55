"""`oe-pyproc configure`: write a checked Python Home into the GUI's settings.

Every Python Processor of lastConfig.xml and recoveryConfig.xml (identically), or of --chain FILE, gets
the Home as its `python_home`; the default Home file (DESIGN §5) records it for new processors. Files are
validated first and written atomically with one backup of each original; every other byte is kept.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from oe_pyproc_setup.chains import (
    ChainDocument,
    planned_python_home_edit,
    refuse_unreadable_value,
    reload_on_startup,
    sections_equivalent,
)
from oe_pyproc_setup.commands._output import mark
from oe_pyproc_setup.defaulthome import write_default_home
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import atomic_write_bytes, check_writable
from oe_pyproc_setup.gui import (
    GuiLayout,
    RunningProcess,
    executable_plugin_dirs,
    gui_binary_path,
    gui_process_arch,
    refuse_another_apis_root,
    running_gui_processes_for,
)
from oe_pyproc_setup.home import (
    HomeCandidate,
    JudgedHome,
    PluginRules,
    detect_plugin_rules,
    discover_homes,
    judge_candidates,
    render_table,
)
from oe_pyproc_setup.home.host import HostJudge, find_host_judge
from oe_pyproc_setup.options import (
    PathArgument,
    api_option,
    gui_exe_option,
    gui_root_option,
    python_home_option,
)


@dataclass
class PlannedFile:
    path: Path
    document: ChainDocument
    new_data: bytes


def _is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _choose_home(rules: PluginRules, gui_arch: str | None, host: HostJudge | None) -> JudgedHome:
    """No --python-home: propose the active conda env if it passes; else let the user pick on a terminal;
    without one, fail and list the candidates."""
    active = os.environ.get("CONDA_PREFIX")
    if active:
        [judged] = judge_candidates(
            [HomeCandidate(Path(active), "CONDA_PREFIX (active)")], rules, gui_arch, host=host
        )
        if judged.verdict.status == "ok":
            if not _is_interactive():
                click.echo(f"Using the active conda environment {judged.info.path} (it passes the checks).")
                return judged
            if click.confirm(f"Use the active conda environment {judged.info.path}?", default=True):
                return judged
    candidates = judge_candidates(discover_homes(), rules, gui_arch, host=host)
    usable = [row for row in candidates if row.verdict.status != "error"]
    listing = render_table(candidates, rules)
    if not _is_interactive():
        raise UserFacingError(
            "no --python-home given and no activated conda env passes the checks; candidates:\n" + listing,
            hint="Run again with --python-home PATH (one marked usable above).",
        )
    if not usable:
        raise UserFacingError("no usable Python Home found:\n" + listing)
    click.echo(listing)
    click.echo("Usable Homes:")
    for number, row in enumerate(usable, 1):
        click.echo(f"  {number}) {row.info.path}  ({row.verdict.status})")
    choice = click.prompt("Which Home", type=click.IntRange(1, len(usable)), default=1)
    return usable[choice - 1]


def _gui_arch(gui_exe: Path | None, running: Sequence[RunningProcess]) -> tuple[str | None, str]:
    """The GUI's architecture from --gui-exe, else from a running GUI (as doctor finds it); None when
    neither is known (nothing to check against)."""
    if gui_exe is not None:
        if not gui_exe.exists():
            raise UserFacingError(f"--gui-exe {gui_exe} does not exist", hint="Nothing was written.")
        arch = gui_process_arch(gui_binary_path(gui_exe))
        if arch is None:
            raise UserFacingError(
                f"--gui-exe {gui_exe}: not a GUI binary whose architecture can be read",
                hint="Nothing was written.",
            )
        return arch, f"--gui-exe {gui_exe}"
    for process in running:
        if process.executable is not None:
            arch = gui_process_arch(process.executable)
            if arch is not None:
                return arch, f"the running GUI (pid {process.pid})"
    return None, ""


def _plan_edits(paths: Sequence[Path], home_text: str) -> list[PlannedFile]:
    """Parse every target first so that one malformed file stops the command before anything is written."""
    return [PlannedFile(path, *planned_python_home_edit(path, home_text)) for path in paths]


def _warn_if_not_effective(layout: GuiLayout, planned: Sequence[PlannedFile], notes: list[str]) -> None:
    last = next((p for p in planned if p.path == layout.last_config), None)
    recovery = next((p for p in planned if p.path == layout.recovery_config), None)
    if last is None:
        notes.append(
            f"no {layout.last_config.name} yet (the GUI writes it when it exits): nothing to reload; "
            f"new Python Processors use the default Home file"
        )
    reload = reload_on_startup(layout.window_state)
    if reload is None:
        notes.append(
            f"{layout.window_state} is missing or unreadable: the GUI will not reload lastConfig.xml "
            "on start-up "
            "(it opens its default-configuration window); load your chain with File > Open"
        )
    elif reload is False:
        notes.append(
            "'Reload on startup' is off in the GUI (windowState.xml shouldReloadOnStartup=0): the edited "
            "lastConfig.xml is not loaded at start-up; turn it on in the File menu or open the chain yourself"
        )
    if (
        last is not None
        and recovery is not None
        and sections_equivalent(last.document.data, recovery.document.data) is False
    ):
        notes.append(
            "lastConfig.xml and recoveryConfig.xml already differed in <SIGNALCHAIN>/<AUDIO> before this "
            "edit: the GUI will ask which one to load ('It looks like the GUI crashed...'); both got the "
            "same Home, so either choice works"
        )


@click.command("configure")
@python_home_option
@click.option(
    "--chain",
    "chains",
    multiple=True,
    type=PathArgument(path_type=Path),
    help="Edit this saved chain file instead of the GUI's lastConfig.xml/recoveryConfig.xml (repeatable).",
)
@gui_root_option
@gui_exe_option
@api_option
@click.option("--force", is_flag=True, help="Go ahead despite warnings about the Home or a running GUI.")
@click.option("--dry-run", is_flag=True, help="Report what would be written; write nothing.")
@click.option("--no-default-home", is_flag=True, help="Do not write the default Home file (oe-pyproc.json).")
def configure(
    python_home: Path | None,
    chains: tuple[Path, ...],
    gui_root: Path | None,
    gui_exe: Path | None,
    api: int,
    force: bool,
    dry_run: bool,
    no_default_home: bool,
) -> None:
    """Write a checked Python Home into the GUI's settings.

    The Home is validated first (an unusable one is refused; --force only overrides warnings): by the
    plugin's own loader through its host (oe-pyproc-host --check-home) when one is at hand, else by the
    loader's rules from the Home's files; with --gui-exe or a running GUI, its architecture must match the
    Home's. A development build's folder (--gui-exe .../plugin-GUI/Build/...) is its saved-state root. Then
    `python_home` is set in every Python Processor of lastConfig.xml and recoveryConfig.xml, identically,
    or of the --chain files; the GUI must be closed (it rewrites these files) unless --force. The default
    Home file configs-api<N>/oe-pyproc.json is written too. Every file is written atomically, with one
    backup (<name>.oe-pyproc-backup) of the first original.
    """
    from oe_pyproc_setup.gui import resolve_layout

    layout = resolve_layout(gui_root, api, gui_exe)
    if gui_root is not None and not layout.root.is_dir():
        raise UserFacingError(
            f"--gui-root {layout.root} does not exist",
            hint="Give the folder that holds configs-api<N>/ (start the GUI once to create it).",
        )
    if not (chains and no_default_home):
        refuse_another_apis_root(layout)
    targets = (
        # lexists: a broken link is reported, not taken for a missing file (only one of the pair edited)
        list(chains)
        if chains
        else [p for p in (layout.last_config, layout.recovery_config) if os.path.lexists(p)]
    )
    library_versions: list[str] = []
    for chain in chains:
        if not chain.exists():
            raise UserFacingError(f"--chain {chain} does not exist")

    # Rules: from the GUI's plugin folder; else from a chain's libraryVersion.
    beside_gui = executable_plugin_dirs(gui_exe) if gui_exe is not None else []
    rules = detect_plugin_rules(layout, executable_plugin_dirs=beside_gui)
    if rules.source.startswith("no plugin installed") and targets:
        try:
            from oe_pyproc_setup.chains import read_chain

            library_versions = read_chain(targets[0]).library_versions
        except UserFacingError:
            library_versions = []
        if library_versions:
            rules = detect_plugin_rules(layout, library_versions[0], beside_gui)

    # The GUI's architecture (--gui-exe, else a running GUI) is checked with the Home before anything is
    # written: an x86_64 GUI under Rosetta cannot load an arm64 Home.
    running_anywhere = running_gui_processes_for(layout)
    running = running_anywhere if not chains else []  # a --chain file is not rewritten by the GUI
    gui_arch, gui_arch_source = _gui_arch(gui_exe, running_anywhere)
    host = find_host_judge(layout, python_home) if rules.name == "ours" else None
    if python_home is None:
        judged = _choose_home(rules, gui_arch, host)
    else:
        [judged] = judge_candidates([HomeCandidate(python_home, "given")], rules, gui_arch, host=host)
    home_path = judged.info.path
    if judged.verdict.status == "error":
        raise UserFacingError(
            f"{home_path} cannot be used as the Python Home:\n" + render_table([judged], rules),
            hint="Nothing was written.",
        )
    if judged.verdict.status == "warn":
        click.echo(render_table([judged], rules))
        if not force:
            raise UserFacingError(
                "the Home has warnings (above); pass --force to use it anyway. Nothing was written."
            )

    listed = ", ".join(f"pid {p.pid} ({p.executable or p.name})" for p in running)
    if running and not force:
        raise UserFacingError(
            f"the Open Ephys GUI is running ({listed}): it rewrites lastConfig.xml and "
            "recoveryConfig.xml when it exits, which would undo this edit",
            hint="Close the GUI and run configure again (or --force to write anyway). Nothing was written.",
        )

    home_text = str(home_path)
    refuse_unreadable_value(home_text, "the Python Home")  # also when no chain file is edited
    planned = _plan_edits(targets, home_text)
    notes: list[str] = []
    if not chains:
        _warn_if_not_effective(layout, planned, notes)
    if running:
        notes.append(
            f"the GUI is running ({listed}): when it exits it saves its own chain over lastConfig.xml and "
            "recoveryConfig.xml, losing this edit (the default Home file stays)"
        )

    # Every file that will change is checked before the first is written: lastConfig.xml edited without
    # recoveryConfig.xml would make the GUI report a crash and offer the unedited one.
    for plan in planned:
        if plan.document.processors and plan.new_data != plan.document.data:
            check_writable(plan.path)
    if not no_default_home and layout.configs_dir.is_dir():
        check_writable(layout.default_home_file)

    plugin_name = "oe-pyproc" if rules.name == "ours" else "upstream"
    prefix = "would write" if dry_run else "wrote"
    judged_by = "its files" if judged.judged_by == "files" else judged.judged_by
    report: list[str] = [
        f"Python Home: {home_path} ({judged.verdict.status}, "
        f"judged for {plugin_name}'s plugin by {judged_by})"
    ]
    if gui_arch is not None:
        home_archs = "/".join(judged.info.archs) or "unknown"
        report.append(f"  architecture: GUI {gui_arch} ({gui_arch_source}), Home {home_archs}")
    for plan in planned:
        count = len(plan.document.processors)
        if count == 0:
            report.append(f"  {plan.path}: no Python Processor in this chain; left untouched")
            continue
        if plan.new_data == plan.document.data:
            report.append(f"  {plan.path}: {count} Python Processor(s) already use this Home; unchanged")
            continue
        backup_note = ""
        if not dry_run:
            backup = atomic_write_bytes(plan.path, plan.new_data)
            backup_note = f"; original saved as {backup.name}" if backup else ""
        before = sorted({p.python_home or "(none)" for p in plan.document.processors})
        report.append(
            f"  {prefix} {plan.path}: python_home of {count} Python Processor(s) "
            f"(was {', '.join(before)}){backup_note}"
        )
    if not no_default_home:
        if dry_run:
            report.append(f"  would write the default Home file {layout.default_home_file}")
        else:
            _, backup = write_default_home(layout.default_home_file, home_path, command="configure")
            backup_note = f"; previous saved as {backup.name}" if backup else ""
            report.append(f"  wrote the default Home file {layout.default_home_file}{backup_note}")
    click.echo("\n".join(report))
    for note in notes:
        click.echo(f"{mark('warn')} {note}")
