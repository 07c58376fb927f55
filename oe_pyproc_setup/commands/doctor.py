"""`oe-pyproc doctor`: check the Home, the GUI's folders and settings, and say exactly what to do.

Read-only unless --fix, which touches only oe-pyproc's own files (the default Home file), with a backup.
Exit codes: 0 ok or warnings, 1 an error or a crashed check (or a warning with --strict), 2 usage.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from oe_pyproc_setup.options import gui_options, python_home_option


def _context_info(context: Any) -> dict[str, Any]:
    from oe_pyproc_setup.errors import UserFacingError

    info: dict[str, Any] = {"python_home_option": str(context.python_home) if context.python_home else None}
    try:
        info["gui_root"] = str(context.layout.root)
    except UserFacingError:
        info["gui_root"] = str(context.gui_root)
    info["api"] = context.api
    info["gui_exe"] = str(context.gui_exe) if context.gui_exe else None
    home = context.home
    info["python_home"] = str(home.info.path) if home else None
    info["python_home_source"] = home.source if home else None
    info["python_home_status"] = home.verdict.status if home else None  # ok, warn or error (unusable)
    info["python_home_judged_by"] = home.judged_by if home else None  # "files" or the host
    info["plugin_rules"] = context.rules.name
    return info


@click.command("doctor")
@python_home_option
@gui_options
@click.option("-v", "--verbose", is_flag=True, help="Show every finding's details, also for passing checks.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the findings as JSON (schema 1, see the README)."
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--list-checks", is_flag=True, help="List the checks (id and title) and exit.")
@click.option("--check", "check_ids", multiple=True, metavar="ID", help="Run only this check (repeatable).")
@click.option("--report", is_flag=True, help="Print a markdown block to paste into a bug report.")
@click.option(
    "--fix", is_flag=True, help="Repair oe-pyproc's own files (the default Home file), with a backup."
)
@click.option("--yes", is_flag=True, help="With --fix: do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="With --fix: say what would be changed, change nothing.")
def doctor(
    python_home: Path | None,
    gui_root: Path | None,
    gui_exe: Path | None,
    api: int,
    verbose: bool,
    as_json: bool,
    strict: bool,
    list_checks: bool,
    check_ids: tuple[str, ...],
    report: bool,
    fix: bool,
    yes: bool,
    dry_run: bool,
) -> None:
    """Check the Python Home and the Open Ephys GUI set-up; print what is wrong and the commands that fix it.

    Nothing is changed unless --fix; nothing from the Home is imported or run.
    """
    from oe_pyproc_setup.doctor.checks import CHECKS
    from oe_pyproc_setup.doctor.context import Context
    from oe_pyproc_setup.doctor.render import render_json, render_report, render_text, stream_encoding
    from oe_pyproc_setup.doctor.runner import run_checks

    if list_checks:
        if as_json:
            import json

            listed = [{"id": check.id, "title": check.title} for check in CHECKS]
            click.echo(json.dumps({"schema": 1, "checks": listed}, indent=2))
            return
        width = max(len(check.id) for check in CHECKS)
        for check in CHECKS:
            click.echo(f"{check.id:<{width}}  {check.title}")
        return
    if (yes or dry_run) and not fix:
        raise click.UsageError("--yes and --dry-run go with --fix")
    if sum((as_json, report)) > 1:
        raise click.UsageError("--json and --report are alternatives; choose one")
    known = {check.id: check for check in CHECKS}
    unknown = [check_id for check_id in check_ids if check_id not in known]
    if unknown:
        raise click.UsageError(
            f"unknown check id(s): {', '.join(unknown)}; the checks are: {', '.join(known)}"
        )
    selected = [check for check in CHECKS if not check_ids or check.id in check_ids]

    context = Context(python_home, gui_root, gui_exe, api, verbose)
    context.layout  # noqa: B018 - a --gui-root that is a file is a usage mistake: one clear error, exit 1
    outcome = run_checks(selected, context)
    if as_json:
        click.echo(render_json(outcome.findings, _context_info(context)))
    elif report:
        click.echo(render_report(outcome.findings, _context_info(context)))
    else:
        encoding = stream_encoding(sys.stdout)
        click.echo(
            render_text(outcome.findings, verbose=verbose, encoding=encoding, gui_options=context.gui_options)
        )

    if fix and _apply_fixes(outcome.findings, yes=yes, dry_run=dry_run, quiet=as_json):
        # Judge again from scratch: the exit status tells whether the fixes worked.
        from oe_pyproc_setup.doctor.render import summary_line

        outcome = run_checks(selected, Context(python_home, gui_root, gui_exe, api, verbose))
        out = sys.stderr if as_json else sys.stdout
        click.echo(f"After the fixes: {summary_line(outcome.findings)}", file=out)
    sys.exit(outcome.exit_code(strict))


def _apply_fixes(findings: list[Any], *, yes: bool, dry_run: bool, quiet: bool) -> bool:
    """Show the fixes, ask (default no) unless `yes`, apply them; True when something was applied."""
    from oe_pyproc_setup.errors import UserFacingError

    fixes = [finding.fix for finding in findings if finding.fix is not None and finding.status != "ok"]
    out = sys.stderr if quiet else sys.stdout
    if not fixes:
        click.echo(
            "Nothing for --fix to do: no problem in oe-pyproc's own files that it can repair.", file=out
        )
        return False
    click.echo("", file=out)
    for fix in fixes:
        click.echo(f"{'Would ' if dry_run else 'Fix: '}{fix.description}", file=out)
    if dry_run:
        click.echo("Dry run: nothing changed.", file=out)
        return False
    if not yes:
        try:
            confirmed = click.confirm("Apply these changes?", default=False, err=quiet)
        except click.Abort:  # no answer (end of input): the default, no
            confirmed = False
            click.echo("", file=out)
        if not confirmed:
            click.echo("Nothing changed (use --yes to apply without asking).", file=out)
            return False
    applied = False
    for fix in fixes:
        try:
            click.echo(f"Done: {fix.apply()}", file=out)
            applied = True
        except UserFacingError as error:
            click.echo(f"Failed: {error.format_message()}", file=out)
    return applied
