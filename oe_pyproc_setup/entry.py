"""The `oe-pyproc` executable: runs the click group, so that Ctrl-C at any moment (while the commands are
still being imported, while options are parsed, while a command starts) ends with a short message and exit
code 130, never a traceback nor click's "Aborted!" with exit code 1. Nothing is imported before the `try`.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130


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


def main() -> None:
    try:
        code = _run_cli()
    except KeyboardInterrupt:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C cannot interrupt the way out
        try:
            sys.stderr.write("\nInterrupted.\n")
            sys.stderr.flush()
        except OSError:
            pass
        code = EXIT_INTERRUPTED
    sys.exit(code)
