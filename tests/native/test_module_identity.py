"""Issue 9 item 6: the script's module is also `sys.modules[<file stem>]` when that name is free, as under
upstream (which imports a script by its stem): helpers importing the script get the same module, its
classes pickle by that name (also across sessions), reload moves the alias, removal drops only its own."""

from __future__ import annotations

import json
import os
from pathlib import Path

from native_helpers import run_host, run_host_with_reload, write_script

# Records what the module sees of itself in __init__; pickles a State through memory and through a file
# a later session reads back.
IDENTITY = """
import json
import os
import pickle
import sys

import identity_helper


class State:
    def __init__(self, value):
        self.value = value


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        module = sys.modules[State.__module__]
        restored = pickle.loads(pickle.dumps(State(41)))
        result = {{
            "name": __name__,
            "helper_at_import_is_module": identity_helper.SCRIPT_AT_IMPORT is module,
            "helper_later_is_module": identity_helper.script_module() is module,
            "alias_is_module": sys.modules.get("my_script") is module,
            "restored_type_is_state": type(restored) is State,
            "restored_value": restored.value,
            "earlier_session": None,
        }}
        if os.path.exists({pickled!r}):
            with open({pickled!r}, "rb") as stream:
                earlier = pickle.load(stream)
            result["earlier_session"] = [type(earlier) is State, earlier.value]
        with open({pickled!r}, "wb") as stream:
            pickle.dump(State(7), stream)
        with open({out!r}, "w") as stream:
            json.dump(result, stream)

    def process(self, data):
        pass
"""

IDENTITY_HELPER = """
import my_script as SCRIPT_AT_IMPORT  # while the script runs, as under upstream: the module being executed


def script_module():
    import my_script

    return my_script
"""


def test_a_helper_imports_the_script_by_its_stem_and_pickles_round_trip(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "identity.json"
    pickled = tmp_path / "state.pickle"
    write_script(tmp_path, "identity_helper.py", IDENTITY_HELPER)
    script = write_script(tmp_path, "my_script.py", IDENTITY.format(out=str(out), pickled=str(pickled)))
    first = run_host("--script", script, "--blocks", "2", home=home)
    assert first.returncode == 0, first.stderr
    seen = json.loads(out.read_text())
    assert seen == {
        "name": "my_script",
        "helper_at_import_is_module": True,
        "helper_later_is_module": True,
        "alias_is_module": True,
        "restored_type_is_state": True,
        "restored_value": 41,
        "earlier_session": None,
    }
    # A pickle written in one session names `my_script.State`, so the next session reads it back.
    second = run_host("--script", script, "--blocks", "2", home=home)
    assert second.returncode == 0, second.stderr
    assert json.loads(out.read_text())["earlier_session"] == [True, 7]


GENERATIONS = """
import json
import pickle
import sys

GENERATION = 1


class State:
    pass


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.record("init")

    def record(self, when):
        module = sys.modules[State.__module__]
        with open({out!r}, "a") as stream:
            stream.write(json.dumps({{
                "when": when,
                "generation": GENERATION,
                "alias_is_module": sys.modules.get("reloaded") is module,
                "pickles": type(pickle.loads(pickle.dumps(State()))) is State,
            }}) + "\\n")

    def process(self, data):
        pass

    def stop_acquisition(self):
        self.record("stop")
"""


def test_reload_moves_the_alias_to_the_new_module(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "generations.jsonl"
    script = write_script(tmp_path, "reloaded.py", GENERATIONS.format(out=str(out)))

    def edit() -> None:
        script.write_text(script.read_text().replace("GENERATION = 1", "GENERATION = 2"))

    result = run_host_with_reload(
        "--script", script, "--blocks", "6", "--reload-at-block", "3", home=home, edit=edit
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["when"], r["generation"]) for r in records] == [("init", 1), ("init", 2), ("stop", 2)]
    assert all(r["alias_is_module"] and r["pickles"] for r in records), records


# Says which module sys.modules["<stem>"] is: this one, another, none. Used under names that are not free.
NOT_ALIASED = """
import json
import sys


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        registered = sys.modules.get({stem!r})
        with open({out!r}, "w") as stream:
            json.dump({{
                "name": __name__,
                "registered_is_this_module": registered is sys.modules[type(self).__module__],
                "registered_file": getattr(registered, "__file__", None),
            }}, stream)

    def process(self, data):
        pass
"""


def test_a_stem_naming_another_module_is_not_aliased(home: Path, tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    write_script(lab, "labmod.py", "VALUE = 1\n")
    env = {**os.environ, "PYTHONPATH": str(lab)}
    # the standard library, the Home's site-packages (pip is in every venv), PYTHONPATH, no identifier
    for file_name, stem in (
        ("json.py", "json"),
        ("pip.py", "pip"),
        ("labmod.py", "labmod"),
        ("v1.2.py", "v1.2"),
    ):
        out = tmp_path / f"{stem}.json"
        script = write_script(tmp_path / stem, file_name, NOT_ALIASED.format(stem=stem, out=str(out)))
        result = run_host("--script", script, "--blocks", "2", home=home, env=env)
        assert result.returncode == 0, (file_name, result.stderr)
        seen = json.loads(out.read_text())
        assert seen["name"].startswith("_oe_pyproc_script_"), seen
        assert not seen["registered_is_this_module"], seen
        assert seen["registered_file"] != str(script), seen


# Two instances of one script: the first takes the alias. `REPLACE` makes the alias owner point the alias
# at another module (as a script may) before it is removed.
SHARED_STEM = """
import json
import sys
import types

REPLACE = {replace}


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.blocks = 0

    def process(self, data):
        self.blocks += 1
        if REPLACE and self.blocks == 2 and __name__ == "shared_stem":
            sys.modules["shared_stem"] = types.ModuleType("replacement")

    def stop_acquisition(self):
        alias = sys.modules.get("shared_stem")
        with open({out!r}, "a") as stream:
            stream.write(json.dumps([__name__, None if alias is None else alias.__name__]) + "\\n")
"""


def run_shared_stem(home: Path, folder: Path, replace: bool, removed: int) -> list[list[str | None]]:
    out = folder / "stop.jsonl"
    script = write_script(folder, "shared_stem.py", SHARED_STEM.format(replace=replace, out=str(out)))
    result = run_host(
        "--script",
        script,
        "--instances",
        "2",
        "--blocks",
        "8",
        "--remove-at-block",
        f"5:{removed}",
        home=home,
    )
    assert result.returncode == 0, result.stderr
    assert result.instance(removed)["removed_at_block"] == 5
    records: list[list[str | None]] = [json.loads(line) for line in out.read_text().splitlines()]
    return records


def test_removing_an_instance_drops_only_its_own_alias(home: Path, tmp_path: Path) -> None:
    # The second instance never had the alias: removing it leaves the first's.
    [survivor] = run_shared_stem(home, tmp_path / "second", replace=False, removed=1)
    assert survivor == ["shared_stem", "shared_stem"]
    # Removing the owner removes the alias.
    [survivor] = run_shared_stem(home, tmp_path / "owner", replace=False, removed=0)
    assert survivor[0].startswith("_oe_pyproc_script_") and survivor[1] is None
    # ... unless it no longer points at the owner's module.
    [survivor] = run_shared_stem(home, tmp_path / "replaced", replace=True, removed=0)
    assert survivor[1] == "replacement"
