"""The CLI's file rules and the loader (the Windows host under wine) on the same real Windows Homes.

Usage: judge_homes.py PLUGIN_METADATA NAME usable|refused HOME REPORT — PLUGIN_METADATA is the cross-built
plugin's oe-pyproc-plugin.json (its bridges and architecture are the rules, as `homes` takes them from an
installed plugin), HOME a Linux path, REPORT the JSON that `oe-pyproc-host.exe --check-home --json` printed
for that Home under wine, just before.

The CLI judges from the files only (oe_pyproc_setup.home: inspect_home + judge_home), run by this Linux
Python on the very trees the loader judged. One translation, the one wine makes: a venv made under wine
names its base as `home = Z:\\...` in pyvenv.cfg, which Linux reads as the path without `Z:` (the venv is
then judged through a mirror of links with only that line translated). Usable means the loader accepted
the Home, and for the CLI a verdict other than "error". Prints both verdicts; exit 1 when either
disagrees with the expectation.
"""

import json
import re
import sys
import tempfile
from pathlib import Path

from oe_pyproc_setup.home import inspect_home, judge_home, ours_rules
from oe_pyproc_setup.plugin_meta import read_plugin_metadata


def loader_verdict(report_file: Path) -> tuple[bool, str]:
    report = json.loads(report_file.read_text(encoding="utf-8"))
    given = next(c for c in report["home"]["candidates"] if c["origin"] == "chain")
    return bool(given["accepted"]), str(given["reason"] or "")


def linux_view(home: Path, mirrors: Path) -> Path:
    """`home`, or for a venv whose pyvenv.cfg names a `Z:` base, a mirror reading it as wine maps it."""
    cfg = home / "pyvenv.cfg"
    if not cfg.is_file():
        return home
    text = cfg.read_text(encoding="utf-8")
    drive = re.compile(r"^(home\s*=\s*)Z:(.*)$", re.MULTILINE | re.IGNORECASE)
    if not drive.search(text):
        return home
    mirror = mirrors / home.name
    mirror.mkdir()
    for entry in home.iterdir():
        if entry.name != "pyvenv.cfg":
            (mirror / entry.name).symlink_to(entry)
    translated = drive.sub(lambda m: m.group(1) + m.group(2).replace("\\", "/"), text)
    (mirror / "pyvenv.cfg").write_text(translated, encoding="utf-8")
    return mirror


def main(metadata_file: str, name: str, expected: str, home: str, report_file: str) -> int:
    metadata = read_plugin_metadata(Path(metadata_file))
    rules = ours_rules(metadata.bridge_versions, f"bridges of {metadata_file}")
    usable = expected == "usable"
    loader_ok, loader_reason = loader_verdict(Path(report_file))
    with tempfile.TemporaryDirectory(prefix="oe-pyproc-homes-") as mirrors:
        info = inspect_home(linux_view(Path(home), Path(mirrors)))
        verdict = judge_home(info, rules, gui_arch=metadata.arch)
    codes = ",".join(reason.code for reason in verdict.reasons) or "-"
    agree = loader_ok == usable and (verdict.status != "error") == usable
    print(
        f"{'agree' if agree else 'DISAGREE'}  {name:<17} expected {expected:<7} "
        f"loader {'usable' if loader_ok else 'refused':<7}  CLI {verdict.status} ({codes})"
    )
    if not loader_ok:
        print(f"    loader: {loader_reason}")
    if verdict.status == "error":
        print(f"    CLI: {verdict.reasons[0].message}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
