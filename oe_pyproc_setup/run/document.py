"""The run's report as one JSON document on stdout (`run --json`, schema 1), for success and failure alike."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.run.host import HostRun
from oe_pyproc_setup.script_check import CheckResult

if TYPE_CHECKING:
    from oe_pyproc_setup.run.session import Outcome

DOCUMENT_SCHEMA = 1


def echo_json_failure(
    failure: UserFacingError, script: Path, check: CheckResult | None, run: HostRun | None
) -> None:
    """With --json, a failure is a JSON document on stdout too (the message also goes to stderr)."""
    document = {
        "schema": DOCUMENT_SCHEMA,
        "script": str(script.absolute()),
        "ok": False,
        "exit_code": failure.exit_code,
        "error": failure.format_message(),
        "check": [] if check is None else [finding.as_dict() for finding in check.findings],
        "host_output": None if run is None else run.stderr,
        "report": None if run is None or run.report is None else run.report.raw,
    }
    click.echo(json.dumps(document, indent=2))


def json_document(outcome: Outcome) -> dict[str, Any]:
    plan, run, report, verdict = outcome.plan, outcome.run, outcome.report, outcome.verdict
    return {
        "schema": DOCUMENT_SCHEMA,
        "script": str(plan.script.absolute()),
        "ok": outcome.exit_code == 0,
        "exit_code": outcome.exit_code,
        "check": [finding.as_dict() for finding in plan.check.findings],
        "host": {
            "path": str(plan.host.path),
            "origin": plan.host.origin,
            "exit_code": run.exit_code,
            "command": run.command,
        },
        "input": {
            "source": "recording" if plan.recording is not None else "synthetic",
            "recording": None if plan.recording is None else str(plan.recording),
            "stream": plan.source.template.stream_name,
            "channels": plan.channels,
            "sample_rate": plan.sample_rate,
            "samples": plan.num_samples,
            "ttl_events": len(plan.source.events),
            "spikes": plan.spike_count,
            "first_sample_number": plan.first_sample_number,
        },
        "block": plan.block,
        "instances": plan.instances,
        "budget_ms": plan.budget_ms,
        "verdict": None
        if verdict is None
        else {
            "fits": verdict.fits,
            "tight": verdict.tight,
            "median_budget_percent": verdict.median_percent,
            "p99_budget_percent": verdict.p99_percent,
            "max_budget_percent": verdict.max_percent,
            "text": verdict.text,
        },
        "events_emitted": report.events_emitted_count,
        "interrupted": run.interrupted,
        "samples_done": report.samples,
        "output": None if outcome.output is None else outcome.output.as_dict(),
        "plot": None if plan.plot_path is None else str(plan.plot_path),
        "warnings": [{"block": warning.block, "message": warning.message} for warning in outcome.warnings],
        "limits": outcome.limits,
        "host_output": run.stderr,
        "report": report.raw,
    }
