"""`oe-pyproc doctor`: real Homes (pyenv venvs), a temporary GUI root, exit codes, JSON schema, the ASCII
fallback, a crashing check, --fix, and crafted Mach-O headers for the macOS-only checks."""

from __future__ import annotations

import json
import os
import plistlib
import shlex
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from oe_pyproc_setup.cli import main
from oe_pyproc_setup.defaulthome import read_default_home, write_default_home
from oe_pyproc_setup.doctor import checks as checks_module
from oe_pyproc_setup.doctor.checks import CHECKS
from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import STATUSES, Check, Finding
from oe_pyproc_setup.doctor.runner import run_checks
from oe_pyproc_setup.gui import default_gui_root
from oe_pyproc_setup.macos.signature import read_signatures

Cli = Callable[..., subprocess.CompletedProcess[str]]
CONDA_CREATE = "conda create -n oe-python-plugin -c conda-forge python=3.10 numpy scipy"


def env_without_homes(tmp_path: Path) -> dict[str, str]:
    """HOME and PYENV_ROOT pointing at empty folders: no GUI settings, no candidate Homes."""
    env = {k: v for k, v in os.environ.items() if k not in ("CONDA_PREFIX", "PYTHONHOME", "PYTHONPATH")}
    home = tmp_path / "user home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    env["PYENV_ROOT"] = str(home / ".pyenv")
    return env


