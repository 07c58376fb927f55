"""`oe-pyproc homes` end to end, as a subprocess: table, --json (schema 1), --exec, rules, exit codes."""

from __future__ import annotations

import json
import os
import platform
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

from oe_pyproc_setup.binfmt import normalize_machine

Cli = Callable[..., subprocess.CompletedProcess[str]]
HOST = normalize_machine(platform.machine())


def homes_json(cli: Cli, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    result = cli("homes", "--json", *args, env=env)
    assert "Traceback" not in result.stderr
    return result.returncode, json.loads(result.stdout)


def test_json_for_the_good_home(cli: Cli, numpy_home: Path, gui_root: Path) -> None:
    code, document = homes_json(cli, str(numpy_home), "--gui-root", str(gui_root))
    assert code == 0
    assert document["schema"] == 1
    assert document["rules"]["plugin"] == "ours"  # type: ignore[index]
    [home] = document["homes"]  # type: ignore[misc]
    assert home["path"] == str(numpy_home) and home["source"] == "given"
    assert home["kind"] == "venv" and home["version"] == "3.10" and home["arch"] == HOST
    assert home["numpy"]["installer"] == "pip"
    assert home["verdict"] == {"status": "ok", "plugin": "ours", "reasons": []}
    assert home["probe"] is None


def test_exec_probes_and_exit_code_for_bad_given_paths(
    cli: Cli, numpy_home: Path, venv_factory: Callable[..., Path], gui_root: Path
) -> None:
    wrong = venv_factory("py312 env", minor="3.12")
    code, document = homes_json(cli, str(numpy_home), str(wrong), "--exec", "--gui-root", str(gui_root))
    assert code == 1
    good, bad = document["homes"]  # type: ignore[misc]
    assert good["probe"]["status"] == "ok" and good["probe"]["version"] == "3.10"
    assert bad["verdict"]["status"] == "error"
    assert [r["code"] for r in bad["verdict"]["reasons"]] == ["version"]  # numpy does not matter then
    assert bad["probe"]["status"] == "numpy-missing"


def test_table_with_ascii_fallback(cli: Cli, numpy_home: Path, good_base: Path, gui_root: Path) -> None:
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    result = cli("homes", str(numpy_home), str(good_base), "--gui-root", str(gui_root), env=env)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("+ ok") and str(numpy_home) in line for line in lines)
    assert any(line.startswith("x error") and str(good_base) in line for line in lines)
    assert "numpy is not installed" in result.stdout
    assert "2 Home(s), 1 usable." in result.stdout
    utf8 = cli(
        "homes", str(numpy_home), "--gui-root", str(gui_root), env=dict(os.environ, PYTHONIOENCODING="utf-8")
    )
    assert utf8.stdout.splitlines()[1].startswith("✓ ok")


def test_upstream_plugin_in_gui_folder_changes_the_rules(cli: Cli, numpy_home: Path, gui_root: Path) -> None:
    (gui_root / "plugins-api10" / "python-processor.so").write_bytes(b"\x7fELF")
    code, document = homes_json(cli, str(numpy_home), "--gui-root", str(gui_root))
    assert code == 1
    assert document["rules"]["plugin"] == "upstream"  # type: ignore[index]
    [home] = document["homes"]  # type: ignore[misc]
    assert [r["code"] for r in home["verdict"]["reasons"]] == ["venv-unsupported"]
    code, document = homes_json(cli, str(numpy_home), "--gui-root", str(gui_root), "--plugin", "ours")
    assert code == 0


def test_gui_exe_architecture(cli: Cli, numpy_home: Path, gui_root: Path, tmp_path: Path) -> None:
    other = 0x0100000C if HOST != "arm64" else 0x01000007  # arm64 or x86_64 Mach-O
    gui = tmp_path / "open-ephys"
    gui.write_bytes(struct.pack("<IiiIIII", 0xFEEDFACF, other, 0, 2, 10, 1000, 0) + bytes(32))
    code, document = homes_json(cli, str(numpy_home), "--gui-root", str(gui_root), "--gui-exe", str(gui))
    assert code == 1
    assert document["gui_arch"] != HOST
    assert [r["code"] for r in document["homes"][0]["verdict"]["reasons"]] == ["arch-mismatch"]  # type: ignore[index]
    missing = cli("homes", str(numpy_home), "--gui-exe", str(tmp_path / "nope"))
    assert (
        missing.returncode == 1 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    )
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    unreadable = cli("homes", str(numpy_home), "--gui-exe", str(text))
    assert unreadable.returncode == 1 and "cannot read the architecture" in unreadable.stderr


def test_bad_paths_are_reported_not_raised(cli: Cli, good_base: Path, tmp_path: Path) -> None:
    file_root = tmp_path / "root-file"
    file_root.write_text("")
    result = cli("homes", str(good_base / "bin" / "python3.10"), str(tmp_path / "missing"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is a file, not a folder" in result.stdout and "does not exist" in result.stdout
    bad_root = cli("homes", "--gui-root", str(file_root))
    assert bad_root.returncode == 1 and "is a file" in bad_root.stderr and "Traceback" not in bad_root.stderr


def test_discovery_lists_the_oe_python_plugin_env_first(
    cli: Cli, tmp_path: Path, conda_env_factory: Callable[..., Path], gui_root: Path, good_base: Path
) -> None:
    home = tmp_path / "home"
    envs = home / "miniconda3" / "envs"
    conda_env_factory("zzz-analysis", root=envs)
    ours = conda_env_factory("oe-python-plugin", root=envs)
    env = {k: v for k, v in os.environ.items() if k not in ("CONDA_PREFIX", "CONDA_EXE")}
    env["HOME"] = str(home)
    env["PYENV_ROOT"] = str(good_base.parent.parent)
    code, document = homes_json(cli, "--gui-root", str(gui_root), env=env)
    assert code == 0
    homes = document["homes"]  # type: ignore[assignment]
    assert homes[0]["path"] == str(ours) and homes[0]["verdict"]["status"] == "ok"  # type: ignore[index]
    assert any(h["source"] == "pyenv" for h in homes)  # type: ignore[union-attr]


def test_timeout_must_be_a_finite_number(cli: Cli, numpy_home: Path) -> None:
    """click's FloatRange lets nan and inf through; they reached subprocess and ended in a traceback."""
    for value, expected in (("nan", "'nan' is not a finite number"), ("inf", "0.1<=x<=3600.0")):
        result = cli("homes", "--exec", "--timeout", value, str(numpy_home))
        assert result.returncode == 2 and expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
