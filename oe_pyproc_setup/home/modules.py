"""The top-level module names a Home provides, found by scanning its folders (never importing)."""

from __future__ import annotations

from pathlib import Path

from oe_pyproc_setup.home.inspect import HomeInfo

# Modules compiled into every CPython 3 interpreter (never files on disk); a script must not shadow them.
BUILTIN_MODULE_NAMES = frozenset(
    {
        "_abc", "_ast", "_codecs", "_collections", "_functools", "_imp", "_io", "_locale", "_operator",
        "_signal", "_sre", "_stat", "_string", "_symtable", "_thread", "_tokenize", "_tracemalloc",
        "_typing", "_warnings", "_weakref", "atexit", "builtins", "errno", "faulthandler", "gc",
        "itertools", "marshal", "nt", "posix", "pwd", "sys", "time", "winreg", "xxsubtype", "zipimport",
    }
)  # fmt: skip


def _module_names_in(folder: Path, *, packages_need_init: bool) -> set[str]:
    names: set[str] = set()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return names
    for entry in entries:
        name = entry.name
        if entry.is_dir():
            if name.isidentifier() and (not packages_need_init or (entry / "__init__.py").is_file()):
                names.add(name)
        elif name.endswith(".py"):
            stem = name[:-3]
            if stem.isidentifier():
                names.add(stem)
        elif name.endswith((".so", ".pyd", ".dylib")):
            stem = name.split(".", 1)[0]
            if stem.isidentifier() and not stem.startswith("lib"):
                names.add(stem)
    return names


def home_module_names(info: HomeInfo) -> set[str]:
    """Top-level names importable in the Home, found by scanning (never importing): the builtin modules
    of CPython, the stdlib (.py files, packages, lib-dynload/DLLs extensions) and every site-packages
    folder (packages, namespace folders, modules, extensions). Names added by .pth files are not included."""
    names = set(BUILTIN_MODULE_NAMES)
    if info.stdlib_dir is not None:
        names |= _module_names_in(info.stdlib_dir, packages_need_init=True)
        for extension_dir in (info.stdlib_dir / "lib-dynload", info.stdlib_dir.parent / "DLLs"):
            if extension_dir.is_dir():
                names |= _module_names_in(extension_dir, packages_need_init=True)
    for folder in info.site_packages:
        names |= _module_names_in(folder, packages_need_init=False)
    names.discard("__pycache__")
    return names
