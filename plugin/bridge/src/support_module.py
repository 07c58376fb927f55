"""Python side of the oe-pyproc bridge (embedded into the bridge at build time as _oe_pyproc_support).

Loads processor scripts by file path under unique module names and formats tracebacks. The hot path
(process) never comes here.
"""

import importlib.machinery
import importlib.util
import os
import sys
import traceback

SCRIPT_MODULE_PREFIX = "_oe_pyproc_script_"


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles the script from source on every load: no stale bytecode after a quick edit."""

    def get_code(self, fullname):
        source = self.get_data(self.path)
        return compile(source, self.path, "exec", dont_inherit=True)


def _helper_modules(folder):
    """Modules imported through `folder` as a sys.path entry (top-level file or package in it)."""
    found = []
    for name, module in list(sys.modules.items()):
        if name.startswith(SCRIPT_MODULE_PREFIX):
            continue
        top = sys.modules.get(name.partition(".")[0])
        top_file = getattr(top, "__file__", None)
        if not top_file:
            continue
        top_file = os.path.abspath(top_file)
        parent = os.path.dirname(top_file)
        if os.path.basename(top_file) == "__init__.py":
            parent = os.path.dirname(parent)
        if parent == folder:
            found.append(name)
    return found


def _helpers_from_other_folders(folder):
    """Warnings for this folder's helper modules that the script got from another folder instead.

    sys.modules is one per interpreter: when two scripts in different folders each `import helper`, the
    second gets the one imported first. Until each folder has its own helpers, this is said loudly.
    """
    warnings = []
    for name, module in list(sys.modules.items()):
        if "." in name or name.startswith(SCRIPT_MODULE_PREFIX):
            continue
        module_file = getattr(module, "__file__", None)
        if not module_file:
            continue
        module_file = os.path.abspath(module_file)
        for own in (os.path.join(folder, name + ".py"), os.path.join(folder, name, "__init__.py")):
            if os.path.isfile(own) and module_file != own:
                warnings.append(
                    f"helper module '{name}' of this script's folder is not used: '{name}' was already imported "
                    f"from {module_file} (by another script), and this script runs with that one"
                )
    return warnings


def load(path, module_name, old_module_name):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"script not found: {path}")
    folder = os.path.dirname(path)
    if old_module_name:
        sys.modules.pop(old_module_name, None)
    for name in _helper_modules(folder):
        del sys.modules[name]
    importlib.invalidate_caches()
    if folder not in sys.path:
        sys.path.append(folder)
    loader = _FreshSourceLoader(module_name, path)
    spec = importlib.util.spec_from_file_location(module_name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    cls = getattr(module, "PyProcessor", None)
    if cls is None:
        raise AttributeError(f"{path} defines no class PyProcessor")
    return module, cls, "\n".join(_helpers_from_other_folders(folder))


def unload(module_name):
    sys.modules.pop(module_name, None)


def format_exception(exc_type, exc_value, exc_traceback):
    lines = traceback.format_exception(exc_type, exc_value, exc_traceback)
    return "".join(lines)
