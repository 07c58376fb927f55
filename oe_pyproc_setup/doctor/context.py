"""What the checks read: the options given, and facts computed once, lazily, and shared by every check.

Nothing here runs a Home's interpreter or imports from it: Homes are judged from their files (DESIGN §7).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from oe_pyproc_setup.binfmt import BinaryInfo, read_binary_info
from oe_pyproc_setup.chains import ChainDocument, read_chain
from oe_pyproc_setup.defaulthome import DefaultHome, read_default_home
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.gui import (
    DEFAULT_API,
    GuiLayout,
    RunningProcess,
    gui_binary_path,
    resolve_layout,
    running_gui_processes_for,
)
from oe_pyproc_setup.home import (
    HomeCandidate,
    JudgedHome,
    PluginRules,
    detect_plugin_rules,
    discover_homes,
    judge_candidates,
)
from oe_pyproc_setup.home.host import HostJudge, find_host_judge
from oe_pyproc_setup.install.manifest import read_manifest
from oe_pyproc_setup.install.plugin import resolve_prefix
from oe_pyproc_setup.macos.library_validation import default_macos_gui_binary
from oe_pyproc_setup.plugin_meta import prefix_plugin_dir
from oe_pyproc_setup.shell import quote


@dataclass(frozen=True)
class ChainFile:
    """lastConfig.xml or recoveryConfig.xml: parsed, missing (document and error None) or unreadable."""

    path: Path
    document: ChainDocument | None
    error: str | None


@dataclass(frozen=True)
class DefaultHomeState:
    path: Path
    record: DefaultHome | None  # None: missing or broken
    error: str | None  # why the file cannot be used, if it exists


@dataclass(frozen=True)
class GuiBinary:
    path: Path
    source: str  # "--gui-exe" or "running GUI (pid N)"
    info: BinaryInfo | None


@dataclass
class Context:
    python_home: Path | None = None
    gui_root: Path | None = None
    gui_exe: Path | None = None
    api: int = DEFAULT_API
    verbose: bool = False
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    # ------------------------------------------------------------------------------------------- GUI

    @cached_property
    def layout(self) -> GuiLayout:
        """The GUI's folders; UserFacingError (reported by the check as an error) for a --gui-root file."""
        return resolve_layout(self.gui_root, self.api, self.gui_exe)

    @property
    def gui_options(self) -> str:
        """The options that chose the GUI (` --gui-root ROOT`, ` --api N`, as the user gave them) for the
        commands a finding suggests: without them those commands would act on another GUI's folders."""
        options = f" --gui-root {quote(self.layout.root)}" if self.gui_root is not None else ""
        return options + (f" --api {self.api}" if self.api != DEFAULT_API else "")

    @cached_property
    def install_command(self) -> str:
        """`oe-pyproc install` as a finding suggests it: with --prefix when the environment install would
        take by default (CONDA_PREFIX, else the one running oe-pyproc) has no plugin but the Home in use has
        one (a Home the quick start built the plugin into, used from the project's own venv)."""
        command = "oe-pyproc install"
        default_prefix, _ = resolve_prefix(None, dict(self.environ))
        if not prefix_plugin_dir(default_prefix, self.api).is_dir():
            home = self.home
            if home is not None and prefix_plugin_dir(home.info.path, self.api).is_dir():
                command += f" --prefix {quote(home.info.path)}"
        return command + self.gui_options

    @cached_property
    def chains(self) -> list[ChainFile]:
        files = []
        for path in (self.layout.last_config, self.layout.recovery_config):
            if not path.exists():
                files.append(ChainFile(path, None, None))
                continue
            try:
                files.append(ChainFile(path, read_chain(path), None))
            except UserFacingError as error:
                files.append(ChainFile(path, None, error.format_message()))
        return files

    @cached_property
    def default_home(self) -> DefaultHomeState:
        path = self.layout.default_home_file
        try:
            return DefaultHomeState(path, read_default_home(path), None)
        except UserFacingError as error:
            return DefaultHomeState(path, None, error.format_message())

    @cached_property
    def manifest_home(self) -> Path | None:
        """The environment the plugin was installed from (the install manifest's source_prefix)."""
        try:
            manifest = read_manifest(self.layout.manifest)
        except UserFacingError:  # reported by the plugin-installed check
            return None
        return Path(manifest.source_prefix) if manifest is not None and manifest.source_prefix else None

    @cached_property
    def running_guis(self) -> list[RunningProcess]:
        return running_gui_processes_for(self.layout)

    @cached_property
    def gui_binary(self) -> GuiBinary | None:
        """--gui-exe, else the executable of a running GUI, else (macOS) the app in /Applications; None when
        none is known."""
        if self.gui_exe is not None:
            path = gui_binary_path(Path(self.gui_exe).expanduser())
            return GuiBinary(path, "--gui-exe", read_binary_info(path))
        for process in self.running_guis:
            if process.executable is not None and process.executable.is_file():
                return GuiBinary(
                    process.executable,
                    f"running GUI (pid {process.pid})",
                    read_binary_info(process.executable),
                )
        default_app = default_macos_gui_binary()
        if default_app is not None:
            return GuiBinary(default_app, "the app in /Applications", read_binary_info(default_app))
        return None

    # ----------------------------------------------------------------------------------------- Homes

    @cached_property
    def chain_library_version(self) -> str | None:
        for chain in self.chains:
            if chain.document is not None and chain.document.library_versions:
                return chain.document.library_versions[0]
        return None

    @cached_property
    def rules(self) -> PluginRules:
        try:
            layout: GuiLayout | None = self.layout
        except UserFacingError:
            layout = None
        return detect_plugin_rules(layout, self.chain_library_version)

    @cached_property
    def host_judge(self) -> HostJudge | None:
        """The plugin's host that judges Homes for our plugin (home.host); None: the file rules judge."""
        if self.rules.name != "ours":
            return None
        try:
            layout: GuiLayout | None = self.layout
        except UserFacingError:
            layout = None
        return find_host_judge(layout, self.python_home, self.environ)

    def judge(self, path: Path, source: str) -> JudgedHome:
        """The Home at `path` judged for the plugin the GUI will load: by its host's loader when one is at
        hand, else by the loader's rules from the files."""
        [judged] = judge_candidates([HomeCandidate(path, source)], self.rules, host=self.host_judge)
        return judged

    @cached_property
    def home_sources(self) -> list[JudgedHome]:
        """Every Home the plugin would consider, in its order: the chain's python_home, the default Home
        file, the install manifest's environment. --python-home replaces them all."""
        if self.python_home is not None:
            return [self.judge(Path(self.python_home), "--python-home")]
        choices: list[JudgedHome] = []
        try:
            chains = self.chains
        except UserFacingError:
            chains = []
        for chain in chains:
            if chain.document is None:
                continue
            for processor in chain.document.processors:
                if processor.python_home:
                    choices.append(
                        self.judge(Path(processor.python_home), f"python_home in {chain.path.name}")
                    )
                    break
            if choices:
                break
        try:
            record = self.default_home.record
        except UserFacingError:
            record = None
        if record is not None:
            choices.append(self.judge(record.python_home, f"the default Home file {record.path}"))
        try:
            manifest_home = self.manifest_home
        except UserFacingError:
            manifest_home = None
        if manifest_home is not None:
            choices.append(self.judge(manifest_home, "the environment the plugin was installed from"))
        return choices

    @cached_property
    def home(self) -> JudgedHome | None:
        """The Home in use: the first source whose Home the plugin accepts; else the first one tried (so
        its problems are reported); None when no source names a Home."""
        for choice in self.home_sources:
            if choice.verdict.status != "error":
                return choice
        return self.home_sources[0] if self.home_sources else None

    @cached_property
    def candidates(self) -> list[JudgedHome]:
        """Homes found on this machine (conda envs, pyenv, ...), judged; oe-python-plugin envs first."""
        found: list[HomeCandidate] = discover_homes(environ=self.environ, include_self=False)
        return judge_candidates(found, self.rules, host=self.host_judge)

    @cached_property
    def usable_candidate(self) -> JudgedHome | None:
        """A Home to propose: the resolved Home if usable, else the first usable candidate found."""
        if self.home is not None and self.home.verdict.status != "error":
            return self.home
        for choice in self.candidates:
            if choice.verdict.status == "ok":
                return choice
        return None
