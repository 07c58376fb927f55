"""`oe-pyproc new-script NAME`: copy a processor template to NAME.py under a name that loads everywhere.

Upstream's plugin imports a script by its file name (stem), so the name must be an identifier, not a keyword
and not the name of a module the Home already has (`numpy.py` would import numpy instead of the script).
"""

from __future__ import annotations

import ast
import keyword
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.options import PathArgument, api_option, gui_root_option, python_home_option
from oe_pyproc_setup.shell import quote
from oe_pyproc_setup.templates import DEFAULT_TEMPLATE, TEMPLATE_IDS, template_description, template_path

# The plugin's own module (importable inside the plugin and the host), and what every Home must have.
ALWAYS_TAKEN = frozenset({"oe_pyprocessor", "numpy"})
CONTRACT_SIGNATURES = {"__init__": 4, "process": 2}  # positional parameters, self included


@dataclass(frozen=True)
class ModuleNames:
    """The module names a script must not take, and where they came from (for messages)."""

    names: frozenset[str]
    source: str
    home: Path | None


def _cli_stdlib_names() -> set[str]:
    names = getattr(sys, "stdlib_module_names", None)  # Python >= 3.10
    if names is not None:
        return set(names)
    # Python 3.9: scan this interpreter's base install (stdlib and site-packages: stricter, never laxer).
    from oe_pyproc_setup.home import home_module_names, inspect_home

    return home_module_names(inspect_home(Path(sys.base_prefix)))


def module_names_for(python_home: Path | None, gui_root: Path | None = None, api: int = 10) -> ModuleNames:
    """The Home's own module names (scanned, never imported): the one given, else the configured one; with
    neither, this CLI's standard library (a fallback the caller reports)."""
    from oe_pyproc_setup.home import home_module_names, inspect_home

    source = "--python-home"
    if python_home is None:
        python_home, source = _configured_home(gui_root, api)
    if python_home is None:
        return ModuleNames(
            frozenset(_cli_stdlib_names() | ALWAYS_TAKEN),
            f"no Python Home given or configured: checked against the standard library of the Python running "
            f"oe-pyproc ({sys.version_info[0]}.{sys.version_info[1]}) only; give --python-home to check "
            "the Home's installed packages too",
            None,
        )
    info = inspect_home(python_home)
    if info.kind == "missing":
        raise UserFacingError(f"the Python Home {python_home} ({source}) does not exist")
    if info.kind == "not-python":
        raise UserFacingError(f"{python_home} ({source}) is not a Python Home: {'; '.join(info.problems)}")
    return ModuleNames(
        frozenset(home_module_names(info) | ALWAYS_TAKEN),
        f"the modules of the Home {info.path} ({source})",
        info.path,
    )


def _configured_home(gui_root: Path | None, api: int) -> tuple[Path | None, str]:
    """The default Home file's Home and where it came from; a broken file is the doctor's business: here
    it only means "none configured"."""
    from oe_pyproc_setup.gui import resolve_layout
    from oe_pyproc_setup.home import configured_home

    try:
        configured = configured_home(resolve_layout(gui_root, api))
    except UserFacingError:
        configured = None
    return (None, "") if configured is None else (configured.path, configured.source)


def _sanitize(name: str) -> str:
    cleaned = re.sub(r"\W", "_", name)
    return cleaned if cleaned and not cleaned[0].isdigit() else f"my_{cleaned}"


def name_problem(name: str, taken: frozenset[str], where: str = "the Home") -> str | None:
    """Why `name` cannot be a script's name, or None when it can."""
    if not name.isidentifier():
        return (
            f"{name!r} is not a Python identifier (letters, digits and underscores, not starting with a "
            "digit): the upstream plugin imports a script by its file name"
        )
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword: a module cannot be imported under that name"
    if name in ALWAYS_TAKEN:
        return f"{name!r} is taken: every Home has it (numpy) or the plugin provides it (oe_pyprocessor)"
    if name in taken:
        return (
            f"{name!r} is the name of a module {where} already has: the upstream plugin imports the script "
            f"by its name and would load that module instead"
        )
    return None


def suggest_name(name: str, taken: frozenset[str]) -> str:
    """The first of my_<name>, <name>_processor, my_<name>_processor that passes every rule."""
    base = _sanitize(name)
    for candidate in (base, f"my_{base}", f"{base}_processor", f"my_{base}_processor"):
        if candidate != name and name_problem(candidate, taken) is None:
            return candidate
    return "my_processor"


def validate_script(source: str, filename: str) -> None:
    """Compile the script and check it defines class PyProcessor with __init__ and process of the contract."""
    try:
        tree = ast.parse(source, filename)
        compile(tree, filename, "exec")
    except SyntaxError as error:
        raise UserFacingError(f"{filename} does not compile: {error.msg} (line {error.lineno})") from None
    classes = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "PyProcessor"]
    if not classes:
        raise UserFacingError(f"{filename} defines no top-level class PyProcessor")
    methods = {node.name: node for node in classes[-1].body if isinstance(node, ast.FunctionDef)}
    for method, count in CONTRACT_SIGNATURES.items():
        node = methods.get(method)
        if node is None:
            raise UserFacingError(f"{filename}: class PyProcessor has no method {method}")
        if len(node.args.posonlyargs) + len(node.args.args) != count:
            raise UserFacingError(
                f"{filename}: PyProcessor.{method} must take {count} arguments (self included)"
            )


