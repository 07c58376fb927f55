"""Python Homes: find them (`discover`), read their files (`inspect`), run their interpreter (`probe`),
judge them by the rules of the plugin that will load them (`rules`), list their modules (`modules`) and
report them (`report`: the one judged-Home type that `homes`, `configure` and `doctor` share).

A *Home* is the prefix folder of a Python installation or environment (what the plugin embeds).
"""

from oe_pyproc_setup.home.discover import HOME_ENV_NAME, HomeCandidate, configured_home, discover_homes
from oe_pyproc_setup.home.inspect import HomeInfo, HomeKind, inspect_home
from oe_pyproc_setup.home.modules import BUILTIN_MODULE_NAMES, home_module_names
from oe_pyproc_setup.home.probe import ProbeResult, probe_home
from oe_pyproc_setup.home.report import JudgedHome, judge_candidates, render_table
from oe_pyproc_setup.home.rules import (
    CONDA_CREATE_COMMAND,
    OURS,
    OURS_LIBRARY_VERSION_MARKER,
    UPSTREAM,
    PluginRules,
    Reason,
    Status,
    Verdict,
    detect_plugin_rules,
    judge_home,
    judge_probe,
    ours_rules,
)

__all__ = [
    "BUILTIN_MODULE_NAMES",
    "CONDA_CREATE_COMMAND",
    "HOME_ENV_NAME",
    "OURS",
    "OURS_LIBRARY_VERSION_MARKER",
    "UPSTREAM",
    "HomeCandidate",
    "HomeInfo",
    "HomeKind",
    "JudgedHome",
    "PluginRules",
    "ProbeResult",
    "Reason",
    "Status",
    "Verdict",
    "configured_home",
    "detect_plugin_rules",
    "discover_homes",
    "home_module_names",
    "inspect_home",
    "judge_candidates",
    "judge_home",
    "judge_probe",
    "ours_rules",
    "probe_home",
    "render_table",
]
