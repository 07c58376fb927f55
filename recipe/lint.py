"""Lint for what rattler-build's recipe parser accepts silently, plus a render of the recipe for 4 platforms.

    python recipe/lint.py [recipe/recipe.yaml] [--render]

Reported (error unless said otherwise):
- comment selectors (`# [win]`, v0 syntax): in a v1 recipe they are plain comments, so the line they were
  meant to limit applies everywhere;
- an output (or the recipe) using `compiler(...)` without `stdlib('c')`;
- python pinned in `host` of an output that is not `noarch: python` (the variants file chooses it);
- `about` without license, license_file, summary or description (top level and output merged);
- an output without `tests`;
- a `url` source without `sha256`, and (warning) one whose sha256 is the all-zero placeholder;
- a `git` source not pinned to a full commit id (`rev` of 40 hex digits) or a `tag`;
- post-link / pre-unlink scripts (anything outside the prefix is `oe-pyproc install`'s job).
Exit status: 1 when there are errors, else 0.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RECIPE = Path(__file__).resolve().parent / "recipe.yaml"
REQUIRED_ABOUT = ("license", "license_file", "summary", "description")
COMMENT_SELECTOR = re.compile(r"#\s*\[[^\]]*\]\s*$")
PYTHON_PIN = re.compile(r"^\s*python(\s+\S|\s*[<>=!~])")
PLACEHOLDER_SHA = "0" * 64
GIT_COMMIT = re.compile(r"[0-9a-f]{40}")
LINK_SCRIPTS = (
    "post-link.sh",
    "post-link.bat",
    "pre-unlink.sh",
    "pre-unlink.bat",
    "pre-link.sh",
    "pre-link.bat",
)
PLATFORMS = ("linux-64", "osx-64", "osx-arm64", "win-64")
# conda-forge cross-compiles osx-arm64 on osx-64.
BUILD_PLATFORM = {"osx-arm64": "osx-64"}


@dataclass(frozen=True)
class Problem:
    level: str  # "error" | "warning"
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}"


def _branches(items: Any) -> Iterator[Any]:
    """The entries of a v1 list, with `if/then/else` items expanded into both branches."""
    if not isinstance(items, list):
        return
    for item in items:
        if isinstance(item, dict) and "if" in item:
            for key in ("then", "else"):
                branch = item.get(key)
                if isinstance(branch, list):
                    yield from _branches(branch)
                elif branch is not None:
                    yield branch
        else:
            yield item


def _text(items: Any) -> list[str]:
    return [str(item) for item in _branches(items)]


def _resolve(value: str, context: dict[str, Any]) -> str:
    """`${{ name }}` replaced by the context's plain value of `name` (expressions are left as they are)."""

    def lookup(match: re.Match[str]) -> str:
        replacement = context.get(match.group(1))
        return str(replacement) if isinstance(replacement, (str, int, float)) else match.group(0)

    return re.sub(r"\$\{\{\s*(\w+)\s*\}\}", lookup, value)


