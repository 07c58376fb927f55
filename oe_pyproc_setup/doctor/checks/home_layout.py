"""The Home's files: kind, Python version, venv base, standard library, encodings, libpython, architecture."""

from __future__ import annotations

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation, Status

NUMPY_CODES = ("numpy-missing", "numpy-pip-in-conda")


def run(context: Context) -> list[Finding]:
    home = context.home
    if home is None:
        return [CHECK.finding("skip", "no Python Home to inspect")]
    info = home.info
    facts = [
        f"kind: {info.kind}",
        f"Python {info.full_version or info.version_text or '?'} (from {info.version_source or 'nothing'})",
        f"architecture: {'/'.join(info.archs) or 'unknown'}"
        + (f" (from {info.arch_source})" if info.arch_source else ""),
        f"libpython: {info.libpython or 'not found'}",
        f"standard library: {info.stdlib_dir or 'not found'}"
        + ("" if info.has_encodings or info.stdlib_dir is None else " (no encodings/)"),
    ]
    if info.kind == "venv":
        state = "exists" if info.venv_base_exists else "MISSING"
        facts.append(f"venv base install: {info.venv_base or 'unknown'} ({state})")
    reasons = [r for r in home.verdict.reasons if r.code not in NUMPY_CODES]
    if not reasons:
        summary = f"{info.kind}, Python {info.version_text}, {'/'.join(info.archs) or 'unknown architecture'}"
        return [CHECK.finding("ok", summary, details=facts)]
    worst: Status = "error" if any(r.severity == "error" for r in reasons) else "warn"
    commands: list[str] = []
    for reason in reasons:
        if reason.remediation not in commands:
            commands.append(reason.remediation)
    return [
        CHECK.finding(
            worst,
            "; ".join(r.message for r in reasons),
            details=facts,
            remediation=Remediation(f"For {info.path}:", commands),
        )
    ]


CHECK = Check("home.layout", "Home layout", run)
