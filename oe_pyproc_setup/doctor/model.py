"""The doctor's data: what a check found, how to fix it, and the check itself. No I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

if TYPE_CHECKING:
    from oe_pyproc_setup.doctor.context import Context

Status = Literal["ok", "warn", "error", "skip", "crash"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "error", "skip", "crash")


@dataclass(frozen=True)
class Remediation:
    """What the user can do: a sentence, and the exact commands (copy-paste ready) when there are any."""

    text: str
    commands: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "commands": list(self.commands)}


@dataclass(frozen=True)
class Fix:
    """A change `doctor --fix` may make: only to oe-pyproc's own files, always with a backup.

    `apply` performs it and returns a sentence saying what was written where.
    """

    description: str
    apply: Callable[[], str]


@dataclass(frozen=True)
class Finding:
    """One result of a check. `id` is the check's id, or `<check id>/<subject>` when a check reports
    several subjects (e.g. one finding per chain file)."""

    id: str
    title: str
    status: Status
    message: str
    details: list[str] = field(default_factory=list)
    remediation: Remediation | None = None
    links: list[str] = field(default_factory=list)
    fix: Fix | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"finding {self.id}: unknown status {self.status!r}")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "message": self.message,
            "details": list(self.details),
            "remediation": self.remediation.to_json() if self.remediation else None,
            "links": list(self.links),
            "fixable": self.fix is not None,
        }


def summarize(findings: Sequence[Finding]) -> dict[Status, int]:
    """How many findings have each status (every status present, in STATUSES order)."""
    counts: dict[Status, int] = dict.fromkeys(STATUSES, 0)
    for finding in findings:
        counts[finding.status] += 1
    return counts


@dataclass(frozen=True)
class Check:
    """A named check: `run` reads the context (never changes anything) and returns at least one finding."""

    id: str
    title: str
    run: Callable[[Context], list[Finding]]

    def finding(self, status: Status, message: str, **extra: Any) -> Finding:
        """A finding of this check; `extra` takes details, remediation, links, fix and `subject`."""
        subject = extra.pop("subject", None)
        finding_id = f"{self.id}/{subject}" if subject else self.id
        return Finding(finding_id, self.title, status, message, **extra)