def lint_data(recipe: dict[str, Any], text: str, recipe_dir: Path | None = None) -> list[Problem]:
    problems: list[Problem] = []
    context = recipe.get("context") or {}
    for number, line in enumerate(text.splitlines(), start=1):
        if COMMENT_SELECTOR.search(line):
            problems.append(
                Problem(
                    "error", f"line {number}", f"comment selector {line.strip()!r}: v1 ignores it; use `if:`"
                )
            )

    sources = recipe.get("source")
    for source in _branches(sources if isinstance(sources, list) else [sources] if sources else []):
        if isinstance(source, dict) and "url" in source:
            sha = _resolve(str(source.get("sha256", "")), context)
            if not sha:
                problems.append(Problem("error", "source", f"url {source['url']} has no sha256"))
            elif sha == PLACEHOLDER_SHA:
                problems.append(
                    Problem("warning", "source", f"url {source['url']}: sha256 is the all-zero placeholder")
                )
        if isinstance(source, dict) and "git" in source:
            rev = _resolve(str(source.get("rev", "")), context)
            if not (GIT_COMMIT.fullmatch(rev) or source.get("tag")):
                problems.append(
                    Problem(
                        "error",
                        "source",
                        f"git {source['git']} is not pinned: give a full commit `rev` or a `tag`",
                    )
                )

    top_about = recipe.get("about") or {}
    top_requirements = recipe.get("requirements") or {}
    outputs = recipe.get("outputs") or [recipe]
    for output in outputs:
        if not isinstance(output, dict):
            continue
        name = str((output.get("package") or recipe.get("package") or {}).get("name", "?"))
        where = f"output {name}"
        requirements = output.get("requirements") or top_requirements
        build_requirements = _text(requirements.get("build"))
        if any("compiler(" in r for r in build_requirements) and not any(
            "stdlib(" in r for r in build_requirements
        ):
            problems.append(Problem("error", where, "uses compiler(...) without ${{ stdlib('c') }} in build"))
        noarch = str(
            (output.get("build") or {}).get("noarch") or (recipe.get("build") or {}).get("noarch") or ""
        )
        if noarch != "python":
            for requirement in _text(requirements.get("host")):
                if PYTHON_PIN.match(requirement):
                    problems.append(
                        Problem(
                            "error",
                            where,
                            f"python pinned in host ({requirement!r}): the variants file chooses it",
                        )
                    )
        about = {**top_about, **(output.get("about") or {})}
        missing = [key for key in REQUIRED_ABOUT if not about.get(key)]
        if missing:
            problems.append(Problem("error", where, f"about lacks {', '.join(missing)}"))
        if not output.get("tests") and not recipe.get("tests"):
            problems.append(Problem("error", where, "no tests"))
        script = (output.get("build") or {}).get("script")
        if isinstance(script, dict) and any(k in script for k in ("post_link", "pre_unlink")):
            problems.append(Problem("error", where, "link scripts: use `oe-pyproc install` instead"))

    if recipe_dir is not None:
        for name in LINK_SCRIPTS:
            if (recipe_dir / name).exists():
                problems.append(Problem("error", name, "link scripts are not allowed (DESIGN §6)"))
    return problems


def lint_file(path: Path) -> list[Problem]:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return [Problem("error", str(path), f"not valid YAML: {error}")]
    if not isinstance(data, dict):
        return [Problem("error", str(path), "not a recipe (a YAML mapping was expected)")]
    return lint_data(data, text, path.parent)


def render_all(path: Path, variant_files: list[Path] | None = None) -> dict[str, list[tuple[str, str]]]:
    """Parse and render the recipe for the 4 platforms with conda-forge-like pinning (recipe's variants
    last); {platform: [(output name, build string)]}. Raises the parser's error when a render fails."""
    from rattler_build import JinjaConfig, PlatformConfig, RenderConfig, Stage0Recipe, VariantConfig

    files = variant_files or [path.parent / "conda-forge-like.yaml", path.parent / "variants.yaml"]
    recipe = Stage0Recipe.from_file(str(path))
    rendered: dict[str, list[tuple[str, str]]] = {}
    for target in PLATFORMS:
        platform = PlatformConfig(target_platform=target, build_platform=BUILD_PLATFORM.get(target, target))
        variants = VariantConfig.from_files_with_context(
            [str(f) for f in files], JinjaConfig(platform=platform)
        )
        outputs = recipe.render(variants, RenderConfig(platform=platform))
        rendered[target] = [(v.recipe.package.name, str(v.recipe.build.string)) for v in outputs]
    return rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("recipe", nargs="?", type=Path, default=RECIPE)
    parser.add_argument("--render", action="store_true", help="also render for " + ", ".join(PLATFORMS))
    args = parser.parse_args(argv)
    if not args.recipe.is_file():
        print(f"lint: {args.recipe} is not a file", file=sys.stderr)
        return 2
    problems = lint_file(args.recipe)
    for problem in problems:
        print(problem)
    errors = sum(p.level == "error" for p in problems)
    print(f"lint: {errors} errors, {len(problems) - errors} warnings")
    if args.render:
        for target, outputs in render_all(args.recipe).items():
            print(f"render {target}: " + ", ".join(f"{name} {build}" for name, build in outputs))
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
