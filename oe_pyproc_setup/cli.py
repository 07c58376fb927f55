"""Entry point of `oe-pyproc`: a thin click group that imports a command's module only when it runs.

Keeping imports lazy is what holds `oe-pyproc --help` under the 0.2 s target (DESIGN §8 P6).
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click

from oe_pyproc_setup import __version__


class CommandEntry(NamedTuple):
    target: str  # "module:attribute" of the click command
    short_help: str


# Add a command here and in its own module under oe_pyproc_setup/commands/.
COMMANDS: dict[str, CommandEntry] = {
    "homes": CommandEntry("oe_pyproc_setup.commands.homes:homes", "Find Python Homes and judge each one."),
    "configure": CommandEntry(
        "oe_pyproc_setup.commands.configure:configure", "Write a checked Python Home into the GUI's settings."
    ),
    "doctor": CommandEntry(
        "oe_pyproc_setup.commands.doctor:doctor",
        "Check the Python Home and the GUI set-up; say how to fix them.",
    ),
    "new-script": CommandEntry(
        "oe_pyproc_setup.commands.new_script:new_script", "Create a processor script from a template."
    ),
    "run": CommandEntry(
        "oe_pyproc_setup.commands.run:run", "Try a script offline in the native host, as the plugin runs it."
    ),
    "install": CommandEntry("oe_pyproc_setup.commands.install:install", "Install the plugin into the GUI."),
    "uninstall": CommandEntry("oe_pyproc_setup.commands.uninstall:uninstall", "Undo install in the GUI."),
    "macos": CommandEntry(
        "oe_pyproc_setup.commands.macos:macos",
        "macOS: let the signed GUI load our plugin (asks first), undo it.",
    ),
}


class LazyGroup(click.Group):
    """Lists commands from COMMANDS without importing them; imports one only when it is invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return self.commands.get(cmd_name)
        module_name, attribute = entry.target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name].short_help) for name in sorted(COMMANDS)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="oe-pyproc")
def main() -> None:
    """Set up, check and try the Open Ephys GUI's Python Processor.

    Typical journey: homes -> configure (or install) -> doctor -> new-script -> run.
    """
