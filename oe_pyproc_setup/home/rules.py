"""What the plugin that will load a Home accepts, which plugin that is, and the verdict on a Home."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.gui import GuiLayout
from oe_pyproc_setup.home.inspect import HomeInfo
from oe_pyproc_setup.home.probe import ProbeResult
from oe_pyproc_setup.install.manifest import read_manifest
from oe_pyproc_setup.plugin_meta import (
    METADATA_FILE,
    find_upstream_plugins,
    prefix_plugin_dir,
    read_plugin_metadata,
)

Status = Literal["ok", "warn", "error"]

CONDA_CREATE_COMMAND = "conda create -n oe-python-plugin -c conda-forge python=3.10 numpy scipy"
# Our plugin writes this into the chain's libraryVersion, so a chain tells which plugin saved it.
OURS_LIBRARY_VERSION_MARKER = "oe-pyproc"


@dataclass(frozen=True)
class PluginRules:
    """What the plugin that will load the Home accepts (DESIGN §7)."""

    name: Literal["ours", "upstream"]
    allow_venv: bool
    versions: frozenset[tuple[int, int]]  # Python minor versions it can embed
    source: str = "default"  # why these rules apply (for reports)
    notes: tuple[str, ...] = ()

    @property
    def versions_text(self) -> str:
        return ", ".join(f"{a}.{b}" for a, b in sorted(self.versions))

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.name,
            "allow_venv": self.allow_venv,
            "versions": sorted(f"{a}.{b}" for a, b in self.versions),
            "source": self.source,
            "notes": list(self.notes),
        }


def ours_rules(bridges: Iterable[tuple[int, int]] = ((3, 10),), source: str = "default") -> PluginRules:
    """Our plugin: venvs allowed, any Python with a bridge (3.10 for now)."""
    return PluginRules("ours", True, frozenset(bridges), source)


OURS = ours_rules()
UPSTREAM = PluginRules("upstream", False, frozenset({(3, 10)}), "upstream python-processor")


def _bridges_in(folder: Path) -> list[tuple[int, int]]:
    """The Python versions the oe-pyproc plugin(s) below `folder` have bridges for (their metadata)."""
    versions: list[tuple[int, int]] = []
    for metadata_file in sorted(folder.glob(f"**/{METADATA_FILE}")):
        try:
            versions += read_plugin_metadata(metadata_file).bridge_versions
        except UserFacingError:
            continue
    return versions


def _installed_by_us(layout: GuiLayout) -> set[Path]:
    """What our manifest says install put into the GUI's plugin folder (never upstream's plugin)."""
    try:
        manifest = read_manifest(layout.manifest)
    except UserFacingError:
        return set()
    return set() if manifest is None else {layout.plugins_dir / f.path for f in manifest.files}


def _rules_of_the_package(api: int, why: str) -> PluginRules:
    """Our rules with the bridges of the package `install` would install (the environment it installs
    from): a Home is then accepted before install exactly when the plugin to be installed can load it."""
    from oe_pyproc_setup.install.plugin import resolve_prefix  # install imports much; only needed here

    try:
        prefix, _ = resolve_prefix(None)
    except UserFacingError:
        return ours_rules(source=why)
    folder = prefix_plugin_dir(prefix, api)
    bridges = _bridges_in(folder) if folder.is_dir() else []
    if not bridges:
        return ours_rules(source=why)
    return ours_rules(bridges, f"{why}; bridges of the package in {prefix}")


def detect_plugin_rules(
    layout: GuiLayout | None,
    chain_library_version: str | None = None,
    executable_plugin_dirs: Iterable[Path] = (),
) -> PluginRules:
    """Which plugin will load the Home. The GUI searches the plugin folders beside its executable
    (`executable_plugin_dirs`, see gui.executable_plugin_dirs) before plugins-api<N>, and the first
    Python Processor found wins. Then: ours when our manifest or metadata is in the GUI's plugin folder,
    upstream's when its plugin file or an installedPlugins.xml entry is there; otherwise the chain's
    libraryVersion (ours carries "oe-pyproc") decides; with nothing to go on, ours (what `install` sets
    up)."""
    for folder in executable_plugin_dirs:
        if not folder.is_dir():
            continue
        if any(folder.glob(f"**/{METADATA_FILE}")):
            return ours_rules(
                _bridges_in(folder) or [(3, 10)], f"oe-pyproc plugin beside the GUI in {folder}"
            )
        upstream_beside = find_upstream_plugins(folder)
        if upstream_beside:
            return PluginRules(
                "upstream",
                False,
                UPSTREAM.versions,
                f"upstream plugin beside the GUI at {upstream_beside[0]}",
            )
    if layout is None:
        return OURS
    plugins_dir = layout.plugins_dir
    ours_bridges = _bridges_in(plugins_dir) if plugins_dir.is_dir() else []
    ours_present = layout.manifest.is_file() or any(plugins_dir.glob(f"**/{METADATA_FILE}"))
    upstream_files = find_upstream_plugins(plugins_dir, _installed_by_us(layout))
    upstream_listed = False
    installed = layout.installed_plugins_xml
    if installed.is_file():
        try:
            text = installed.read_text(encoding="utf-8", errors="replace").lower()
            upstream_listed = "python-processor" in text or "python processor" in text
        except OSError:
            pass
    notes: list[str] = []
    if ours_present and (upstream_files or (upstream_listed and not layout.manifest.is_file())):
        notes.append(
            "both ours and upstream's Python Processor are installed; the GUI loads whichever it finds first"
        )
    if ours_present:
        rules = ours_rules(ours_bridges or [(3, 10)], f"oe-pyproc plugin in {plugins_dir}")
        return PluginRules(rules.name, rules.allow_venv, rules.versions, rules.source, tuple(notes))
    if upstream_files or upstream_listed:
        where = upstream_files[0] if upstream_files else installed
        return PluginRules("upstream", False, UPSTREAM.versions, f"upstream plugin at {where}", tuple(notes))
    if chain_library_version is not None:
        if OURS_LIBRARY_VERSION_MARKER in chain_library_version:
            return _rules_of_the_package(layout.api, f"chain saved by oe-pyproc ({chain_library_version})")
        return PluginRules(
            "upstream",
            False,
            UPSTREAM.versions,
            f"chain saved by upstream's plugin (libraryVersion {chain_library_version!r})",
        )
    return _rules_of_the_package(layout.api, "no plugin installed yet")


@dataclass(frozen=True)
class Reason:
    """One thing wrong with a Home, with what to do about it."""

    code: str
    severity: Literal["warn", "error"]
    message: str
    remediation: str

    def to_json(self) -> dict[str, str]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "remediation": self.remediation,
        }


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: tuple[Reason, ...]
    rules: PluginRules

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "plugin": self.rules.name,
            "reasons": [r.to_json() for r in self.reasons],
        }


def judge_home(info: HomeInfo, rules: PluginRules = OURS, gui_arch: str | None = None) -> Verdict:
    """The verdict of `rules`' plugin on the Home `info`: error (it will not work), warn, or ok."""
    reasons: list[Reason] = []

    def add(code: str, severity: Literal["warn", "error"], message: str, remediation: str) -> None:
        reasons.append(Reason(code, severity, message, remediation))

    create = f"Create a working Home: {CONDA_CREATE_COMMAND}"
    if info.kind == "missing":
        add("missing", "error", f"{info.path} does not exist", create)
        return Verdict("error", tuple(reasons), rules)
    if info.kind == "not-python":
        detail = info.problems[0] if info.problems else "not a Python installation"
        add(
            "not-python",
            "error",
            detail,
            "Give the environment's prefix folder (the one holding bin/ or python.exe). " + create,
        )
        return Verdict("error", tuple(reasons), rules)

    if info.pth_file is not None:
        # The same refusal as the loader's (inspect_windows_home): nothing else about such a Home matters.
        add(
            "embeddable",
            "error",
            f"an embeddable Python package ({info.pth_file.name}): its ._pth file fixes sys.path "
            "(no site-packages, PYTHONPATH ignored) and it has no pip",
            "Use a full install (python.org's installer or a conda env). " + create,
        )
        return Verdict("error", tuple(reasons), rules)
    if info.version is None:
        add("version-unknown", "error", "the Python version cannot be told from the files", create)
    elif info.version not in rules.versions:
        if rules.name == "upstream":
            message = f"Python {info.version_text}: upstream's Python Processor embeds exactly Python 3.10"
        else:
            message = (
                f"Python {info.version_text}: this plugin has bridges for Python {rules.versions_text} only"
            )
        add("version", "error", message, create)
    if info.kind == "venv":
        if not rules.allow_venv:
            base = f" (its base is {info.venv_base})" if info.venv_base else ""
            add(
                "venv-unsupported",
                "error",
                f"a venv{base}: upstream's plugin sets PYTHONHOME to it and finds no standard library there",
                "Use a conda env or a base install of Python 3.10 with numpy, "
                "or install oe-pyproc's plugin (venvs work there).",
            )
        if info.venv_base_exists is False:
            add(
                "venv-base-missing",
                "error",
                f"the venv's base install {info.venv_base or '(unknown)'} is gone",
                "Recreate the venv from an existing Python 3.10 (python3.10 -m venv ...), or " + create,
            )
    if info.venv_base_exists is not False and info.version is not None:
        if info.stdlib_dir is None:
            add("stdlib-missing", "error", "no standard library (lib/pythonX.Y/os.py) found", create)
        elif not info.has_encodings:
            add(
                "encodings-missing",
                "error",
                f"{info.stdlib_dir} has no encodings/ package: "
                "the GUI would die with \"No module named 'encodings'\"",
                create,
            )
        if info.libpython is None:
            add(
                "libpython-missing",
                "error",
                "no shared libpython (the plugin loads libpythonX.Y.so / .dylib / pythonXY.dll): "
                "this Python was built without --enable-shared",
                "Use a conda env or a Python built with --enable-shared "
                "(pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared). " + create,
            )
    if info.interpreter is None and info.venv_base_exists is not False:
        expected = (
            ("Scripts\\python.exe" if info.kind == "venv" else "python.exe")
            if info.windows_layout
            else f"bin/python3 or bin/python{info.version_text or '3.X'}"
        )
        add(
            "interpreter-missing",
            "error",
            f"no interpreter ({expected}): the plugin runs it to check that numpy imports",
            "Give the environment's prefix folder (the one holding bin/ or python.exe), or recreate it. "
            + create,
        )
    if info.arch is None and not info.archs:
        if info.kind != "venv" or info.venv_base_exists:
            add(
                "arch-unknown",
                "warn",
                "the CPU architecture cannot be read from the interpreter or libpython",
                "Check with --exec.",
            )
    elif gui_arch is not None and gui_arch not in info.archs:
        add(
            "arch-mismatch",
            "error",
            f"the Home is {'/'.join(info.archs)} but the GUI runs as {gui_arch}",
            f"Install a {gui_arch} Python (e.g. a {gui_arch} conda) and create the env again: "
            + CONDA_CREATE_COMMAND,
        )
    wrong_version = any(r.code == "version" for r in reasons)
    if not info.has_numpy and not wrong_version:  # a Home of the wrong version is replaced, not fixed
        add(
            "numpy-missing",
            "error",
            "numpy is not installed in this Home (the plugin hands data to scripts as numpy arrays)",
            "conda install -n <env> -c conda-forge numpy  (a venv: <Home>/bin/python -m pip install numpy)",
        )
    elif info.kind == "conda-env" and info.numpy_installer not in (None, "conda"):
        add(
            "numpy-pip-in-conda",
            "warn",
            f"numpy {info.numpy_version or '(unknown version)'} was installed by {info.numpy_installer} "
            "into a conda env",
            "Prefer conda's numpy: pip uninstall numpy && conda install -c conda-forge numpy",
        )
    for problem in info.problems:
        if "broken symbolic link" in problem and any(r.code == "venv-base-missing" for r in reasons):
            continue
        add(
            "layout",
            "warn",
            problem,
            "Check the Home's files; recreate the environment if it was moved or damaged.",
        )

    status: Status = "error" if any(r.severity == "error" for r in reasons) else ("warn" if reasons else "ok")
    return Verdict(status, tuple(reasons), rules)


