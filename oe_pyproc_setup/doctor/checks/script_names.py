"""Scripts in the saved chains whose file name (stem) shadows a module of the Home, or is no identifier.

Upstream's plugin imports a script by its stem, so `numpy.py` loads numpy and `v1.2.py` fails; oe-pyproc's
plugin loads by path and registers the stem only when it names no other module, so such a script runs but is
not importable by its name, and the chain would break with upstream's.
"""

from __future__ import annotations

import keyword
import sys
from pathlib import PurePath

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation
from oe_pyproc_setup.home import home_module_names


def run(context: Context) -> list[Finding]:
    scripts: list[str] = []
    for chain in context.chains:
        if chain.document is not None:
            scripts += [p.script_path for p in chain.document.processors if p.script_path]
    scripts = list(dict.fromkeys(scripts))
    if not scripts:
        return [CHECK.finding("skip", "no script named in the saved chains")]
    home = context.home
    if home is not None and home.info.stdlib_dir is not None:
        modules, against = home_module_names(home.info), f"the Home {home.info.path}"
    else:
        modules, against = (
            set(getattr(sys, "stdlib_module_names", ())),
            "the standard library (no usable Home)",
        )
    problems = []
    for script in scripts:
        stem = PurePath(script.replace("\\", "/")).stem
        if not stem.isidentifier() or keyword.iskeyword(stem):
            problems.append(f"{script}: {stem!r} is not an importable module name")
        elif stem in modules:
            problems.append(f"{script}: {stem!r} is also a module of {against}")
    if not problems:
        return [CHECK.finding("ok", f"{len(scripts)} script name(s) checked against {against}")]
    upstream = context.rules.name == "upstream"
    impact = (
        "upstream's plugin imports scripts by name and will load the wrong module or fail"
        if upstream
        else "oe-pyproc's plugin loads them by path, but does not make them importable by that name (a "
        "helper's `import` and pickles of their classes get the other module), and upstream's would fail"
    )
    return [
        CHECK.finding(
            "error" if upstream else "warn",
            f"{len(problems)} script name(s) clash: {impact}",
            details=problems,
            remediation=Remediation(
                "Rename the script (e.g. my_<name>.py) and select it again in the GUI; "
                "`oe-pyproc new-script` picks names that work everywhere."
            ),
        )
    ]


CHECK = Check("scripts.names", "Script names", run)
