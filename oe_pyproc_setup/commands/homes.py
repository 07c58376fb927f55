"""`oe-pyproc homes [PATH ...] [--json] [--exec]`: find Python Homes, inspect them from their files,
optionally run their interpreter, and give each a verdict by the rules of the plugin that will load it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from oe_pyproc_setup.commands._output import mark
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.gui import GuiLayout, executable_plugin_dirs, gui_process_arch, resolve_layout
from oe_pyproc_setup.home import (
    OURS,
    UPSTREAM,
    HomeCandidate,
    HomeInfo,
    PluginRules,
    ProbeResult,
    Verdict,
    detect_plugin_rules,
    discover_homes,
    inspect_home,
    judge_home,
    judge_probe,
    probe_home,
)
from oe_pyproc_setup.options import FiniteFloatRange, PathArgument, gui_options

JSON_SCHEMA = 1


@dataclass(frozen=True)
class JudgedHome:
    """One row of `homes`: where the Home was found, what its files say, the verdict, the probe if run."""

    candidate: HomeCandidate
    info: HomeInfo
    verdict: Verdict
    probe: ProbeResult | None = None

    def to_json(self) -> dict[str, Any]:
        document = {"source": self.candidate.source, **self.info.to_json(), "verdict": self.verdict.to_json()}
        document["probe"] = None if self.probe is None else self.probe.to_json()
        return document


def choose_rules(layout: GuiLayout | None, plugin: str, gui_exe: Path | None = None) -> PluginRules:
    """--plugin auto|ours|upstream → the rules Homes are judged by (auto also looks beside --gui-exe)."""
    if plugin == "ours":
        return OURS
    if plugin == "upstream":
        return UPSTREAM
    beside = executable_plugin_dirs(gui_exe) if gui_exe is not None else []
    return detect_plugin_rules(layout, executable_plugin_dirs=beside)


def judge_candidates(
    candidates: Sequence[HomeCandidate],
    rules: PluginRules,
    gui_arch: str | None = None,
    *,
    execute: bool = False,
    timeout: float = 10,
) -> list[JudgedHome]:
    """Inspect and judge each candidate (and probe it with `execute`). Used by homes, configure and doctor."""
    judged = []
    for candidate in candidates:
        info = inspect_home(candidate.path)
        verdict = judge_home(info, rules, gui_arch)
        probe = None
        if execute and info.kind not in ("missing", "not-python"):
            probe = probe_home(info, timeout)
            verdict = judge_probe(verdict, info, probe)
        judged.append(JudgedHome(candidate, info, verdict, probe))
    return judged


def _numpy_text(info: HomeInfo) -> str:
    if not info.has_numpy:
        return "no numpy"
    installer = f" ({info.numpy_installer})" if info.numpy_installer else ""
    return f"numpy {info.numpy_version or '?'}{installer}"


def render_table(judged: Sequence[JudgedHome], rules: PluginRules, verbose: bool = False) -> str:
    """The human-readable listing: one line per Home, then its reasons and remedies."""
    lines = [f"Judged for {'oe-pyproc' if rules.name == 'ours' else 'upstream'}'s plugin ({rules.source}):"]
    lines += [f"  note: {note}" for note in rules.notes]
    for row in judged:
        info = row.info
        version = info.full_version or info.version_text or "?"
        summary = "  ".join(
            [
                f"{mark(row.verdict.status)} {row.verdict.status:5}",
                str(info.path),
                f"[{info.kind}, Python {version}, {info.arch or 'arch ?'}, {_numpy_text(info)}]",
                f"({row.candidate.source})",
            ]
        )
        lines.append(summary)
        if row.probe is not None:
            lines.append(f"      probe: {row.probe.status}: {row.probe.message} ({row.probe.seconds:.2f} s)")
        if info.venv_base is not None and (verbose or not info.venv_base_exists):
            lines.append(f"      venv base: {info.venv_base}{'' if info.venv_base_exists else ' (missing)'}")
        if verbose:
            lines.append(f"      version from: {info.version_source}; libpython: {info.libpython}")
        for reason in row.verdict.reasons:
            lines.append(f"      {mark(reason.severity)} {reason.message}")
            lines.append(f"        fix: {reason.remediation}")
    usable = sum(row.verdict.status != "error" for row in judged)
    lines.append(f"{len(judged)} Home(s), {usable} usable.")
    return "\n".join(lines)


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
    inspected from their files; --exec also runs their interpreter. Exit code 1 when a given PATH is
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
    judged = judge_candidates(candidates, rules, gui_arch, execute=execute, timeout=timeout)

    if as_json:
        document = {
            "schema": JSON_SCHEMA,
            "rules": rules.to_json(),
            "gui_root": str(layout.root),
            "gui_arch": gui_arch,
            "homes": [row.to_json() for row in judged],
        }
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(render_table(judged, rules, verbose))
    if any(row.candidate.source == "given" and row.verdict.status == "error" for row in judged):
        raise SystemExit(1)
