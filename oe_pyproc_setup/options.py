"""Options shared by several commands (DESIGN §7), so every command spells and documents them the same way."""

from __future__ import annotations

import errno
import math
import os
from pathlib import Path
from typing import Any, Callable, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf: click lets them through its bounds, and they end in a
    traceback far from the option."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class PathArgument(click.Path):
    """click.Path that refuses the empty string: Path("") is the current folder, so `--gui-root ""` (an unset
    shell variable) would quietly act on whatever folder the user stands in. A path the file system cannot
    even look up (a name longer than it allows) is refused here too: pathlib's exists() raises for it, deep
    inside whichever command got it."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail("an empty path was given (an unset variable?); name a file or folder.", param, ctx)
        try:
            os.stat(value)
        except OSError as error:
            if error.errno == errno.ENAMETOOLONG:
                self.fail(f"the path is too long for the file system: {error.strerror}.", param, ctx)
        except ValueError:  # a NUL byte: no file system path holds one
            self.fail("the path holds a NUL byte; no file can be named so.", param, ctx)
        return super().convert(value, param, ctx)


python_home_option = click.option(
    "--python-home",
    type=PathArgument(path_type=Path),
    default=None,
    help="The Python Home (an environment's prefix folder) the plugin embeds.",
)
gui_root_option = click.option(
    "--gui-root",
    type=PathArgument(path_type=Path),
    default=None,
    help="The GUI's saved-state root (default: the platform's, e.g. ~/.config/open-ephys on Linux).",
)
gui_exe_option = click.option(
    "--gui-exe",
    type=PathArgument(path_type=Path),
    default=None,
    help="The Open Ephys GUI executable or app bundle, for the architecture and entitlement checks.",
)
api_option = click.option(
    "--api",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="The GUI's plugin API version: 10 for GUI 1.0, 8 for GUI 0.6.x.",
)


def gui_options(function: F) -> F:
    """--gui-root, --gui-exe and --api together."""
    for option in (api_option, gui_exe_option, gui_root_option):
        function = option(function)
    return function
