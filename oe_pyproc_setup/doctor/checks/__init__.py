"""The doctor's checks, in the order they run and are shown. Add a check: a module here with CHECK, then
append it to CHECKS (the plugin checks of the packaging issue go at the end)."""

from __future__ import annotations

from oe_pyproc_setup.doctor.checks import (
    chain_paths,
    default_home,
    gui_arch,
    gui_entitlements,
    gui_folders,
    gui_running,
    home_layout,
    home_numpy,
    home_resolve,
    plugin_home,
    plugin_installed,
    python_env_vars,
    script_names,
)
from oe_pyproc_setup.doctor.model import Check

CHECKS: list[Check] = [
    home_resolve.CHECK,
    home_layout.CHECK,
    home_numpy.CHECK,
    python_env_vars.CHECK,
    gui_folders.CHECK,
    default_home.CHECK,
    gui_arch.CHECK,
    gui_entitlements.CHECK,
    chain_paths.CHECK,
    script_names.CHECK,
    gui_running.CHECK,
    plugin_installed.CHECK,
    plugin_home.CHECK,
]


def check_ids() -> list[str]:
    return [check.id for check in CHECKS]
