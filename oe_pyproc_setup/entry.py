"""The `oe-pyproc` executable: runs the click group, so that Ctrl-C at any moment (while the commands are
still being imported, while options are parsed, while a command starts) ends with a short message and exit
code 130, never a traceback nor click's "Aborted!" with exit code 1.

The console script imports this module outside any `try` of ours: until `main` runs, a Ctrl-C is only
remembered (the handler below, installed as this module is imported), then raised inside `main`'s `try`.
"""

from __future__ import annotations

# The C module under `signal`: importing `signal` itself builds its enums (milliseconds, a window in which
# a Ctrl-C would still meet no handler of ours).
import _signal as signal  # type: ignore[import-not-found]  # no stub: the public face is `signal`
import sys

EXIT_INTERRUPTED = 130
_interrupted_early: list[int] = []


def _remember_interrupt(signum: int, frame: object) -> None:
    _interrupted_early.append(signum)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when the parent ignores SIGINT
    signal.signal(signal.SIGINT, _remember_interrupt)


def _run_cli() -> int:
    import click

    from oe_pyproc_setup.cli import main as cli

    try:
        result = cli.main(standalone_mode=False)
    except click.Abort as abort:
        if isinstance(abort.__cause__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        click.echo("Aborted!", err=True)
        return 1
    except click.ClickException as error:
        error.show()
        return error.exit_code
    return result if isinstance(result, int) else 0


_RAISING = ("strict", "surrogateescape")  # surrogateescape too: it raises for a character like Ω


def _never_fail_to_print() -> None:
    """Characters the output stream cannot encode are written as escapes (\\u03a9) instead of raising:
    on Windows a pipe or file gets the ANSI code page (cp1252), which lacks most of the world's letters,
    and a path holding one must not end a command in a UnicodeEncodeError. UTF-8 streams are left as they
    are (they encode everything; surrogateescape keeps undecodable file names' bytes on Linux)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)  # io.TextIOWrapper; not a replaced stream
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("_", "-")
        if reconfigure is not None and encoding not in ("utf-8", "utf8") and stream.errors in _RAISING:
            reconfigure(errors="backslashreplace")


def main() -> None:
    _never_fail_to_print()
    try:
        if signal.getsignal(signal.SIGINT) is _remember_interrupt:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if _interrupted_early:
            raise KeyboardInterrupt
        code = _run_cli()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C cannot interrupt the way out
        try:
            sys.stderr.write("\nInterrupted.\n")
            sys.stderr.flush()
        except OSError:
            pass
        code = EXIT_INTERRUPTED
    sys.exit(code)
