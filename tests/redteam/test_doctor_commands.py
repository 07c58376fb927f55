"""doctor's remediation commands keep the GUI the user chose (issue 14 item 6, issue 12 item 1).

With `--gui-root` (a path with a space, quote, `$` and backquotes) and `--api 8`, every `oe-pyproc`
command a finding suggests must name that same root and API, and paste into a real shell as printed:
each is run by bash with `oe-pyproc` standing for a program that prints the arguments it received.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from redteam_helpers import CHAIN, TIMEOUT, Outcome

Cli = Callable[..., Outcome]


def suggested_commands(cli: Cli, *args: str) -> list[str]:
    outcome = cli("doctor", "--json", *args)
    outcome.clean()
    assert outcome.returncode in (0, 1), outcome.stderr
    findings = json.loads(outcome.stdout)["findings"]
    return [
        command
        for finding in findings
        if finding.get("remediation")
        for command in finding["remediation"]["commands"]
        if command.startswith("oe-pyproc ")
    ]


def argv_through_bash(command: str) -> list[str]:
    """The arguments `oe-pyproc` gets when bash runs `command` as pasted."""
    echo = f"{sys.executable} -c 'import json, sys; print(json.dumps(sys.argv[1:]))'"
    completed = subprocess.run(
        ["bash", "-c", f'oe-pyproc() {{ {echo} "$@"; }}\n{command}'],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return list(json.loads(completed.stdout))


def test_every_suggested_command_keeps_gui_root_and_api(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "it's $HOME `whoami` dir" / "open-ephys"
    (root / "configs-api8").mkdir(parents=True)
    (root / "configs-api8" / "lastConfig.xml").write_text(
        CHAIN.format(encoding="UTF-8").replace('python_home="/old"', f'python_home="{tmp_path / "gone"}"')
    )
    commands = suggested_commands(cli, "--gui-root", str(root), "--api", "8")
    assert len(commands) >= 2, commands
    for command in commands:
        argv = argv_through_bash(command.replace("<Home>", "HOME").replace("<the new env's folder>", "X"))
        assert argv[argv.index("--gui-root") + 1] == str(root), command
        assert argv[argv.index("--api") + 1] == "8", command


def test_default_gui_is_not_named_when_the_user_gave_none(cli: Cli, tmp_path: Path) -> None:
    import os

    env = dict(os.environ, HOME=str(tmp_path))
    outcome = cli("doctor", "--json", env=env)
    outcome.clean()
    for finding in json.loads(outcome.stdout)["findings"]:
        for command in (finding.get("remediation") or {}).get("commands", []):
            assert "--gui-root" not in command and "--api" not in command, command
