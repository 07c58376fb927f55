"""PYTHONHOME / PYTHONPATH in the environment the GUI starts from.

Our plugin starts Python isolated: PYTHONHOME is ignored, and PYTHONPATH's entries are appended to
`sys.path` *after* the Home's own paths (labs keep shared code there; it can never shadow the standard
library or the Home's packages). Each entry is listed; entries that cannot work (missing, relative, a
plain file) or that hold a numpy of their own (another Python's site-packages) are warnings. Upstream's
plugin lets both variables override its Home instead.
"""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from oe_pyproc_setup.doctor.checks.gui_arch import numpy_core_module
from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation
from oe_pyproc_setup.shell import quote

VARIABLES = ("PYTHONHOME", "PYTHONPATH")

# The CPython an extension module was built for: `*.cpython-311-x86_64-linux-gnu.so`, `*.cp311-win_amd64.pyd`.
_EXTENSION_TAG = re.compile(r"\.(?:cpython-|cp)(\d)(\d+)")


@dataclass(frozen=True)
class PathEntry:
    """One PYTHONPATH entry as the plugin will see it: what it is, and what is wrong with it (if anything)."""

    text: str
    description: str
    problem: str | None = None


def built_for(numpy_path: Path) -> tuple[int, int] | None:
    """The Python version numpy's compiled core names in its file name; None when there is none."""
    core = numpy_core_module(numpy_path)
    match = _EXTENSION_TAG.search(core.name) if core is not None else None
    return (int(match.group(1)), int(match.group(2))) if match else None


def _same_folder(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve()
    except OSError:
        return False


def inspect_entry(text: str, context: Context) -> PathEntry:
    path = Path(text)
    if not path.is_absolute():
        return PathEntry(
            text,
            "a relative path",
            "relative: the plugin resolves it against the GUI's working folder, not yours",
        )
    if not path.exists():
        return PathEntry(text, "missing", "does not exist")
    if path.is_file():
        if zipfile.is_zipfile(path):
            return PathEntry(text, "a zip archive")
        return PathEntry(text, "a file", "is a file, neither a folder nor a zip archive: Python ignores it")
    home = context.home.info if context.home is not None else None
    if home is not None and any(_same_folder(path, site) for site in home.site_packages):
        return PathEntry(text, "the Home's own site-packages, already on sys.path")
    numpy_path = path / "numpy"
    if not (numpy_path / "__init__.py").is_file():
        return PathEntry(text, "a folder")
    version = built_for(numpy_path)
    home_version = home.version if home is not None else None
    if version is None:
        found = "a numpy without its compiled core (a source checkout?)"
    elif home_version is not None and version != home_version:
        found = (
            f"a numpy built for CPython {version[0]}.{version[1]} (the Home runs "
            f"{home_version[0]}.{home_version[1]}): another Python's packages"
        )
    else:
        found = f"a numpy of its own, built for CPython {version[0]}.{version[1]}"
    if context.rules.name == "upstream":  # PYTHONPATH before the Home: this numpy is the one imported
        consequence = "upstream's plugin puts PYTHONPATH first, so `import numpy` loads this one"
    else:
        consequence = (
            "the Home's numpy comes first on sys.path, but anything the Home lacks is imported from this "
            "folder, built for another numpy or Python"
        )
    return PathEntry(text, "a folder with numpy", f"holds {found}; {consequence}")


def _set_command(kept: list[str]) -> str:
    if not kept:
        return "unset PYTHONPATH" if os.name != "nt" else "set PYTHONPATH="
    value = os.pathsep.join(kept)
    return f"export PYTHONPATH={quote(value)}" if os.name != "nt" else f"set PYTHONPATH={value}"


def run(context: Context) -> list[Finding]:
    present = {name: context.environ[name] for name in VARIABLES if context.environ.get(name)}
    if not present:
        return [CHECK.finding("ok", "neither PYTHONHOME nor PYTHONPATH is set")]
    raw_entries = present.get("PYTHONPATH", "").split(os.pathsep)
    entries = [inspect_entry(text, context) for text in raw_entries if text]
    details = [f"PYTHONHOME={present['PYTHONHOME']}"] if "PYTHONHOME" in present else []
    details += [
        f"PYTHONPATH entry {index}: {entry.text} ({entry.problem or entry.description})"
        for index, entry in enumerate(entries, 1)
    ]
    if len(entries) < len(raw_entries):
        details.append(
            "empty PYTHONPATH entries are skipped (the plugin never puts the current folder on sys.path)"
        )
    names = " and ".join(present)
    if context.rules.name == "upstream":
        return [
            CHECK.finding(
                "warn",
                f"{names} set: upstream's Python Processor lets them override its Home (a wrong value ends "
                "the GUI with \"No module named 'encodings'\")",
                details=details,
                remediation=Remediation(
                    f"Unset {names} in the environment the GUI starts from:",
                    [f"unset {' '.join(present)}"],
                ),
            )
        ]
    problems = [entry for entry in entries if entry.problem is not None]
    parts = []
    if entries:
        listed = ", ".join(entry.text for entry in (problems or entries))
        are = "entry is" if len(entries) == 1 else "entries are"
        appended = f"PYTHONPATH's {len(entries)} {are} appended to sys.path after the Home's own paths"
        parts.append(
            f"{appended}, {len(problems)} cannot work as meant: {listed}"
            if problems
            else f"{appended}: {listed}"
        )
    parts.append(
        "PYTHONHOME is ignored" if "PYTHONHOME" in present else "PYTHONHOME is not set (it would be ignored)"
    )
    message = "; ".join(parts)
    if not problems:
        return [CHECK.finding("ok", message, details=details)]
    kept = [entry.text for entry in entries if entry.problem is None]
    return [
        CHECK.finding(
            "warn",
            message,
            details=details,
            remediation=Remediation(
                "Remove those entries from PYTHONPATH in the environment the GUI starts from (keep only "
                "folders of your own modules, as absolute paths; install packages into the Home instead):",
                [_set_command(kept)],
            ),
        )
    ]


CHECK = Check("env.python-vars", "PYTHONHOME / PYTHONPATH", run)
