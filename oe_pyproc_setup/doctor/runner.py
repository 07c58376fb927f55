"""Runs checks in order. A check that raises is reported as crashed (traceback in details), never fatal."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation, Status, summarize
from oe_pyproc_setup.errors import UserFacingError

BUG_REPORT = Remediation(
    "This is a bug in oe-pyproc. Please report it with the output of:",
    ["oe-pyproc doctor --report"],
)


def _crashed(check: Check, message: str, details: list[str]) -> Finding:
    return Finding(check.id, check.title, "crash", message, details=details, remediation=BUG_REPORT)


def run_check(check: Check, context: Context) -> list[Finding]:
    try:
        findings = check.run(context)
    except UserFacingError as error:
        # Bad input surfaced inside a check (an unreadable file, a path that is a file): an error, not a bug.
        return [Finding(check.id, check.title, "error", error.format_message())]
    except Exception as error:
        lines = traceback.format_exc().rstrip().splitlines()
        return [_crashed(check, f"the check crashed: {type(error).__name__}: {error}", lines)]
    if not isinstance(findings, list) or not findings:
        return [_crashed(check, f"the check returned no findings ({findings!r})", [])]
    if not all(isinstance(finding, Finding) for finding in findings):
        return [_crashed(check, "the check returned something that is not a Finding", [repr(findings)])]
    return findings


@dataclass(frozen=True)
class Outcome:
    findings: list[Finding]

    def summary(self) -> dict[Status, int]:
        return summarize(self.findings)

    def exit_code(self, strict: bool = False) -> int:
        """0 for ok/warn/skip, 1 for an error or a crash, and for a warning too with `strict`."""
        counts = self.summary()
        if counts["error"] or counts["crash"] or (strict and counts["warn"]):
            return 1
        return 0


def run_checks(checks: Sequence[Check], context: Context) -> Outcome:
    findings: list[Finding] = []
    for check in checks:
        findings.extend(run_check(check, context))
    return Outcome(findings)