def imported_modules(source: str) -> set[str]:
    """Top-level module names a script imports (absolute imports only)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _list_templates() -> None:
    width = max(len(template_id) for template_id in TEMPLATE_IDS)
    for template_id in TEMPLATE_IDS:
        marker = " (default)" if template_id == DEFAULT_TEMPLATE else ""
        click.echo(f"{template_id:<{width}}  {template_description(template_id)}{marker}")


@click.command("new-script")
@click.argument("name", required=False)
@click.option(
    "--template",
    "template_id",
    type=click.Choice(TEMPLATE_IDS),
    default=DEFAULT_TEMPLATE,
    show_default=True,
    help="The template to start from (see --list-templates).",
)
@click.option("--list-templates", is_flag=True, help="List the templates and exit.")
@click.option(
    "--dry-run", is_flag=True, help="Check everything and say what would be written; write nothing."
)
@click.option(
    "--dir",
    "directory",
    type=PathArgument(path_type=Path, file_okay=False),
    default=Path("."),
    help="The folder to write the script into (default: the current folder).",
)
@click.option("--force", is_flag=True, help="Replace an existing file (a backup of it is kept).")
@python_home_option
@gui_root_option
@api_option
def new_script(
    name: str | None,
    template_id: str,
    list_templates: bool,
    dry_run: bool,
    directory: Path,
    force: bool,
    python_home: Path | None,
    gui_root: Path | None,
    api: int,
) -> None:
    """Create NAME.py, a Python Processor script, from a template.

    NAME must be a Python identifier that is not a keyword nor a module the Python Home already has (the
    upstream plugin imports a script by its name). The file is written atomically and checked.
    """
    if list_templates:
        _list_templates()
        return
    if not name:
        raise click.UsageError("give the script's NAME (or --list-templates)")
    if "/" in name or "\\" in name:
        raise click.UsageError(f"NAME is a file name, not a path: use --dir for the folder ({name!r})")
    stem = name[:-3] if name.endswith(".py") else name
    directory = directory.expanduser()
    target = (directory / f"{stem}.py").absolute()

    # The file check comes first: nothing is asked or computed for a file that will not be written.
    if (target.exists() or target.is_symlink()) and not force:
        if target.is_dir():
            kind = "a folder"
        elif target.exists():
            kind = "a file"
        else:
            kind = f"a broken symbolic link to {os.readlink(target)}"
        raise UserFacingError(
            f"{target} exists ({kind}); not replaced", hint="Use --force to replace it (a backup is kept)."
        )
    if target.is_dir():
        raise UserFacingError(f"{target} is a folder; choose another NAME")
    if not directory.is_dir():
        raise UserFacingError(f"the folder {directory} does not exist (--dir); create it first")

    modules = module_names_for(python_home, gui_root, api)
    if modules.home is None:
        click.echo(f"Note: {modules.source}.", err=True)
    where = "the Home" if modules.home else "the standard library"
    problem = name_problem(stem, modules.names, where)
    if problem is not None:
        raise UserFacingError(
            f"cannot name the script {stem!r}: {problem}.",
            hint=f"Try: oe-pyproc new-script {suggest_name(stem, modules.names)}",
        )

    source = template_path(template_id).read_text(encoding="utf-8")
    validate_script(source, f"template {template_id}")
    missing = sorted(m for m in imported_modules(source) if m not in modules.names) if modules.home else []
    if dry_run:
        click.echo(
            f"Would write {target} from template {template_id!r} ({len(source.encode())} bytes); "
            "nothing written."
        )
    else:
        from oe_pyproc_setup.fsutil import atomic_write_text

        backup = atomic_write_text(target, source, backup=True)
        validate_script(target.read_text(encoding="utf-8"), str(target))
        click.echo(f"Wrote {target} from template {template_id!r}: {template_description(template_id)}")
        if backup is not None:
            click.echo(f"The previous file was kept as {backup}.")
    for module in missing:
        click.echo(
            f"Warning: the script imports {module!r}, which the Home {modules.home} does not have; "
            f"install it there: {_install_command(modules.home, module)}",
            err=True,
        )
    click.echo("Next steps:")
    click.echo(f"  1. Edit the parameters at the top of {target.name}.")
    click.echo("  2. Try it offline, exactly as the plugin would run it:")
    # The Home and GUI the script was named against are the ones `run` must use: a printed command works
    # as printed, also where no default Home is recorded.
    same_setup = "".join(
        f" {flag} {quote(value)}"
        for flag, value in (("--python-home", python_home), ("--gui-root", gui_root))
        if value
    ) + (f" --api {api}" if api != 10 else "")
    click.echo(f"       oe-pyproc run {quote(target)}{same_setup}")
    click.echo(
        "  3. In the Open Ephys GUI: add a Python Processor to the signal chain and select this file as"
    )
    click.echo("     its script; `oe-pyproc doctor` checks the Python Home it will use.")


def _install_command(home: Path | None, module: str) -> str:
    if home is not None and (home / "conda-meta").is_dir():
        return f"conda install -p {quote(home)} -c conda-forge {module}"
    folder = home or Path()
    # Windows: a venv's interpreter is Scripts\python.exe, an install's python.exe (its Scripts\ holds pip).
    candidates = (folder / "Scripts" / "python.exe", folder / "python.exe", folder / "bin" / "python")
    python = next((p for p in candidates if p.is_file()), candidates[-1])
    return f"{quote(python)} -m pip install {module}"