def judge_probe(verdict: Verdict, info: HomeInfo, probe: ProbeResult) -> Verdict:
    """`verdict` extended by what running the interpreter showed (homes --exec): a probe that hangs,
    crashes, fails, cannot import numpy or contradicts the files makes the verdict an error."""
    reasons = list(verdict.reasons)
    create = f"Create a working Home: {CONDA_CREATE_COMMAND}"
    if probe.status in ("timeout", "crashed", "failed"):
        reasons.append(
            Reason(f"probe-{probe.status}", "error", f"running the interpreter: {probe.message}", create)
        )
    elif probe.status == "numpy-missing" and not any(r.code in ("numpy-missing", "version") for r in reasons):
        # The files show numpy, yet it does not import: a broken or mismatched install.
        reasons.append(
            Reason(
                "probe-numpy",
                "error",
                f"numpy is installed but does not import: {probe.numpy_error}",
                "Reinstall numpy in this Home "
                "(conda install -c conda-forge numpy, or pip install --force-reinstall numpy).",
            )
        )
    if probe.version is not None and info.version is not None and probe.version != info.version:
        reasons.append(
            Reason(
                "probe-version",
                "warn",
                f"the files say Python {info.version_text} but the interpreter is {probe.full_version}",
                "The Home is inconsistent (a moved or partly upgraded environment): recreate it.",
            )
        )
    if probe.arch is not None and info.archs and probe.arch not in info.archs:
        reasons.append(
            Reason(
                "probe-arch",
                "warn",
                f"the binaries are {'/'.join(info.archs)} but the interpreter runs as {probe.arch}",
                "Under Rosetta or emulation the GUI must run as the same architecture as the Home.",
            )
        )
    status: Status = "error" if any(r.severity == "error" for r in reasons) else ("warn" if reasons else "ok")
    return Verdict(status, tuple(reasons), verdict.rules)
