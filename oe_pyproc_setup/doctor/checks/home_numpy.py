"""numpy in the Home, and whether conda or pip installed it: read from the files, never imported."""

from __future__ import annotations

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation
from oe_pyproc_setup.shell import quote


def install_numpy_command(context: Context) -> str:
    assert context.home is not None
    info = context.home.info
    if info.kind == "conda-env" or (info.path / "conda-meta").is_dir():
        return f"conda install -p {quote(info.path)} -c conda-forge numpy"
    python = info.interpreter or info.path / "bin" / "python"
    return f"{quote(python)} -m pip install numpy"


def run(context: Context) -> list[Finding]:
    home = context.home
    if home is None:
        return [CHECK.finding("skip", "no Python Home to inspect")]
    info = home.info
    if info.kind in ("missing", "not-python"):
        return [CHECK.finding("skip", "the Home is not a Python installation")]
    searched = [f"searched {folder}" for folder in info.site_packages] or ["no site-packages folder found"]
    if not info.has_numpy:
        return [
            CHECK.finding(
                "error",
                f"numpy is not installed in {info.path} (found by scanning site-packages)",
                details=searched,
                remediation=Remediation("Install numpy into the Home:", [install_numpy_command(context)]),
            )
        ]
    installer = info.numpy_installer or "unknown installer"
    message = (
        f"numpy {info.numpy_version or '(version unknown)'} installed by {installer} at {info.numpy_path}"
    )
    if info.kind == "conda-env" and info.numpy_installer not in (None, "conda"):
        return [
            CHECK.finding(
                "warn",
                message + ": pip's numpy in a conda env can clash with conda's libraries",
                remediation=Remediation(
                    "Prefer conda's numpy:",
                    [
                        f"{quote(info.interpreter or 'python')} -m pip uninstall numpy",
                        f"conda install -p {quote(info.path)} -c conda-forge numpy",
                    ],
                ),
            )
        ]
    return [CHECK.finding("ok", message)]


CHECK = Check("home.numpy", "numpy", run)
