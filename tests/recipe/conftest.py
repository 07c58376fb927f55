"""Fixtures for the recipe tests: the recipe, its lint module (loaded by path) and a renderer.

These tests need py-rattler-build and PyYAML (installed by .ci/parts/40-recipe.sh); a missing one fails
the tests with the command that installs it, it never skips them."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "recipe" / "recipe.yaml"
PLATFORMS = ("linux-64", "osx-64", "osx-arm64", "win-64")
BUILD_PLATFORM = {"osx-arm64": "osx-64"}


def _require(module: str, package: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.fail(
            f"{package} is needed: `python -m pip install {package}` (or run bash .ci/parts/40-recipe.sh)"
        )


@pytest.fixture(scope="session")
def recipe_path() -> Path:
    return RECIPE


@pytest.fixture(scope="session")
def lint() -> ModuleType:
    _require("yaml", "pyyaml")
    spec = importlib.util.spec_from_file_location("oe_pyproc_recipe_lint", RECIPE.parent / "lint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def render() -> Callable[..., list[Any]]:
    """render(recipe_file, target, variant_files=None) -> rattler-build's rendered variants."""
    _require("rattler_build", "py-rattler-build")
    from rattler_build import JinjaConfig, PlatformConfig, RenderConfig, Stage0Recipe, VariantConfig

    def run(recipe_file: Path, target: str, variant_files: list[Path] | None = None) -> list[Any]:
        files = variant_files or [RECIPE.parent / "conda-forge-like.yaml", RECIPE.parent / "variants.yaml"]
        platform = PlatformConfig(target_platform=target, build_platform=BUILD_PLATFORM.get(target, target))
        variants = VariantConfig.from_files_with_context(
            [str(f) for f in files], JinjaConfig(platform=platform)
        )
        return list(
            Stage0Recipe.from_file(str(recipe_file)).render(variants, RenderConfig(platform=platform))
        )

    return run
