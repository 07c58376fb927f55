"""Python side of the oe-pyproc bridge (embedded into the bridge at build time as _oe_pyproc_support).

Loads processor scripts by file path under unique module names (also under their file stem when that name
is free), formats tracebacks, and holds the exceptions the bridge raises into scripts (the watchdog's, and
the one replacing a process exit). The hot path (process) never comes here.
"""

import importlib.machinery
import importlib.util
import keyword
import os
import signal
import sys
import traceback

SCRIPT_MODULE_PREFIX = "_oe_pyproc_script_"

# Unique module name -> the file stem it is also registered under (sys.modules[stem] is that module).
_stem_aliases = {}


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles the script from source on every load: no stale bytecode after a quick edit."""

    def get_code(self, fullname):
        source = self.get_data(self.path)
        return compile(source, self.path, "exec", dont_inherit=True)


def _helper_modules(folder):
    """Modules imported through `folder` as a sys.path entry (top-level file or package in it)."""
    found = []
    for name, module in list(sys.modules.items()):
        if name.startswith(SCRIPT_MODULE_PREFIX) or name in _stem_aliases.values():
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


def _names_another_module(stem, folder):
    """Whether `import stem` would find something other than the script: a built-in or standard-library
    module, or a module on any sys.path entry but the script's own folder (the Home's packages, PYTHONPATH,
    other scripts' folders)."""
    if stem in sys.builtin_module_names or stem in getattr(sys, "stdlib_module_names", ()):
        return True
    elsewhere = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != folder]
    return importlib.machinery.PathFinder.find_spec(stem, elsewhere) is not None


def _free_stem(path, module_name, old_module_name):
    """The script's file stem when the script may also be registered under it, else None.

    Upstream imports a script by its stem, so scripts (and pickles) expect `import my_script` to give the
    script's module. Taken only when the name is an identifier, is not in sys.modules (or is this
    instance's previous module, or one of an instance with the same id: a reload moves the alias) and names
    no other importable module.
    """
    stem = os.path.splitext(os.path.basename(path))[0]
    if not stem.isidentifier() or keyword.iskeyword(stem):
        return None
    registered = sys.modules.get(stem)
    if registered is not None:
        mine = any(
            alias == stem
            and registered is sys.modules.get(owner)
            and (owner == old_module_name or _same_instance(owner, module_name))
            for owner, alias in _stem_aliases.items()
        )
        return stem if mine else None
    return None if _names_another_module(stem, os.path.dirname(path)) else stem


def _same_instance(module_a, module_b):
    """Whether two script modules belong to one instance id (`_oe_pyproc_script_<id>_<generation>`): the
    adapter reloads into a second bridge instance with the same id while the first still runs, and the
    alias moves to the new module as in a reload of one instance."""
    return module_a.rsplit("_", 1)[0] == module_b.rsplit("_", 1)[0]


def _drop_module(module_name):
    """Removes the module and its stem alias, the alias only while it still points at that module."""
    module = sys.modules.pop(module_name, None)
    stem = _stem_aliases.pop(module_name, None)
    if stem is not None and module is not None and sys.modules.get(stem) is module:
        del sys.modules[stem]


