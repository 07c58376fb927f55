"""The host's JSON report (plugin/host/README.md, "JSON report"), parsed once into typed values.

The host versions its report (`"schema"`): additive changes keep the number, a rename or removal bumps it.
`REPORT_SCHEMA` is the version read here; a report of another version is refused with a clear message
(the host and oe-pyproc-setup then come from different releases), never half-read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from oe_pyproc_setup.errors import UserFacingError

REPORT_SCHEMA = 1


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _integer(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _optional_integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Timing:
    """Median, p99 and max of one per-block time in microseconds; None where the host had none."""

    median: float | None = None
    p99: float | None = None
    max: float | None = None

    @classmethod
    def parse(cls, raw: Any) -> Timing:
        raw = _object(raw)
        return cls(_number(raw.get("median")), _number(raw.get("p99")), _number(raw.get("max")))

    def stat(self, name: str) -> float | None:
        return {"median": self.median, "p99": self.p99, "max": self.max}[name]


@dataclass(frozen=True)
class EmittedEvent:
    """A TTL event a script sent; `sample_number` counts from the run's first sample number."""

    sample_number: int
    line: int
    state: bool
    block: int | None


@dataclass(frozen=True)
class InstanceReport:
    index: int
    faulted: bool = False
    blocks_processed: int = 0
    blocks_bypassed: int = 0
    script_us: Timing = Timing()
    overhead_us: Timing = Timing()
    block_budget_percent: list[float] | None = None  # None: the host listed no per-block times
    events_emitted_count: int = 0
    events_emitted: list[EmittedEvent] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> InstanceReport:
        timing = _object(raw.get("timing_us"))
        per_block = raw.get("block_budget_percent")
        return cls(
            index=_integer(raw.get("index")),
            faulted=raw.get("faulted") is True,
            blocks_processed=_integer(raw.get("blocks_processed")),
            blocks_bypassed=_integer(raw.get("blocks_bypassed")),
            script_us=Timing.parse(timing.get("script")),
            overhead_us=Timing.parse(timing.get("overhead")),
            block_budget_percent=(
                [value for value in (_number(v) for v in per_block) if value is not None]
                if isinstance(per_block, list)
                else None
            ),
            events_emitted_count=_integer(raw.get("events_emitted_count")),
            events_emitted=[
                EmittedEvent(
                    sample_number=_integer(event.get("sample_number")),
                    line=_integer(event.get("line")),
                    state=event.get("state") is True,
                    block=_optional_integer(event.get("block")),
                )
                for event in _objects(raw.get("events_emitted"))
            ],
        )

    def block_time_us(self, stat: str) -> float | None:
        """Script + bridge time of a block at this statistic (None when the host measured neither)."""
        known = [
            value for value in (self.script_us.stat(stat), self.overhead_us.stat(stat)) if value is not None
        ]
        return sum(known) if known else None


@dataclass(frozen=True)
class ScriptError:
    instance: int | None
    block: int | None
    sample_number: int | None
    method: str
    message: str
    traceback: str

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> ScriptError:
        return cls(
            instance=_optional_integer(raw.get("instance")),
            block=_optional_integer(raw.get("block")),
            sample_number=_optional_integer(raw.get("sample_number")),
            method=_text(raw.get("method")),
            message=_text(raw.get("message")),
            traceback=_text(raw.get("traceback")),
        )


@dataclass(frozen=True)
class HostWarning:
    block: int | None
    message: str


@dataclass(frozen=True)
class HostReport:
    """The fields of the host's report that `run` uses; `raw` is the whole document, for --json."""

    raw: dict[str, Any]
    fatal_message: str = ""
    fatal_stage: str = ""  # "home", "python", "script", "io", "internal", "watchdog"
    home_chosen: str | None = None
    python_version: str | None = None
    numpy_version: str | None = None
    blocks: int | None = None
    samples: int = 0
    realtime_factor: float | None = None
    instances: list[InstanceReport] = field(default_factory=list)
    errors: list[ScriptError] = field(default_factory=list)
    warnings: list[HostWarning] = field(default_factory=list)

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> HostReport:
        """A report from its JSON object; refused (UserFacingError) when its schema is not REPORT_SCHEMA."""
        schema = raw.get("schema")
        if schema != REPORT_SCHEMA:
            raise UserFacingError(
                f"the host wrote a report of schema {schema!r}; this oe-pyproc reads schema {REPORT_SCHEMA}",
                hint="The host and oe-pyproc-setup come from different releases: install them together "
                "(or give the matching host with --host).",
            )
        home, stream, run = (_object(raw.get(key)) for key in ("home", "stream", "run"))
        return cls(
            raw=raw,
            fatal_message=_text(_object(raw.get("fatal")).get("message")).strip(),
            fatal_stage=_text(_object(raw.get("fatal")).get("stage")).strip(),
            home_chosen=home.get("chosen") if isinstance(home.get("chosen"), str) else None,
            python_version=home.get("python_version")
            if isinstance(home.get("python_version"), str)
            else None,
            numpy_version=home.get("numpy_version") if isinstance(home.get("numpy_version"), str) else None,
            blocks=_optional_integer(stream.get("blocks")),
            samples=_integer(stream.get("samples")),
            realtime_factor=_number(run.get("realtime_factor")),
            instances=[InstanceReport.parse(instance) for instance in _objects(raw.get("instances"))],
            errors=[ScriptError.parse(error) for error in _objects(raw.get("errors"))],
            warnings=[
                HostWarning(block=_optional_integer(w.get("block")), message=_text(w.get("message")))
                for w in _objects(raw.get("warnings"))
            ],
        )

    @classmethod
    def from_output(cls, stdout: str) -> HostReport | None:
        """The report the host printed on stdout with --json (None when it printed none)."""
        text = stdout.strip()
        if not text:
            return None
        try:
            parsed = json.loads(text[text.find("{") :])
        except ValueError:
            return None
        return cls.parse(parsed) if isinstance(parsed, dict) else None

    @property
    def events_emitted_count(self) -> int:
        return sum(instance.events_emitted_count for instance in self.instances)
