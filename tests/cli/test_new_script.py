"""`oe-pyproc new-script`: name rules against the Home's own modules, safe writes, validated output, and a
run from an installed wheel."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from oe_pyproc_setup.commands.new_script import validate_script
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.templates import TEMPLATE_IDS

REPO = Path(__file__).resolve().parents[2]
Cli = Callable[..., subprocess.CompletedProcess[str]]


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """No configured Home: HOME points at an empty folder (no GUI settings there)."""
    env = dict(os.environ)
    env["HOME"] = str(tmp_path / "empty home")
    (tmp_path / "empty home").mkdir(exist_ok=True)
    return env


@pytest.mark.parametrize(
    ("name", "reason", "suggestion"),
    [
        ("numpy", "every Home has it", "my_numpy"),
        ("json", "module the Home already has", "my_json"),
        ("class", "Python keyword", "my_class"),
        ("1abc", "not a Python identifier", "my_1abc"),
        ("v1.2", "not a Python identifier", "v1_2"),
        ("my-filter.py", "not a Python identifier", "my_filter"),
        ("setuptools", "module the Home already has", "my_setuptools"),
    ],
)
def test_refused_names_have_a_reason_and_a_working_suggestion(
    cli: Cli, numpy_home: Path, tmp_path: Path, name: str, reason: str, suggestion: str
) -> None:
    result = cli("new-script", name, "--dir", str(tmp_path), "--python-home", str(numpy_home))
    assert result.returncode == 1, result.stderr
    assert reason in result.stderr
    assert f"Try: oe-pyproc new-script {suggestion}\n" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.glob("*.py")) == []
    accepted = cli("new-script", suggestion, "--dir", str(tmp_path), "--python-home", str(numpy_home))
    assert accepted.returncode == 0, accepted.stderr
    assert (tmp_path / f"{suggestion}.py").is_file()


def test_site_packages_names_count_only_with_a_home(cli: Cli, tmp_path: Path) -> None:
    # setuptools is in the numpy Home's site-packages, not in the standard library.
    result = cli("new-script", "setuptools", "--dir", str(tmp_path), env=isolated_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no Python Home given or configured" in result.stderr
    refused = cli("new-script", "json", "--dir", str(tmp_path), env=isolated_env(tmp_path))
    assert refused.returncode == 1
    assert "module the standard library already has" in refused.stderr


def test_configured_default_home_is_used(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    from oe_pyproc_setup.defaulthome import write_default_home

    configs = Path(env["HOME"]) / ".config" / "open-ephys" / "configs-api10"
    write_default_home(configs / "oe-pyproc.json", numpy_home)
    result = cli("new-script", "setuptools", "--dir", str(tmp_path), env=env)
    assert result.returncode == 1
    assert "module the Home already has" in result.stderr


def test_default_home_file_of_another_gui_root_and_api(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    """--gui-root and --api, as in run: the default Home file of a GUI kept elsewhere (here GUI 0.6.x's)."""
    from oe_pyproc_setup.defaulthome import write_default_home

    root = tmp_path / "portable gui"
    write_default_home(root / "configs-api8" / "oe-pyproc.json", numpy_home)
    args = ("new-script", "setuptools", "--dir", str(tmp_path), "--gui-root", str(root))
    result = cli(*args, "--api", "8", env=isolated_env(tmp_path))
    assert result.returncode == 1 and "module the Home already has" in result.stderr
    assert "no Python Home given or configured" not in result.stderr
    other_api = cli(*args, "--dry-run", env=isolated_env(tmp_path))  # API 10: nothing configured there
    assert other_api.returncode == 0 and "no Python Home given or configured" in other_api.stderr


@pytest.mark.parametrize("template_id", TEMPLATE_IDS)
def test_writes_the_template_and_validates_it(
    cli: Cli, numpy_home: Path, tmp_path: Path, template_id: str
) -> None:
    folder = tmp_path / "scripts ü"
    folder.mkdir()
    result = cli(
        "new-script", f"my_{template_id}.py", "--template", template_id, "--dir", str(folder),
        "--python-home", str(numpy_home),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = folder / f"my_{template_id}.py"
    assert written.read_bytes() == (REPO / "templates" / f"{template_id}.py").read_bytes()
    validate_script(written.read_text(encoding="utf-8"), str(written))
    assert f"oe-pyproc run {shlex.quote(str(written))}" in result.stdout
    assert "Next steps:" in result.stdout
    if template_id == "bandpass":  # the Home has numpy but no scipy
        assert "imports 'scipy'" in result.stderr
    assert [p.name for p in folder.iterdir()] == [written.name]  # no temp files left


def test_existing_file_is_refused_before_anything_else(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "json.py"  # also a bad name: the file check must come first
    target.write_text("mine\n")
    result = cli("new-script", "json", "--dir", str(tmp_path), env=isolated_env(tmp_path))
    assert result.returncode == 1
    assert f"{target} exists" in result.stderr and "--force" in result.stderr
    assert target.read_text() == "mine\n"


def test_a_symbolic_link_in_the_way_is_refused_even_when_broken(cli: Cli, tmp_path: Path) -> None:
    """A broken link does not 'exist' for Path.exists(); it was silently replaced by a new file."""
    target = tmp_path / "my_filter.py"
    target.symlink_to(tmp_path / "elsewhere" / "my_filter.py")
    result = cli("new-script", "my_filter", "--dir", str(tmp_path), env=isolated_env(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        f"{target} exists (a broken symbolic link to {tmp_path / 'elsewhere' / 'my_filter.py'})"
        in result.stderr
    )
    assert target.is_symlink()


def test_force_replaces_with_a_backup(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    target = tmp_path / "my_proc.py"
    target.write_text("mine\n")
    result = cli("new-script", "my_proc", "--force", "--dir", str(tmp_path), "--python-home", str(numpy_home))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == (REPO / "templates" / "processor.py").read_bytes()
    backup = tmp_path / "my_proc.py.oe-pyproc-backup"
    assert backup.read_text() == "mine\n"
    assert str(backup) in result.stdout


def test_dry_run_writes_nothing(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    result = cli(
        "new-script", "my_proc", "--dry-run", "--dir", str(tmp_path), "--python-home", str(numpy_home)
    )
    assert result.returncode == 0, result.stderr
    assert "Would write" in result.stdout
    assert list(tmp_path.iterdir()) == []


def test_list_templates_and_usage_errors(cli: Cli, tmp_path: Path) -> None:
    listed = cli("new-script", "--list-templates")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == list(TEMPLATE_IDS)
    assert "(default)" in listed.stdout.splitlines()[0]
    assert cli("new-script").returncode == 2
    assert cli("new-script", "x", "--template", "nope").returncode == 2
    missing = cli("new-script", "my_proc", "--dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    path_name = cli("new-script", "sub/my_proc")
    assert path_name.returncode == 2 and "use --dir" in path_name.stderr
    bad_home = cli(
        "new-script", "my_proc", "--dir", str(tmp_path), "--python-home", str(tmp_path / "no home")
    )
    assert bad_home.returncode == 1 and "does not exist" in bad_home.stderr
    assert list(tmp_path.iterdir()) == []


def test_validate_script_rejects_broken_scripts() -> None:
    with pytest.raises(UserFacingError, match="does not compile"):
        validate_script("class PyProcessor(:\n", "x.py")
    with pytest.raises(UserFacingError, match="no top-level class PyProcessor"):
        validate_script("class Other:\n    pass\n", "x.py")
    with pytest.raises(UserFacingError, match="no method process"):
        validate_script("class PyProcessor:\n    def __init__(self, p, n, s):\n        pass\n", "x.py")
    with pytest.raises(UserFacingError, match="must take 4 arguments"):
        validate_script(
            "class PyProcessor:\n    def __init__(self, p):\n        pass\n"
            "    def process(self, d):\n        pass\n",
            "x.py",
        )


def test_works_from_an_installed_wheel(tmp_path: Path, numpy_home: Path) -> None:
    """Build the wheel, install it into a fresh venv, run new-script there: templates come as package data."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("oe_pyproc_setup-*.whl")
    venv = tmp_path / "fresh venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], check=True)
    code = "from oe_pyproc_setup.templates import templates_dir; print(templates_dir())"
    templates = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.strip()
    assert templates.startswith(str(venv)) and templates.endswith("oe_pyproc_setup/templates")
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [str(venv / "bin" / "oe-pyproc"), "new-script", "my_filter", "--template", "bandpass",
         "--dir", str(out), "--python-home", str(numpy_home)],
        capture_output=True, text=True, cwd=tmp_path, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (out / "my_filter.py").read_bytes() == (REPO / "templates" / "bandpass.py").read_bytes()
