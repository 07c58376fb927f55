"""The processor script templates `new-script` copies (DESIGN §5 ids), found wherever they were installed.

One source, the repository's `templates/`: the wheel carries it as package data
(`oe_pyproc_setup/templates/`), the conda plugin package installs it to `$PREFIX/share/oe-pyproc/templates`.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

from oe_pyproc_setup.errors import UserFacingError

TEMPLATE_IDS: tuple[str, ...] = ("processor", "bandpass", "ttl_threshold", "spike_rate", "recording_log")
DEFAULT_TEMPLATE = "processor"


def _candidate_dirs() -> list[Path]:
    package_dir = Path(__file__).resolve().parent
    candidates = [package_dir / "templates", package_dir.parent / "templates"]
    for prefix in (os.environ.get("CONDA_PREFIX"), sys.prefix):
        if prefix:
            candidates.append(Path(prefix) / "share" / "oe-pyproc" / "templates")
    return candidates


def templates_dir() -> Path:
    """The folder holding the templates: package data, else the source tree's, else the conda prefix's."""
    candidates = _candidate_dirs()
    for candidate in candidates:
        if (candidate / f"{DEFAULT_TEMPLATE}.py").is_file():
            return candidate
    searched = "\n".join(f"  {path}" for path in candidates)
    raise UserFacingError(
        f"the processor templates are missing; looked in:\n{searched}\nReinstall oe-pyproc."
    )


def template_path(template_id: str) -> Path:
    """The file of one template; a clear error for an unknown id or a missing file."""
    if template_id not in TEMPLATE_IDS:
        raise UserFacingError(
            f"unknown template {template_id!r}; the templates are: {', '.join(TEMPLATE_IDS)}"
        )
    path = templates_dir() / f"{template_id}.py"
    if not path.is_file():
        raise UserFacingError(f"template {template_id!r} is missing: {path} does not exist")
    return path


def template_description(template_id: str) -> str:
    """The first line of the template's module docstring (read, never imported)."""
    source = template_path(template_id).read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source)) or ""
    return docstring.strip().splitlines()[0] if docstring.strip() else ""
