"""A judged Home — where it came from, what its files say, the verdict, the probe if run — and its listing.

One type for `homes`, `configure` and `doctor`: they judge through `judge_candidates` and print through
`render_table`, so the three say the same about the same folder. With a host at hand (home.host) the
loader's verdict decides usable/unusable for our plugin, and each row says which judged.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from oe_pyproc_setup.commands._output import mark
from oe_pyproc_setup.home.discover import HomeCandidate
from oe_pyproc_setup.home.host import HostJudge, LoaderVerdict, check_with_host
from oe_pyproc_setup.home.inspect import HomeInfo, inspect_home
from oe_pyproc_setup.home.probe import ProbeResult, probe_home
from oe_pyproc_setup.home.rules import (
    CONDA_CREATE_COMMAND,
    PluginRules,
    Reason,
    Verdict,
    judge_home,
    judge_probe,
)

FILES = "files"  # JudgedHome.judged_by when no host judged


@dataclass(frozen=True)
class JudgedHome:
    """One Home as judged; `source` says where it was found ("given", "pyenv", "the default Home file")."""

    source: str
    info: HomeInfo
    verdict: Verdict
    probe: ProbeResult | None = None
    judged_by: str = FILES  # "files", or the host that judged ("oe-pyproc-host PATH (...)")
    files_status: str | None = None  # what the file rules alone said, when a host judged

    def to_json(self) -> dict[str, Any]:
        """One entry of `homes --json` (schema 1; judged_by and files_status added)."""
        document = {"source": self.source, **self.info.to_json(), "verdict": self.verdict.to_json()}
        document["probe"] = None if self.probe is None else self.probe.to_json()
        document["judged_by"] = self.judged_by
        document["files_status"] = self.files_status
        return document


def _with_loader(verdict: Verdict, loader: LoaderVerdict) -> Verdict:
    """The file verdict corrected by the loader: accepted drops the file rules' errors (the loader ran the
    Home's own interpreter: that is the truth), refused puts the loader's reason first."""
    if loader.accepted:
        # The loader's process is not the GUI's: an architecture mismatch with the GUI still stands.
        reasons = tuple(r for r in verdict.reasons if r.severity != "error" or r.code == "arch-mismatch")
        if any(r.severity == "error" for r in reasons):
            return Verdict("error", reasons, verdict.rules)
        return Verdict("warn" if reasons else "ok", reasons, verdict.rules)
    remediation = next(
        (r.remediation for r in verdict.reasons if r.severity == "error"),
        f"Create a working Home: {CONDA_CREATE_COMMAND}",
    )
    refused = Reason("loader", "error", f"the plugin's loader refuses it: {loader.reason}", remediation)
    return Verdict("error", (refused, *verdict.reasons), verdict.rules)


def judge_candidates(
    candidates: Sequence[HomeCandidate],
    rules: PluginRules,
    gui_arch: str | None = None,
    *,
    execute: bool = False,
    timeout: float = 10,
    host: HostJudge | None = None,
) -> list[JudgedHome]:
    """Inspect and judge each candidate (and probe it with `execute`). With `host` and our plugin's rules,
    the host's loader decides usable/unusable (hosts run side by side: each waits on a subprocess)."""
    loader_verdicts: list[LoaderVerdict | None] = [None] * len(candidates)
    if host is not None and rules.name == "ours" and candidates:
        with ThreadPoolExecutor(max_workers=min(4, len(candidates))) as pool:
            loader_verdicts = list(pool.map(lambda c: check_with_host(host, c.path), candidates))
    judged = []
    for candidate, loader in zip(candidates, loader_verdicts):
        info = inspect_home(candidate.path)
        verdict = judge_home(info, rules, gui_arch)
        files_status: str | None = None
        judged_by = FILES
        if loader is not None:
            files_status = verdict.status
            verdict = _with_loader(verdict, loader)
            judged_by = loader.judge.description
        probe = None
        if execute and info.kind not in ("missing", "not-python"):
            probe = probe_home(info, timeout)
            verdict = judge_probe(verdict, info, probe)
        judged.append(JudgedHome(candidate.source, info, verdict, probe, judged_by, files_status))
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
        if row.judged_by != FILES:
            lines.append(f"      judged by {row.judged_by}")
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
