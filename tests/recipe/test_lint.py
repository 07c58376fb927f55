"""recipe/lint.py catches what rattler-build's parser accepts silently: each defect below renders without a
word from rattler-build, and the lint reports it. The real recipe has no lint error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SHA = "a" * 64
BASE = f"""\
schema_version: 1
package:
  name: demo
  version: "1.0"
source:
  - url: https://example.invalid/demo-1.0.tar.gz
    sha256: {SHA}
build:
  number: 0
requirements:
  build:
    - ${{{{ compiler('cxx') }}}}
    - ${{{{ stdlib('c') }}}}
    - cmake
  host:
    - python
tests:
  - script:
      - echo ok
about:
  license: MIT
  license_file: LICENSE
  summary: a demo
  description: a demo package
"""

DEFECTS = {
    "comment selector": (BASE.replace("    - cmake\n", "    - cmake  # [win]\n"), "comment selector"),
    "missing stdlib": (BASE.replace("    - ${{ stdlib('c') }}\n", ""), "without ${{ stdlib('c') }}"),
    "python pinned in host": (
        BASE.replace("    - python\n", "    - python 3.10.*\n"),
        "python pinned in host",
    ),
    "python bounded in host": (
        BASE.replace("    - python\n", "    - python >=3.10\n"),
        "python pinned in host",
    ),
    "missing summary": (BASE.replace("  summary: a demo\n", ""), "about lacks summary"),
    "missing license_file": (BASE.replace("  license_file: LICENSE\n", ""), "about lacks license_file"),
    "missing tests": (BASE.replace("tests:\n  - script:\n      - echo ok\n", ""), "no tests"),
    "url without sha256": (BASE.replace(f"    sha256: {SHA}\n", ""), "has no sha256"),
    "git source on a branch": (
        BASE.replace(
            f"  - url: https://example.invalid/demo-1.0.tar.gz\n    sha256: {SHA}\n",
            "  - git: https://example.invalid/demo.git\n    branch: main\n",
        ),
        "is not pinned",
    ),
    "git source with a short rev": (
        BASE.replace(
            f"  - url: https://example.invalid/demo-1.0.tar.gz\n    sha256: {SHA}\n",
            "  - git: https://example.invalid/demo.git\n    rev: 7d8c513\n",
        ),
        "is not pinned",
    ),
}
VARIANTS = (
    "c_stdlib:\n  - sysroot\nc_stdlib_version:\n  - '2.17'\ncxx_compiler:\n  - gxx\npython:\n  - '3.10'\n"
)


def test_the_recipe_has_no_lint_errors(lint: ModuleType, recipe_path: Path) -> None:
    problems = lint.lint_file(recipe_path)
    assert problems == []


def test_the_base_demo_is_clean(lint: ModuleType, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(BASE)
    assert lint.lint_file(recipe) == []


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_defect_rendered_silently_but_linted(
    lint: ModuleType, render: Callable[..., list[Any]], tmp_path: Path, defect: str
) -> None:
    text, expected = DEFECTS[defect]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    variants = tmp_path / "variants.yaml"
    variants.write_text(VARIANTS)
    # rattler-build takes it without complaint ...
    assert len(render(recipe, "linux-64", [variants])) == 1
    # ... and the lint does not.
    messages = [str(p) for p in lint.lint_file(recipe) if p.level == "error"]
    assert any(expected in m for m in messages), messages


def test_conditional_sources_and_requirements_are_linted(lint: ModuleType, tmp_path: Path) -> None:
    text = BASE.replace(
        f"  - url: https://example.invalid/demo-1.0.tar.gz\n    sha256: {SHA}\n",
        "  - if: win\n    then:\n      url: https://example.invalid/demo-win.zip\n",
    ).replace("    - python\n", "    - if: unix\n      then:\n        - python 3.10\n")
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    messages = [str(p) for p in lint.lint_file(recipe)]
    assert any("demo-win.zip has no sha256" in m for m in messages), messages
    assert any("python pinned in host" in m for m in messages), messages


def test_noarch_python_output_may_bound_python(lint: ModuleType, tmp_path: Path) -> None:
    text = BASE.replace("build:\n  number: 0\n", "build:\n  number: 0\n  noarch: python\n").replace(
        "    - python\n", "    - python ${{ python_min }}\n"
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text)
    assert not [p for p in lint.lint_file(recipe) if "python pinned" in p.message]


def test_link_scripts_are_refused(lint: ModuleType, tmp_path: Path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(BASE)
    (tmp_path / "post-link.sh").write_text("echo hi\n")
    assert any("link scripts" in p.message for p in lint.lint_file(recipe))


def test_lint_command_exit_status(
    lint: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(DEFECTS["missing tests"][0])
    assert lint.main([str(recipe)]) == 1
    assert "no tests" in capsys.readouterr().out
    recipe.write_text(BASE)
    assert lint.main([str(recipe)]) == 0
    assert lint.main([str(tmp_path / "missing.yaml")]) == 2
