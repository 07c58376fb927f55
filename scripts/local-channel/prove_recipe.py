"""The offline proof of the recipe (DESIGN §6), end to end, with py-rattler-build and py-rattler:

1. assemble the local channel (build_channel.py): locally repackaged python, numpy, scipy, toolchain, ...;
2. lint the recipe (recipe/lint.py) and render it for linux-64, osx-64, osx-arm64 and win-64;
3. build both outputs for linux-64 against that channel, with the test strategy that runs the recipe's
   `tests:` (py-rattler-build's default, "skip", would not run them);
4. install the plugin package into a fresh prefix with py-rattler;
5. run `oe-pyproc doctor --python-home <prefix>` and the bandpass template through the installed host with
   that prefix as the Home (recipe/test_installed.py, the same checks the recipe's tests make).

Without --gui-source no adapter is built (no GUI headers offline): OE_PYPROC_WITHOUT_ADAPTER=1, which the
build log, the build string (`_noadapter_`) and about.json record. With --gui-source PATH (a configured
plugin-GUI 1.0.x checkout, never committed) the adapter is built through OE_PYPROC_GUI_SOURCE and a 6th step
runs `oe-pyproc install` from the installed prefix into a temporary GUI root, `doctor`, `uninstall`, and
compares the GUI root's tree before and after. Prints a table of the time each step took.

    python scripts/local-channel/prove_recipe.py --work build/recipe [--gui-source /path/to/plugin-GUI]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipe" / "recipe.yaml"
PLATFORMS = ("linux-64", "osx-64", "osx-arm64", "win-64")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "recipe"))


class ProofError(Exception):
    pass


def step_channel(work: Path) -> Path:
    import build_channel

    channel = work / "channel"
    written = build_channel.build_channel(channel, work / "wheels", build_channel.DEFAULT_PYTHON_PREFIX)
    for subdir in ("linux-64", "noarch"):
        repodata = json.loads((channel / subdir / "repodata.json").read_text())
        records = {**repodata.get("packages", {}), **repodata.get("packages.conda", {})}
        unlabelled = [name for name, record in records.items() if build_channel.LABEL not in record["build"]]
        if unlabelled:
            raise ProofError(
                f"packages in the local channel without the {build_channel.LABEL} label: {unlabelled}"
            )
    print(
        f"local channel: {len(written)} packages in {channel}, every build string says {build_channel.LABEL}"
    )
    return channel


def step_lint_and_render() -> None:
    import lint

    problems = lint.lint_file(RECIPE)
    for problem in problems:
        print(f"lint: {problem}")
    if any(p.level == "error" for p in problems):
        raise ProofError("the recipe lint found errors")
    for target, outputs in lint.render_all(RECIPE).items():
        print(f"render {target}: " + ", ".join(f"{name} {build}" for name, build in outputs))


def step_build(channel: Path, output: Path) -> list[Path]:
    from rattler_build import PlatformConfig, RenderConfig, Stage0Recipe, ToolConfiguration, VariantConfig

    if output.exists():
        shutil.rmtree(output)
    variants = VariantConfig.from_files(
        [str(RECIPE.parent / "variants.yaml"), str(channel / "variants-local.yaml")]
    )
    rendered = Stage0Recipe.from_file(str(RECIPE)).render(
        variants, RenderConfig(platform=PlatformConfig(target_platform="linux-64"))
    )
    # "native" runs every `tests:` entry of each output right after it is built; a failing test fails the
    # build. py-rattler-build's default, "skip", builds without running any.
    tools = ToolConfiguration(test_strategy="native", compression_threads=2)
    order = sorted(rendered, key=lambda v: v.recipe.package.name != "oe-pyproc-setup")
    packages: list[Path] = []
    for variant in order:
        started = time.monotonic()
        result = variant.run_build(
            tool_config=tools, output_dir=output, channels=[channel.as_uri()], no_build_id=True
        )
        ran_tests = [line for line in result.log if "test_installed" in line and "passed" in line]
        if not ran_tests:
            raise ProofError(f"{result.name}: the build log shows no passed test_installed run")
        print(
            f"built and tested {result.name} {result.version} {result.build_string} "
            f"in {time.monotonic() - started:.1f} s ({ran_tests[-1].strip()})"
        )
        packages += [Path(p) for p in result.packages]
    return packages


async def _install(channels: list[str], prefix: Path, specs: list[str]) -> list[str]:
    import rattler

    records = await rattler.solve(channels, specs, virtual_packages=rattler.VirtualPackage.detect())
    await rattler.install(records, prefix, show_progress=False)
    return [f"{r.name.normalized} {r.version} {r.build}" for r in records]


def step_install(channel: Path, output: Path, prefix: Path) -> None:
    if prefix.exists():
        shutil.rmtree(prefix)
    installed = asyncio.run(_install([output.as_uri(), channel.as_uri()], prefix, ["oe-pyproc"]))
    print(f"installed into {prefix}: " + ", ".join(sorted(installed)))


def step_use(prefix: Path) -> None:
    env = dict(os.environ, PATH=f"{prefix / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    doctor = subprocess.run(
        [
            str(prefix / "bin" / "oe-pyproc"),
            "doctor",
            "--python-home",
            str(prefix),
            "--gui-root",
            str(prefix / "no-gui"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    print(doctor.stdout.rstrip())
    if doctor.returncode != 0:
        raise ProofError(
            f"oe-pyproc doctor --python-home {prefix} exited {doctor.returncode}:\n{doctor.stderr}"
        )
    check = subprocess.run(
        [str(prefix / "bin" / "python"), str(ROOT / "recipe" / "test_installed.py"), "plugin"],
        capture_output=True,
        text=True,
        env=env,
    )
    print(check.stdout.rstrip())
    if check.returncode != 0:
        raise ProofError(f"the installed plugin failed its checks:\n{check.stdout}\n{check.stderr}")
    build_info = json.loads((prefix / "share" / "oe-pyproc" / "build-info.json").read_text())
    print(f"build info recorded in the package: {build_info}")


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def step_gui_round_trip(prefix: Path, scratch: Path) -> None:
    adapter = prefix / "lib" / "oe-pyproc" / "plugins-api10" / "oe-pyproc" / "python-processor.so"
    if not adapter.is_file():
        raise ProofError(f"the package has no adapter: {adapter}")
    needed = subprocess.run(["readelf", "-d", str(adapter)], capture_output=True, text=True).stdout
    if "libpython" in needed:
        raise ProofError(f"{adapter} is linked to libpython (DESIGN §4 forbids it)")
    root = scratch / "gui-root"
    if root.exists():
        shutil.rmtree(root)
    (root / "configs-api10").mkdir(parents=True)
    (root / "configs-api10" / "windowState.xml").write_text('<MAINWINDOW shouldReloadOnStartup="1"/>\n')
    before = _tree(root)
    cli = str(prefix / "bin" / "oe-pyproc")
    for args in (
        ["install", "--prefix", str(prefix), "--gui-root", str(root)],
        ["doctor", "--gui-root", str(root), "--python-home", str(prefix)],
        ["uninstall", "--gui-root", str(root)],
    ):
        result = subprocess.run([cli, *args], capture_output=True, text=True)
        print(f"$ oe-pyproc {' '.join(args)}  -> exit {result.returncode}\n{result.stdout.rstrip()}")
        if result.returncode != 0:
            raise ProofError(f"oe-pyproc {args[0]} exited {result.returncode}:\n{result.stderr}")
        if args[0] == "install":
            installed = sorted((root / "plugins-api10" / "oe-pyproc").iterdir())
            print("installed in the GUI root: " + ", ".join(p.name for p in installed))
    if _tree(root) != before:
        raise ProofError("install + doctor + uninstall did not leave the GUI root as it was")
    print("the GUI root is byte for byte as before install")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Offline proof of the oe-pyproc recipe.")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "recipe")
    parser.add_argument(
        "--gui-source", type=Path, help="a configured plugin-GUI checkout: build the adapter too"
    )
    args = parser.parse_args(argv)
    work: Path = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    if args.gui_source:
        os.environ["OE_PYPROC_GUI_SOURCE"] = str(args.gui_source.resolve())
        os.environ.pop("OE_PYPROC_WITHOUT_ADAPTER", None)
    else:
        os.environ["OE_PYPROC_WITHOUT_ADAPTER"] = "1"
        os.environ.pop("OE_PYPROC_GUI_SOURCE", None)
    timings: list[tuple[str, float]] = []

    def timed(name: str, action):  # type: ignore[no-untyped-def]
        started = time.monotonic()
        print(f"--- {name}")
        value = action()
        timings.append((name, time.monotonic() - started))
        return value

    try:
        channel = timed("local channel", lambda: step_channel(work))
        timed("lint + render x4", step_lint_and_render)
        timed("build + test (linux-64)", lambda: step_build(channel, work / "output"))
        timed("install (py-rattler)", lambda: step_install(channel, work / "output", work / "prefix"))
        timed("doctor + host (installed)", lambda: step_use(work / "prefix"))
        if args.gui_source:
            timed("install/doctor/uninstall (GUI root)", lambda: step_gui_round_trip(work / "prefix", work))
    except ProofError as error:
        print(f"prove_recipe: FAILED: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # a py-rattler(-build) error: its message is the useful part
        print(f"prove_recipe: FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    total = sum(seconds for _, seconds in timings)
    print("\n| step | seconds | share |\n|---|---:|---:|")
    for name, seconds in timings:
        print(f"| {name} | {seconds:.1f} | {seconds / total:.0%} |")
    print(f"| total | {total:.1f} | 100% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