def doctor_json(cli: Cli, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    result = cli("doctor", "--json", *args, env=env)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def by_id(document: dict[str, object]) -> dict[str, dict[str, object]]:
    findings = document["findings"]
    assert isinstance(findings, list)
    return {finding["id"]: finding for finding in findings}


def test_good_home_from_the_default_home_file(
    cli: Cli, numpy_home: Path, gui_root: Path, tmp_path: Path
) -> None:
    write_default_home(gui_root / "configs-api10" / "oe-pyproc.json", numpy_home)
    code, document = doctor_json(cli, "--gui-root", str(gui_root), env=env_without_homes(tmp_path))
    findings = by_id(document)
    assert code == 0, findings
    assert findings["home.resolve"]["status"] == "ok"
    assert "the default Home file" in str(findings["home.resolve"]["message"])
    assert findings["home.layout"]["status"] == "ok"
    assert findings["home.numpy"]["status"] == "ok"
    assert "installed by pip" in str(findings["home.numpy"]["message"])
    assert findings["gui.default-home"]["status"] == "ok"
    assert findings["gui.folders"]["status"] == "warn"  # shared-api10 missing


def test_json_schema_is_stable(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    code, document = doctor_json(
        cli, "--python-home", str(numpy_home), "--gui-root", str(tmp_path / "no gui")
    )
    assert set(document) == {"schema", "oe_pyproc_version", "platform", "context", "summary", "findings"}
    assert document["schema"] == 1
    summary = document["summary"]
    assert isinstance(summary, dict) and list(summary) == list(STATUSES)
    findings = document["findings"]
    assert isinstance(findings, list) and sum(summary.values()) == len(findings)
    for finding in findings:
        assert set(finding) == {
            "id",
            "title",
            "status",
            "message",
            "details",
            "remediation",
            "links",
            "fixable",
        }
        assert finding["status"] in STATUSES
        assert isinstance(finding["details"], list) and isinstance(finding["links"], list)
        remediation = finding["remediation"]
        assert remediation is None or (set(remediation) == {"text", "commands"})
    platform_info = document["platform"]
    assert isinstance(platform_info, dict) and platform_info["system"] == "Linux"
    assert [check.id for check in CHECKS] == list(dict.fromkeys(f["id"].split("/")[0] for f in findings))
    assert code == 0  # no GUI at all is only a warning


def test_no_gui_is_a_warning_with_the_commands_that_fix_it(
    cli: Cli, numpy_home: Path, tmp_path: Path
) -> None:
    root = tmp_path / "never ran"
    result = cli("doctor", "--python-home", str(numpy_home), "--gui-root", str(root))
    assert result.returncode == 0, result.stdout
    assert f"! GUI folders: no Open Ephys GUI settings at {root}" in result.stdout
    assert f"oe-pyproc install --gui-root {shlex.quote(str(root))}" in result.stdout
    strict = cli("doctor", "--strict", "--python-home", str(numpy_home), "--gui-root", str(root))
    assert strict.returncode == 1


def test_no_home_anywhere_prints_the_conda_command(cli: Cli, tmp_path: Path) -> None:
    result = cli("doctor", env=env_without_homes(tmp_path))
    assert result.returncode == 1
    assert "✗ Python Home: no Python Home is configured" in result.stdout
    assert CONDA_CREATE in result.stdout


def test_a_usable_candidate_is_proposed(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    env = env_without_homes(tmp_path)
    envs = Path(env["HOME"]) / ".conda" / "envs"
    envs.mkdir(parents=True)
    (envs / "oe-python-plugin").symlink_to(numpy_home, target_is_directory=True)
    result = cli("doctor", "--check", "home.resolve", env=env)
    assert result.returncode == 1
    assert f"oe-pyproc configure --python-home {shlex.quote(str(envs / 'oe-python-plugin'))}" in result.stdout


@pytest.mark.parametrize("minor", ["3.12", "3.11", "3.9"])
def test_wrong_python_versions_are_errors(
    cli: Cli, venv_factory: Callable[..., Path], tmp_path: Path, minor: str
) -> None:
    home = venv_factory(f"py{minor}", minor)
    code, document = doctor_json(cli, "--python-home", str(home), "--gui-root", str(tmp_path / "g"))
    findings = by_id(document)
    assert code == 1
    assert findings["home.resolve"]["status"] == "error"
    assert findings["home.layout"]["status"] == "error"
    assert f"Python {minor}" in str(findings["home.layout"]["message"])


def test_home_without_numpy(cli: Cli, venv_factory: Callable[..., Path], tmp_path: Path) -> None:
    home = venv_factory("no numpy")
    code, document = doctor_json(cli, "--python-home", str(home), "--gui-root", str(tmp_path / "g"))
    numpy_finding = by_id(document)["home.numpy"]
    assert code == 1 and numpy_finding["status"] == "error"
    remediation = numpy_finding["remediation"]
    assert isinstance(remediation, dict)
    assert remediation["commands"] == [f'"{home}/bin/python3.10" -m pip install numpy'] or remediation[
        "commands"
    ][0].endswith("-m pip install numpy")


def test_pip_numpy_in_a_conda_env_is_a_warning(
    cli: Cli, conda_env_factory: Callable[..., Path], tmp_path: Path
) -> None:
    home = conda_env_factory("pip-numpy", numpy_installer="pip")
    code, document = doctor_json(cli, "--python-home", str(home), "--gui-root", str(tmp_path / "g"))
    assert by_id(document)["home.numpy"]["status"] == "warn"
    assert code == 0
    conda_home = conda_env_factory("conda-numpy", numpy_installer="conda")
    _, document = doctor_json(cli, "--python-home", str(conda_home), "--gui-root", str(tmp_path / "g"))
    assert by_id(document)["home.numpy"]["status"] == "ok"
    assert "installed by conda" in str(by_id(document)["home.numpy"]["message"])


def test_ascii_console_falls_back(cli: Cli, numpy_home: Path, gui_root: Path) -> None:
    # gui_root's path has non-ASCII characters: they must be escaped, not crash the output.
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    result = cli("doctor", "--python-home", str(numpy_home), "--gui-root", str(gui_root), env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "[ok] Python Home:" in result.stdout
    assert "[!!] GUI folders:" in result.stdout
    assert "Donn\\xe9es" in result.stdout
    assert "✓" not in result.stdout


def test_a_crashing_check_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch, numpy_home: Path) -> None:
    def explode(context: Context) -> list[Finding]:
        raise RuntimeError("boom")

    crashing = Check("test.crash", "Crashing check", explode)
    monkeypatch.setattr(checks_module, "CHECKS", [*CHECKS[:1], crashing])
    result = CliRunner().invoke(main, ["doctor", "--python-home", str(numpy_home), "-v"])
    assert result.exit_code == 1
    assert "✗ Crashing check: the check crashed: RuntimeError: boom" in result.output
    assert 'raise RuntimeError("boom")' in result.output
    assert "oe-pyproc doctor --report" in result.output
    outcome = run_checks([crashing, Check("test.empty", "Empty", lambda context: [])], Context())
    assert [f.status for f in outcome.findings] == ["crash", "crash"]
    assert outcome.exit_code() == 1


def test_list_and_select_checks(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    listed = cli("doctor", "--list-checks")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [check.id for check in CHECKS]
    code, document = doctor_json(
        cli, "--check", "home.numpy", "--check", "env.python-vars", "--python-home", str(numpy_home)
    )
    assert code == 0
    assert [f["id"] for f in document["findings"]] == ["home.numpy", "env.python-vars"]  # type: ignore[union-attr]
    unknown = cli("doctor", "--check", "nope")
    assert unknown.returncode == 2 and "unknown check id(s): nope" in unknown.stderr
    assert cli("doctor", "--yes").returncode == 2


def test_list_checks_as_json(cli: Cli) -> None:
    result = cli("doctor", "--list-checks", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["schema"] == 1
    assert {"id": "home.resolve", "title": "Python Home"} in document["checks"]


def test_report_is_markdown_with_versions(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    result = cli("doctor", "--report", "--python-home", str(numpy_home), "--gui-root", str(tmp_path / "g"))
    assert result.returncode == 0
    assert "### oe-pyproc doctor report" in result.stdout
    assert "- oe-pyproc: 0.1.0" in result.stdout
    assert "| status | check | result |" in result.stdout
    assert "| warn | gui.folders |" in result.stdout


def chain_xml(python_home: str, script_path: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n\n<SETTINGS>\n  <INFO><VERSION>1.0.1</VERSION></INFO>\n'
        '  <SIGNALCHAIN>\n    <PROCESSOR name="File Reader" nodeId="100" pluginName="File Reader"/>\n'
        '    <PROCESSOR name="Python Processor" nodeId="101" pluginName="Python Processor" '
        'libraryVersion="0.1.0">\n'
        f'      <PROCESSOR_PARAMETERS python_home="{python_home}" script_path="{script_path}" '
        'current_stream="0"/>\n'
        '    </PROCESSOR>\n  </SIGNALCHAIN>\n  <AUDIO sampleRate="44100.0" bufferSize="1024"/>\n</SETTINGS>\n'
    )


def test_chains_pointing_nowhere_and_shadowing_script_names(
    cli: Cli, numpy_home: Path, gui_root: Path
) -> None:
    configs = gui_root / "configs-api10"
    script = gui_root.parent / "numpy.py"
    script.write_text("class PyProcessor: pass\n")
    (configs / "lastConfig.xml").write_text(chain_xml(str(gui_root / "gone"), str(gui_root / "gone.py")))
    (configs / "recoveryConfig.xml").write_text(chain_xml(str(numpy_home), str(script)))
    code, document = doctor_json(cli, "--gui-root", str(gui_root), "--python-home", str(numpy_home))
    findings = by_id(document)
    assert code == 1
    last = findings["chains.paths/lastConfig.xml"]
    assert last["status"] == "error"
    assert "python_home" in str(last["message"]) and "gone.py does not exist" in str(last["message"])
    assert findings["chains.paths/recoveryConfig.xml"]["status"] == "ok"
    names = findings["scripts.names"]
    assert names["status"] == "error"  # the chain's libraryVersion says upstream saved it
    assert "'numpy' is also a module of the Home" in " ".join(names["details"])  # type: ignore[arg-type]
    # Upstream's rules (from the chain's libraryVersion) refuse a venv as Home.
    assert findings["home.resolve"]["status"] == "error"
    assert "venv" in " ".join(findings["home.layout"]["details"] + [findings["home.layout"]["message"]])  # type: ignore[operator]


def test_shadowing_script_names_under_our_plugin_are_a_warning_about_importing_them(
    cli: Cli, numpy_home: Path, gui_root: Path
) -> None:
    script = gui_root.parent / "json.py"
    script.write_text("class PyProcessor: pass\n")
    ours = chain_xml(str(numpy_home), str(script)).replace(
        'libraryVersion="0.1.0"', 'libraryVersion="0.1.0 oe-pyproc"'
    )
    for name in ("lastConfig.xml", "recoveryConfig.xml"):
        (gui_root / "configs-api10" / name).write_text(ours)
    _, document = doctor_json(
        cli, "--check", "scripts.names", "--gui-root", str(gui_root), "--python-home", str(numpy_home)
    )
    names = by_id(document)["scripts.names"]
    assert names["status"] == "warn", names
    assert "does not make them importable by that name" in str(names["message"])
    assert "'json' is also a module of the Home" in " ".join(names["details"])  # type: ignore[arg-type]


def test_malformed_chain_is_a_warning(cli: Cli, numpy_home: Path, gui_root: Path) -> None:
    (gui_root / "configs-api10" / "lastConfig.xml").write_text("<SETTINGS><SIGNALCHAIN>")
    code, document = doctor_json(cli, "--python-home", str(numpy_home), "--gui-root", str(gui_root))
    assert by_id(document)["chains.paths/lastConfig.xml"]["status"] == "warn"
    assert code == 0


def site_packages(venv: Path, minor: str = "3.10") -> Path:
    return venv / "lib" / f"python{minor}" / "site-packages"


def python_vars(
    cli: Cli, gui_root: Path, tmp_path: Path, *args: str, **variables: str
) -> tuple[int, dict[str, object]]:
    """The env.python-vars finding with exactly these PYTHONHOME/PYTHONPATH values in the environment."""
    env = {**env_without_homes(tmp_path), **variables}
    code, document = doctor_json(
        cli, "--check", "env.python-vars", "--gui-root", str(gui_root), *args, env=env
    )
    return code, by_id(document)["env.python-vars"]


def test_pythonpath_entries_are_listed_as_appended_after_the_home(
    cli: Cli, numpy_home: Path, gui_root: Path, tmp_path: Path
) -> None:
    lab, shared = tmp_path / "lab code", tmp_path / "shared"
    lab.mkdir()
    shared.mkdir()
    (lab / "lab_filters.py").write_text("GAIN = 2\n")
    value = os.pathsep.join([str(lab), "", str(shared)])
    code, finding = python_vars(cli, gui_root, tmp_path, "--python-home", str(numpy_home), PYTHONPATH=value)
    assert code == 0 and finding["status"] == "ok", finding
    message = str(finding["message"])
    assert "2 entries are appended to sys.path after the Home's own paths" in message
    assert f"{lab}, {shared}" in message and "PYTHONHOME is not set (it would be ignored)" in message
    assert finding["details"] == [
        f"PYTHONPATH entry 1: {lab} (a folder)",
        f"PYTHONPATH entry 2: {shared} (a folder)",
        "empty PYTHONPATH entries are skipped (the plugin never puts the current folder on sys.path)",
    ]
    assert finding["remediation"] is None
    # PYTHONHOME alone is said to be ignored. (It is the CLI's own Python's: any other would stop that
    # Python itself from starting, before the doctor could say anything.)
    code, finding = python_vars(cli, gui_root, tmp_path, PYTHONHOME=sys.base_prefix)
    assert code == 0 and finding["status"] == "ok" and finding["message"] == "PYTHONHOME is ignored"


def test_pythonpath_entries_that_cannot_work_are_warnings_with_the_fixed_value(
    cli: Cli, numpy_home: Path, gui_root: Path, tmp_path: Path
) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    notes = tmp_path / "notes.txt"
    notes.write_text("not a module folder")
    archive = tmp_path / "lab.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("zipped_lab.py", "VALUE = 1\n")
    missing = tmp_path / "gone"
    own_site = site_packages(numpy_home)
    entries = [str(lab), str(missing), "relative/code", str(notes), str(archive), str(own_site)]
    code, finding = python_vars(
        cli, gui_root, tmp_path, "--python-home", str(numpy_home), PYTHONPATH=os.pathsep.join(entries)
    )
    assert code == 0 and finding["status"] == "warn", finding
    details = finding["details"]
    assert details == [
        f"PYTHONPATH entry 1: {lab} (a folder)",
        f"PYTHONPATH entry 2: {missing} (does not exist)",
        "PYTHONPATH entry 3: relative/code (relative: the plugin resolves it against the GUI's working "
        "folder, not yours)",
        f"PYTHONPATH entry 4: {notes} (is a file, neither a folder nor a zip archive: Python ignores it)",
        f"PYTHONPATH entry 5: {archive} (a zip archive)",
        f"PYTHONPATH entry 6: {own_site} (the Home's own site-packages, already on sys.path)",
    ]
    assert finding["message"] == (
        "PYTHONPATH's 6 entries are appended to sys.path after the Home's own paths, 3 cannot work as meant: "
        f"{missing}, relative/code, {notes}; PYTHONHOME is not set (it would be ignored)"
    )
    remediation = finding["remediation"]
    assert isinstance(remediation, dict)
    assert remediation["commands"] == [
        f"export PYTHONPATH={shlex.quote(os.pathsep.join([str(lab), str(archive), str(own_site)]))}"
    ]
    # Text rendering: the problems and the command, without -v.
    env = {**env_without_homes(tmp_path), "PYTHONPATH": os.pathsep.join(entries)}
    text = cli(
        "doctor",
        "--check",
        "env.python-vars",
        "--gui-root",
        str(gui_root),
        "--python-home",
        str(numpy_home),
        env=env,
    ).stdout
    assert f"PYTHONPATH entry 2: {missing} (does not exist)" in text
    assert remediation["commands"][0] in text


def test_a_numpy_on_pythonpath_is_a_warning_naming_the_python_it_was_built_for(
    cli: Cli, numpy_home: Path, venv_factory: Callable[..., Path], gui_root: Path, tmp_path: Path
) -> None:
    # A 3.12 Home with a 3.10 venv's site-packages (real numpy, built for 3.10) on PYTHONPATH.
    home_312 = venv_factory("home 3.12", minor="3.12")
    other_site = site_packages(numpy_home)
    _, finding = python_vars(
        cli, gui_root, tmp_path, "--python-home", str(home_312), PYTHONPATH=str(other_site)
    )
    assert finding["status"] == "warn", finding
    assert f"1 cannot work as meant: {other_site}" in str(finding["message"])
    assert (
        f"PYTHONPATH entry 1: {other_site} (holds a numpy built for CPython 3.10 (the Home runs 3.12): "
        "another Python's packages" in str(finding["details"])
    )
    remediation = finding["remediation"]
    assert isinstance(remediation, dict) and remediation["commands"] == ["unset PYTHONPATH"]
    # Another numpy for the same Python (a second venv's site-packages) is a warning too.
    second = venv_factory("second", numpy_from=numpy_home)
    _, finding = python_vars(
        cli, gui_root, tmp_path, "--python-home", str(numpy_home), PYTHONPATH=str(site_packages(second))
    )
    assert finding["status"] == "warn" and "holds a numpy of its own, built for CPython 3.10" in str(
        finding["details"]
    )


def test_python_env_vars_under_upstreams_plugin_are_a_warning(
    cli: Cli, numpy_home: Path, gui_root: Path, tmp_path: Path
) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (gui_root / "plugins-api10" / "python-processor.so").write_bytes(b"\x7fELF")
    code, finding = python_vars(cli, gui_root, tmp_path, PYTHONPATH=str(lab), PYTHONHOME=sys.base_prefix)
    assert code == 0 and finding["status"] == "warn", finding
    assert "upstream's Python Processor lets them override its Home" in str(finding["message"])
    assert finding["details"] == [f"PYTHONHOME={sys.base_prefix}", f"PYTHONPATH entry 1: {lab} (a folder)"]
    # A numpy on PYTHONPATH is the one upstream's plugin imports.
    _, finding = python_vars(cli, gui_root, tmp_path, PYTHONPATH=str(site_packages(numpy_home)))
    assert "upstream's plugin puts PYTHONPATH first, so `import numpy` loads this one" in str(
        finding["details"]
    )


# --- --fix -------------------------------------------------------------------------------------------


def test_fix_rewrites_a_broken_default_home_file_with_a_backup(
    cli: Cli, numpy_home: Path, gui_root: Path
) -> None:
    target = gui_root / "configs-api10" / "oe-pyproc.json"
    target.write_text("{not json")
    args = (
        "doctor",
        "--python-home",
        str(numpy_home),
        "--gui-root",
        str(gui_root),
        "--check",
        "gui.default-home",
    )
    before = cli(*args)
    assert before.returncode == 1 and "is not valid JSON" in before.stdout
    dry = cli(*args, "--fix", "--dry-run")
    assert f"Would record {numpy_home}" in dry.stdout and target.read_text() == "{not json"
    declined = cli(*args, "--fix")  # stdin is not a terminal: the default answer, no
    assert "Nothing changed" in declined.stdout and target.read_text() == "{not json"
    fixed = cli(*args, "--fix", "--yes")
    assert "Done: wrote" in fixed.stdout, fixed.stdout + fixed.stderr
    assert "After the fixes: 1 ok, 0 warnings, 0 errors" in fixed.stdout
    assert fixed.returncode == 0  # judged again after the fix
    record = read_default_home(target)
    assert record is not None and record.python_home == numpy_home
    assert (gui_root / "configs-api10" / "oe-pyproc.json.oe-pyproc-backup").read_text() == "{not json"
    assert cli(*args).returncode == 0


def test_default_home_file_naming_a_folder_that_is_not_python(
    cli: Cli, gui_root: Path, tmp_path: Path
) -> None:
    not_python = tmp_path / "not python"
    not_python.mkdir()
    write_default_home(gui_root / "configs-api10" / "oe-pyproc.json", not_python)
    code, document = doctor_json(cli, "--gui-root", str(gui_root), env=env_without_homes(tmp_path))
    finding = by_id(document)["gui.default-home"]
    assert code == 1 and finding["status"] == "error"
    assert str(finding["message"]).endswith(f"names {not_python}, which oe-pyproc's plugin cannot use")


def test_a_malformed_default_home_file_is_not_called_missing(
    cli: Cli, gui_root: Path, tmp_path: Path
) -> None:
    (gui_root / "configs-api10" / "oe-pyproc.json").write_text("{not json")
    args = ("--gui-root", str(gui_root), "--check", "home.resolve")
    code, document = doctor_json(cli, *args, env=env_without_homes(tmp_path))
    message = str(by_id(document)["home.resolve"]["message"])
    assert code == 1 and "the default Home file is unusable (see Default Home file)" in message
    assert "there is no default Home file" not in message


def test_fix_asks_and_accepts_yes(numpy_home: Path, gui_root: Path) -> None:
    target = gui_root / "configs-api10" / "oe-pyproc.json"
    write_default_home(target, gui_root / "gone")
    args = ["doctor", "--python-home", str(numpy_home), "--gui-root", str(gui_root), "--fix"]
    result = CliRunner().invoke(main, args, input="y\n")
    assert "Apply these changes? [y/N]" in result.output
    record = read_default_home(target)
    assert record is not None and record.python_home == numpy_home


def test_fix_without_a_usable_home_changes_nothing(cli: Cli, gui_root: Path, tmp_path: Path) -> None:
    target = gui_root / "configs-api10" / "oe-pyproc.json"
    write_default_home(target, gui_root / "gone")
    before = target.read_bytes()
    result = cli("doctor", "--gui-root", str(gui_root), "--fix", "--yes", env=env_without_homes(tmp_path))
    assert "Nothing for --fix to do" in result.stdout
    assert target.read_bytes() == before


# --- GUI binary: architecture and macOS signature ------------------------------------------------------

X86_64, ARM64 = 0x01000007, 0x0100000C


def code_signature(entitlements: dict[str, object] | None, hardened: bool) -> bytes:
    """A SuperBlob with a CodeDirectory (flags) and, optionally, an entitlements plist (cs_blobs.h)."""
    directory = struct.pack(">IIII", 0xFADE0C02, 44, 0x20400, 0x10000 if hardened else 0) + bytes(28)
    blobs = [(0, directory)]
    if entitlements is not None:
        plist = plistlib.dumps(entitlements)
        blobs.append((5, struct.pack(">II", 0xFADE7171, 8 + len(plist)) + plist))
    header_size = 12 + 8 * len(blobs)
    index, body, offset = b"", b"", header_size
    for slot, blob in blobs:
        index += struct.pack(">II", slot, offset)
        body += blob
        offset += len(blob)
    return struct.pack(">III", 0xFADE0CC0, header_size + len(body), len(blobs)) + index + body


def macho_slice(cputype: int, signature: bytes | None) -> bytes:
    """A little-endian 64-bit Mach-O executable with one LC_CODE_SIGNATURE (or a no-op LC_UUID)."""
    if signature is None:
        command = struct.pack("<II", 0x1B, 24) + bytes(16)
        return struct.pack("<IiiIIIII", 0xFEEDFACF, cputype, 3, 2, 1, len(command), 0, 0) + command
    command = struct.pack("<IIII", 0x1D, 16, 64, len(signature))
    head = struct.pack("<IiiIIIII", 0xFEEDFACF, cputype, 3, 2, 1, len(command), 0, 0) + command
    return head + bytes(64 - len(head)) + signature


def fat(*slices: tuple[int, bytes]) -> bytes:
    header = struct.pack(">II", 0xCAFEBABE, len(slices))
    data, offset = b"", 4096
    for cputype, body in slices:
        header += struct.pack(">IIIII", cputype, 3, offset, len(body), 12)
        data += body + bytes(4096 - len(body) % 4096)
        offset += len(body) + 4096 - len(body) % 4096
    return header + bytes(4096 - len(header)) + data


def test_gui_arch_against_the_home(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    args = ("--python-home", str(numpy_home), "--gui-root", str(tmp_path / "g"), "--check", "gui.arch")
    _, document = doctor_json(cli, *args, "--gui-exe", sys.executable)
    assert by_id(document)["gui.arch"]["status"] == "ok"  # this machine's ELF x86_64 GUI stand-in
    arm = tmp_path / "open-ephys-arm64"
    arm.write_bytes(macho_slice(ARM64, None))
    code, document = doctor_json(cli, *args, "--gui-exe", str(arm))
    assert code == 1 and "the GUI is arm64 but the Home is x86_64" in str(
        by_id(document)["gui.arch"]["message"]
    )
    app = tmp_path / "open-ephys.app"
    (app / "Contents" / "MacOS").mkdir(parents=True)
    (app / "Contents" / "MacOS" / "open-ephys").write_bytes(
        fat((ARM64, macho_slice(ARM64, None)), (X86_64, macho_slice(X86_64, None)))
    )
    code, document = doctor_json(cli, *args, "--gui-exe", str(app))
    finding = by_id(document)["gui.arch"]
    assert code == 0 and "universal GUI (arm64, x86_64)" in str(finding["message"])
    assert any("Rosetta" in detail for detail in finding["details"])  # type: ignore[union-attr]
    missing = doctor_json(cli, *args, "--gui-exe", str(tmp_path / "nope"))
    assert missing[0] == 1


def test_entitlements_from_the_code_signature(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    allowed = {
        "com.apple.security.cs.disable-library-validation": True,
        "com.apple.security.device.audio-input": True,
    }
    gui = tmp_path / "open-ephys"
    gui.write_bytes(
        fat(
            (ARM64, macho_slice(ARM64, code_signature(allowed, True))),
            (X86_64, macho_slice(X86_64, code_signature({}, True))),
        )
    )
    slices = read_signatures(gui)
    assert [(s.arch, s.signed, s.hardened_runtime, s.library_validation_disabled) for s in slices] == [
        ("arm64", True, True, True),
        ("x86_64", True, True, False),
    ]
    args = ("--python-home", str(numpy_home), "--check", "gui.entitlements", "--gui-exe", str(gui))
    code, document = doctor_json(cli, *args)
    finding = by_id(document)["gui.entitlements"]
    assert code == 1 and finding["status"] == "error" and f"({gui}, x86_64)" in str(finding["message"])
    assert finding["remediation"] == {
        "text": finding["remediation"]["text"],  # type: ignore[index]
        "commands": [f"oe-pyproc macos allow-plugins --gui-exe {gui}"],
    }
    gui.write_bytes(macho_slice(ARM64, code_signature(allowed, True)))
    _, document = doctor_json(cli, *args)
    assert by_id(document)["gui.entitlements"]["status"] == "ok"
    gui.write_bytes(macho_slice(ARM64, None))
    _, document = doctor_json(cli, *args)
    finding = by_id(document)["gui.entitlements"]
    assert finding["status"] == "ok" and "not code-signed" in " ".join(finding["details"])  # type: ignore[arg-type]
    _, document = doctor_json(cli, "--check", "gui.entitlements", "--gui-exe", sys.executable)
    finding = by_id(document)["gui.entitlements"]
    assert finding["status"] == "skip"
    assert (
        finding["message"] == f"{sys.executable} is not a macOS executable: nothing to check"
    )  # it was given


def test_running_gui_is_a_warning_and_its_binary_is_checked(
    cli: Cli, numpy_home: Path, fake_gui_home: Path, fake_gui_process: subprocess.Popen[bytes]
) -> None:
    # The running "GUI" uses the saved-state root of its HOME; a GUI using another root is not reported.
    code, document = doctor_json(
        cli,
        "--python-home",
        str(numpy_home),
        "--gui-root",
        str(default_gui_root("Linux", home=fake_gui_home)),
        "--check",
        "gui.running",
        "--check",
        "gui.arch",
    )
    findings = by_id(document)
    assert findings["gui.running"]["status"] == "warn"
    assert f"pid {fake_gui_process.pid}" in " ".join(findings["gui.running"]["details"])  # type: ignore[arg-type]
    assert findings["gui.arch"]["status"] == "ok"
    assert f"running GUI (pid {fake_gui_process.pid})" in " ".join(findings["gui.arch"]["details"])  # type: ignore[arg-type]
    assert code == 0


def test_gui_root_that_is_a_file_is_one_clear_error(cli: Cli, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "settings.txt"
    not_a_folder.write_text("x")
    for extra in ((), ("--json",)):
        result = cli("doctor", "--gui-root", str(not_a_folder), *extra)
        assert result.returncode == 1
        assert result.stdout == ""
        assert (
            result.stderr.strip()
            == f"Error: --gui-root {not_a_folder} is a file; it must be the GUI's saved-state folder"
        )


def test_install_remediation_names_the_home_holding_the_plugin(cli: Cli, tmp_path: Path) -> None:
    """The quick start builds the plugin into its Home and runs oe-pyproc from the project's venv: a bare
    `oe-pyproc install` would look in that venv (no CONDA_PREFIX) and fail, so the doctor names the Home."""
    home = tmp_path / "quick start home"
    (home / "lib" / "oe-pyproc" / "plugins-api10" / "oe-pyproc").mkdir(parents=True)
    gui_root = tmp_path / "no gui"
    env = env_without_homes(tmp_path)
    _, document = doctor_json(cli, "--python-home", str(home), "--gui-root", str(gui_root), env=env)
    commands = by_id(document)["gui.folders"]["remediation"]["commands"]  # type: ignore[index]
    assert (
        commands[0]
        == f"oe-pyproc install --prefix {shlex.quote(str(home))} --gui-root {shlex.quote(str(gui_root))}"
    )

    plain = tmp_path / "plain home"
    plain.mkdir()
    _, document = doctor_json(cli, "--python-home", str(plain), "--gui-root", str(gui_root), env=env)
    commands = by_id(document)["gui.folders"]["remediation"]["commands"]  # type: ignore[index]
    assert commands[0] == f"oe-pyproc install --gui-root {shlex.quote(str(gui_root))}"
