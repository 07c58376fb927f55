"""The recipe parses and renders for linux-64, osx-64, osx-arm64 and win-64 (conda-forge-like pinning), with
the requirements DESIGN §6 asks for; the offline switches change the build string and drop the GUI source."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PLATFORMS = ("linux-64", "osx-64", "osx-arm64", "win-64")
COMPILER = {
    "linux-64": "gxx_linux-64",
    "osx-64": "clangxx_osx-64",
    "osx-arm64": "clangxx_osx-arm64",
    "win-64": "vs2022_win-64",
}
STDLIB = {
    "linux-64": "sysroot_linux-64 2.17.*",
    "osx-64": "macosx_deployment_target_osx-64 10.13.*",
    "osx-arm64": "macosx_deployment_target_osx-arm64 11.0.*",
    "win-64": "vs_win-64 2022.*",
}


def outputs(render: Callable[..., list[Any]], recipe_path: Path, target: str) -> dict[str, Any]:
    return {variant.recipe.package.name: variant.recipe for variant in render(recipe_path, target)}


@pytest.mark.parametrize("target", PLATFORMS)
def test_renders_both_outputs(render: Callable[..., list[Any]], recipe_path: Path, target: str) -> None:
    rendered = outputs(render, recipe_path, target)
    assert set(rendered) == {"oe-pyproc", "oe-pyproc-setup"}

    plugin = rendered["oe-pyproc"]
    build = [str(r) for r in plugin.requirements.build]
    assert COMPILER[target] in build and STDLIB[target] in build
    assert "cmake" in build and "ninja" in build
    assert ("cross-python_osx-arm64" in build) == (target == "osx-arm64")
    assert [str(r) for r in plugin.requirements.host] == ["python", "numpy"]  # nothing pinned
    run = [str(r) for r in plugin.requirements.run]
    assert run[:3] == ["python", "numpy", "scipy"] and "oe-pyproc-setup" in run[3]
    assert str(plugin.build.string).startswith("py310h") and "_gui_" in str(plugin.build.string)
    assert plugin.about.license == "GPL-3.0-or-later"

    setup = rendered["oe-pyproc-setup"]
    assert str(setup.build.noarch) in ("python", "NoArchType.python") or "python" in str(setup.build.noarch)
    assert [str(r) for r in setup.requirements.build] == []


def test_python_comes_from_the_variants_file(render: Callable[..., list[Any]], recipe_path: Path) -> None:
    [plugin] = [v for v in render(recipe_path, "linux-64") if v.recipe.package.name == "oe-pyproc"]
    assert plugin.variant["python"] == "3.10"


def test_without_adapter_switch(
    render: Callable[..., list[Any]], recipe_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OE_PYPROC_WITHOUT_ADAPTER", "1")
    plugin = outputs(render, recipe_path, "linux-64")["oe-pyproc"]
    assert "_noadapter_" in str(plugin.build.string)
    assert not [s for s in plugin.sources if "url" in str(s.to_dict() if hasattr(s, "to_dict") else s)]
    assert plugin.context["adapter_mode"] == "without-adapter"


def test_local_gui_source_switch(
    render: Callable[..., list[Any]], recipe_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OE_PYPROC_GUI_SOURCE", str(tmp_path))
    plugin = outputs(render, recipe_path, "linux-64")["oe-pyproc"]
    assert "_localgui_" in str(plugin.build.string)
    assert plugin.context["adapter_mode"] == "local-gui-source"


def test_default_takes_the_pinned_gui_tag(render: Callable[..., list[Any]], recipe_path: Path) -> None:
    plugin = outputs(render, recipe_path, "linux-64")["oe-pyproc"]
    urls = [str(s.to_dict() if hasattr(s, "to_dict") else s) for s in plugin.sources]
    pinned = [u for u in urls if "open-ephys/plugin-GUI.git" in u]
    assert pinned and "7d8c513ae643d2d5cd37a7f95558343c8422873e" in pinned[0], urls


@pytest.mark.parametrize("target", PLATFORMS)
def test_every_output_has_tests_that_run_the_installed_files(
    render: Callable[..., list[Any]], recipe_path: Path, target: str
) -> None:
    rendered = outputs(render, recipe_path, target)
    plugin_tests = rendered["oe-pyproc"].to_dict()["tests"]
    [contents] = [t["package_contents"] for t in plugin_tests if "package_contents" in t]
    host = "bin/oe-pyproc-host.exe" if target == "win-64" else "bin/oe-pyproc-host"
    assert host in contents["files"]
    assert "lib/oe-pyproc/plugins-api10/oe-pyproc/oe-pyproc-plugin.json" in contents["files"]
    for name, mode in (("oe-pyproc", "plugin"), ("oe-pyproc-setup", "setup")):
        scripts = [t for t in rendered[name].to_dict()["tests"] if "script" in t]
        assert any(f"test_installed.py {mode}" in str(t["script"]) for t in scripts), scripts
