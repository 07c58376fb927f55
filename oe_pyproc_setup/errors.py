"""The one error type commands raise for bad input: a clear message and an exit code, never a traceback."""

from __future__ import annotations

from typing import IO, Any

import click


class UserFacingError(click.ClickException):
    """An error the user can act on: click prints `Error: <message>` (and the hint), exits with `exit_code`.

    Raise it from library code too: commands let it propagate and click renders it.
    """

    def __init__(self, message: str, *, exit_code: int = 1, hint: str | None = None) -> None:
        super().__init__(message)
        # click declares exit_code as a class variable; a per-instance code is what click's main() reads.
        object.__setattr__(self, "exit_code", exit_code)
        self.hint = hint

    def format_message(self) -> str:
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"Error: {self.format_message()}", file=file, err=file is None)
