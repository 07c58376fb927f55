"""A judged Home — where it came from, what its files say, the verdict, the probe if run — and its listing.

One type for `homes`, `configure` and `doctor`: they judge through `judge_candidates` and print through
`render_table`, so the three say the same about the same folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oe_pyproc_setup.commands._output import mark
from oe_pyproc_setup.home.discover import HomeCandidate
from oe_pyproc_setup.home.inspect import HomeInfo, inspect_home
from oe_pyproc_setup.home.probe import ProbeResult, probe_home
from oe_pyproc_setup.home.rules import PluginRules, Verdict, judge_home, judge_probe


@dataclass(frozen=True)
class JudgedHome:
    """One Home as judged; `source` says where it was found ("given", "pyenv", "the default Home file")."""

    source: str
    info: HomeInfo
    verdict: Verdict
    probe: ProbeResult | None = None

    def to_json(self) -> dict[str, Any]:
        """One entry of `homes --json` (schema 1)."""
        document = {"source": self.source, **self.info.to_json(), "verdict": self.verdict.to_json()}
        document["probe"] = None if self.probe is None else self.probe.to_json()
        return document


def judge_candidates(
    candidates: Sequence[HomeCandidate],
    rules: PluginRules,
    gui_arch: str | None = None,
    *,
    execute: bool = False,
    timeout: float = 10,
) -> list[JudgedHome]:
    """Inspect and judge each candidate (and probe it with `execute`)."""
    judged = []
    for candidate in candidates:
        info = inspect_home(candidate.path)
        verdict = judge_home(info, rules, gui_arch)
        probe = None
        if execute and info.kind not in ("missing", "not-python"):
            probe = probe_home(info, timeout)
            verdict = judge_probe(verdict, info, probe)
        judged.append(JudgedHome(candidate.source, info, verdict, probe))
    return judged


def _numpy_text(info: HomeInfo) -> str:
    if not info.has_numpy:
        return "no numpy"
    installer = f" ({info.numpy_installer})" if info.numpy_installer else ""
    return f"numpy {info.numpy_version or '?'}{installer}"


def render_table(judged: Sequence[JudgedHome], rules: PluginRules, verbose: bool = False) -> str:
    """The human-readable listing: one line per Home, then its reasons and remedies."""
    lines = [f"Judged for {'oe-pyproc' if rules.name == 'ours' else 'upstream'}'s plugin ({rules.source}):"]
    lines += [f"  note: {note}" for note in rules.notes]
    for row in judged:
        info = row.info
        version = info.full_version or info.version_text or "?"
        summary = "  ".join(
            [
                f"{mark(row.verdict.status)} {row.verdict.status:5}",
                str(info.path),
                f"[{info.kind}, Python {version}, {info.arch or 'arch ?'}, {_numpy_text(info)}]",
                f"({row.source})",
            ]
        )
        lines.append(summary)
        if row.probe is not None:
            lines.append(f"      probe: {row.probe.status}: {row.probe.message} ({row.probe.seconds:.2f} s)")
        if info.venv_base is not None and (verbose or not info.venv_base_exists):
            lines.append(f"      venv base: {info.venv_base}{'' if info.venv_base_exists else ' (missing)'}")
        if verbose:
            lines.append(f"      version from: {info.version_source}; libpython: {info.libpython}")
        for reason in row.verdict.reasons:
            lines.append(f"      {mark(reason.severity)} {reason.message}")
            lines.append(f"        fix: {reason.remediation}")
    usable = sum(row.verdict.status != "error" for row in judged)
    lines.append(f"{len(judged)} Home(s), {usable} usable.")
    return "\n".join(lines)
