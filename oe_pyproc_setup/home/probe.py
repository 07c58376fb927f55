"""Running a Home's own interpreter isolated (`homes --exec`): what it really is and whether numpy imports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Literal

from oe_pyproc_setup.binfmt import normalize_machine
from oe_pyproc_setup.home.inspect import HomeInfo


@dataclass(frozen=True)
class ProbeResult:
    """What the Home's own interpreter said when run isolated (-I). `status` is never raised as an error."""

    status: Literal["ok", "numpy-missing", "timeout", "crashed", "failed", "no-interpreter"]
    message: str
    version: tuple[int, int] | None = None
    full_version: str | None = None
    arch: str | None = None
    bits: int | None = None
    numpy_version: str | None = None
    numpy_error: str | None = None
    prefix: str | None = None
    base_prefix: str | None = None
    returncode: int | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "version": f"{self.version[0]}.{self.version[1]}" if self.version else None,
            "full_version": self.full_version,
            "arch": self.arch,
            "bits": self.bits,
            "numpy_version": self.numpy_version,
            "numpy_error": self.numpy_error,
            "returncode": self.returncode,
            "seconds": round(self.seconds, 3),
        }


_PROBE_CODE = """
import json, platform, struct, sys
report = {"version": list(sys.version_info[:3]), "machine": platform.machine(),
          "bits": struct.calcsize("P") * 8, "prefix": sys.prefix, "base_prefix": sys.base_prefix}
try:
    import numpy
    report["numpy"] = numpy.__version__
except BaseException as error:
    report["numpy_error"] = "%s: %s" % (type(error).__name__, error)
sys.stdout.write("OE-PYPROC-PROBE " + json.dumps(report) + "\\n")
"""


def probe_home(info: HomeInfo, timeout: float = 10) -> ProbeResult:
    """Run the Home's interpreter isolated (-I, no PYTHON* variables) with a timeout; a hang, a crash or
    a failed import is reported in the result, never raised."""
    interpreter = info.interpreter
    if interpreter is None or not interpreter.exists():
        return ProbeResult("no-interpreter", "no interpreter to run in this Home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    started = time.monotonic()
    try:
        completed = subprocess.run(
            [str(interpreter), "-I", "-c", _PROBE_CODE],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ProbeResult("timeout", f"the interpreter did not finish within {timeout:g} s", seconds=timeout)
    except OSError as error:
        return ProbeResult("failed", f"cannot start {interpreter}: {error.strerror or error}")
    seconds = time.monotonic() - started
    if completed.returncode < 0:
        try:
            name = signal.Signals(-completed.returncode).name
        except ValueError:
            name = f"signal {-completed.returncode}"
        last_lines = completed.stderr.strip().splitlines()[-1:] or [""]
        return ProbeResult(
            "crashed",
            f"the interpreter crashed ({name}) {last_lines[0]}".strip(),
            returncode=completed.returncode,
            seconds=seconds,
        )
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("OE-PYPROC-PROBE ")), None)
    if completed.returncode != 0 or line is None:
        tail = " | ".join(completed.stderr.strip().splitlines()[-3:])
        return ProbeResult(
            "failed",
            f"exit code {completed.returncode}: {tail}",
            returncode=completed.returncode,
            seconds=seconds,
        )
    report = json.loads(line.split(" ", 1)[1])
    version = (int(report["version"][0]), int(report["version"][1]))
    common: dict[str, Any] = {
        "version": version,
        "full_version": ".".join(str(n) for n in report["version"]),
        "arch": normalize_machine(str(report["machine"])),
        "bits": int(report["bits"]),
        "prefix": report["prefix"],
        "base_prefix": report["base_prefix"],
        "returncode": 0,
        "seconds": seconds,
    }
    if "numpy" in report:
        return ProbeResult(
            "ok",
            f"Python {common['full_version']}, numpy {report['numpy']}",
            numpy_version=str(report["numpy"]),
            **common,
        )
    return ProbeResult(
        "numpy-missing",
        f"import numpy failed: {report.get('numpy_error')}",
        numpy_error=str(report.get("numpy_error")),
        **common,
    )