def load(path, module_name, old_module_name):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"script not found: {path}")
    folder = os.path.dirname(path)
    stem = _free_stem(path, module_name, old_module_name)
    if old_module_name:
        _drop_module(old_module_name)
    for name in _helper_modules(folder):
        del sys.modules[name]
    importlib.invalidate_caches()
    if folder not in sys.path:
        sys.path.append(folder)
    # Under its stem, the module's classes pickle by that name, as under upstream (and survive a reload).
    loader = _FreshSourceLoader(stem or module_name, path)
    spec = importlib.util.spec_from_file_location(stem or module_name, path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    if stem is not None:
        # Registered before the script runs, as an import does: a helper importing it meanwhile gets it.
        sys.modules[stem] = module
        _stem_aliases[module_name] = stem
    try:
        loader.exec_module(module)
    except BaseException:
        _drop_module(module_name)
        raise
    cls = getattr(module, "PyProcessor", None)
    if cls is None:
        raise AttributeError(f"{path} defines no class PyProcessor")
    return module, cls, "\n".join(_helpers_from_other_folders(folder))


def unload(module_name):
    _drop_module(module_name)


def format_exception(exc_type, exc_value, exc_traceback):
    lines = traceback.format_exception(exc_type, exc_value, exc_traceback)
    return "".join(lines)


class WatchdogTimeout(BaseException):
    """Raised by the bridge's watchdog into a script method that ran over its time limit (a BaseException,
    so `except Exception` does not swallow it); the instance is faulted when the call returns."""

    __module__ = "oe_pyprocessor"

    def __str__(self):
        return "interrupted by the oe-pyproc watchdog: the call ran over its time limit"


class ProcessExitRefused(BaseException):
    """Raised instead of ending the process (os._exit, os.abort, exec*, a signal to this process): a script
    cannot end the GUI or the host; the instance that tried is faulted instead."""

    __module__ = "oe_pyprocessor"


def guard_process_exits():
    """Replaces the ways Python code can end or replace this process with functions that raise
    ProcessExitRefused. A forked child (multiprocessing's workers end with os._exit) is left alone."""
    own_pid = os.getpid()
    platform_module = sys.modules.get(os.name)  # posix / nt: os's functions come from there

    def refuse(call):
        raise ProcessExitRefused(
            f"{call} was called by the script: a script cannot end the process it runs in (the Open Ephys "
            "GUI or oe-pyproc-host); this instance is stopped instead"
        )

    def in_child():
        return os.getpid() != own_pid

    def targets_us(pid):
        return pid in (own_pid, 0, -1) or (hasattr(os, "getpgrp") and pid == -os.getpgrp())

    def replace(name, guarded):
        original = getattr(os, name, None)
        if original is None:
            return
        guarded.__name__ = name
        guarded.__doc__ = f"{name} (oe-pyproc: refused in the plugin's own process; see ProcessExitRefused)"
        guarded.original = original
        for module in (os, platform_module):
            if module is not None and getattr(module, name, None) is original:
                setattr(module, name, guarded)

    real = {name: getattr(os, name, None) for name in ("_exit", "abort", "kill", "killpg")}

    def _exit(status):
        if in_child():
            real["_exit"](status)
        refuse(f"os._exit({status!r})")

    def abort():
        if in_child():
            real["abort"]()
        refuse("os.abort()")

    def kill(pid, sig):
        if sig != 0 and not in_child() and targets_us(pid):
            refuse(f"os.kill({pid!r}, {sig!r})")
        return real["kill"](pid, sig)

    def killpg(pgid, sig):
        if sig != 0 and not in_child() and hasattr(os, "getpgrp") and pgid in (0, os.getpgrp()):
            refuse(f"os.killpg({pgid!r}, {sig!r})")
        return real["killpg"](pgid, sig)

    replace("_exit", _exit)
    replace("abort", abort)
    replace("kill", kill)
    replace("killpg", killpg)
    for name in ("execv", "execve"):  # execl*, execvp*, spawn*'s exec paths go through these two
        original = getattr(os, name, None)

        def exec_(*args, _name=name, _original=original):
            if in_child():
                return _original(*args)
            refuse(f"os.{_name}(...)")

        replace(name, exec_)

    real_raise_signal = getattr(signal, "raise_signal", None)
    real_pthread_kill = getattr(signal, "pthread_kill", None)

    def raise_signal(sig):
        if in_child():
            return real_raise_signal(sig)
        refuse(f"signal.raise_signal({sig!r})")

    def pthread_kill(thread_id, sig):
        if sig != 0 and not in_child():  # every thread id names a thread of this process
            refuse(f"signal.pthread_kill({thread_id!r}, {sig!r})")
        return real_pthread_kill(thread_id, sig)

    if real_raise_signal is not None:
        signal.raise_signal = raise_signal
    if real_pthread_kill is not None:
        signal.pthread_kill = pthread_kill
