"""How findings are shown: text for people, JSON (schema 1) for tools, a markdown block for bug reports.

Text uses ✓ / ! / ✗ and falls back to [ok] / [!!] / [XX] when the output stream cannot encode them (a
Windows console in a legacy code page, PYTHONIOENCODING=ascii); any other character the stream cannot
encode is escaped rather than crashing the doctor.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from oe_pyproc_setup import __version__
from oe_pyproc_setup.doctor.model import STATUSES, Finding, Status, summarize

JSON_SCHEMA_VERSION = 1

UNICODE_MARKS: dict[Status, str] = {"ok": "✓", "warn": "!", "error": "✗", "skip": "-", "crash": "✗"}
ASCII_MARKS: dict[Status, str] = {
    "ok": "[ok]",
    "warn": "[!!]",
    "error": "[XX]",
    "skip": "[--]",
    "crash": "[XX]",
}
_SUMMARY_WORDS: dict[Status, tuple[str, str]] = {
    "ok": ("ok", "ok"),
    "warn": ("warning", "warnings"),
    "error": ("error", "errors"),
    "skip": ("skipped", "skipped"),
    "crash": ("crashed", "crashed"),
}


def stream_encoding(stream: TextIO | None = None) -> str:
    stream = stream if stream is not None else sys.stdout
    return getattr(stream, "encoding", None) or "ascii"


def can_encode(text: str, encoding: str) -> bool:
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def marks_for(encoding: str) -> dict[Status, str]:
    return UNICODE_MARKS if can_encode("".join(UNICODE_MARKS.values()), encoding) else ASCII_MARKS


def make_safe(text: str, encoding: str) -> str:
    """`text` with whatever `encoding` cannot represent escaped (\\xfc), so printing never raises."""
    try:
        return text.encode(encoding, errors="backslashreplace").decode(encoding)
    except LookupError:
        return text.encode("ascii", errors="backslashreplace").decode("ascii")


def platform_info() -> dict[str, str]:
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
    }


def summary_line(findings: Sequence[Finding]) -> str:
    counts = summarize(findings)
    parts = []
    for status in STATUSES:
        count = counts[status]
        if count or status in ("ok", "warn", "error"):
            singular, plural = _SUMMARY_WORDS[status]
            parts.append(f"{count} {singular if count == 1 else plural}")
    return ", ".join(parts)


def render_text(
    findings: Sequence[Finding], *, verbose: bool = False, encoding: str = "utf-8", gui_options: str = ""
) -> str:
    """One line per finding; details for problems (all of them with `verbose`); remediation and commands.
    `gui_options` (` --gui-root ROOT --api N` as given) go into the `doctor --fix` suggested."""
    marks = marks_for(encoding)
    width = max(len(mark) for mark in marks.values())
    lines: list[str] = []
    for finding in findings:
        lines.append(f"{marks[finding.status]:<{width}} {finding.title}: {finding.message}")
        problem = finding.status in ("warn", "error", "crash")
        indent = " " * (width + 1)
        if verbose or problem:
            lines.extend(f"{indent}{detail}" for detail in finding.details)
        if finding.remediation and (problem or verbose):
            lines.append(f"{indent}-> {finding.remediation.text}")
            lines.extend(f"{indent}     {command}" for command in finding.remediation.commands)
        if finding.fix and problem:
            lines.append(
                f"{indent}-> `oe-pyproc doctor --fix{gui_options}` can do this: {finding.fix.description}"
            )
        if verbose:
            lines.extend(f"{indent}see {link}" for link in finding.links)
    lines.append("")
    lines.append(f"Summary: {summary_line(findings)}")
    return make_safe("\n".join(lines), encoding)


def render_json(findings: Sequence[Finding], context_info: dict[str, Any] | None = None) -> str:
    """The stable machine-readable form; its schema is documented in the README ("doctor --json")."""
    document = {
        "schema": JSON_SCHEMA_VERSION,
        "oe_pyproc_version": __version__,
        "platform": platform_info(),
        "context": context_info or {},
        "summary": summarize(findings),
        "findings": [finding.to_json() for finding in findings],
    }
    return json.dumps(document, indent=2)


def _redact_home(text: str) -> str:
    home = str(Path.home())
    return text.replace(home, "~") if len(home) > 1 else text


def _cell(text: str) -> str:
    return _redact_home(text).replace("|", "\\|").replace("\n", " ")


def render_report(findings: Sequence[Finding], context_info: dict[str, Any] | None = None) -> str:
    """A markdown block to paste into a bug report: versions, platform, every finding with its details.

    The user's home folder is shown as `~`.
    """
    info = platform_info()
    lines = [
        "<!-- oe-pyproc doctor report: paste everything below into your bug report -->",
        "### oe-pyproc doctor report",
        "",
        f"- oe-pyproc: {__version__}",
        f"- platform: {info['system']} {info['release']} ({info['machine']})",
        f"- CLI Python: {info['python']} ({_redact_home(info['python_executable'])})",
    ]
    for key, value in (context_info or {}).items():
        lines.append(f"- {key}: {_redact_home(str(value))}")
    lines += ["", f"Summary: {summary_line(findings)}", "", "| status | check | result |", "|---|---|---|"]
    for finding in findings:
        lines.append(f"| {finding.status} | {_cell(finding.id)} | {_cell(finding.message)} |")
    detailed = [finding for finding in findings if finding.details]
    if detailed:
        lines += ["", "<details><summary>details</summary>", "", "```text"]
        for finding in detailed:
            lines.append(f"[{finding.status}] {finding.id}")
            lines.extend(f"    {_redact_home(detail)}" for detail in finding.details)
        lines += ["```", "", "</details>"]
    return "\n".join(lines)
