"""py-rattler-build's default test strategy is "skip": a package whose test fails still builds. The proof
(scripts/local-channel/prove_recipe.py) therefore sets "native"; this shows both behaviours on a tiny
noarch package built offline against an empty local channel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

RECIPE = """\
schema_version: 1
package:
  name: strategy-probe
  version: "1.0"
build:
  number: 0
  noarch: generic
  script:
    - mkdir -p $PREFIX/share/strategy-probe && echo built > $PREFIX/share/strategy-probe/marker.txt
tests:
  - script:
      - test -f $PREFIX/share/strategy-probe/marker.txt
      - echo "the probe's test ran" && exit 3
about:
  license: MIT
  summary: a package whose test always fails
"""


@pytest.fixture
def empty_channel(tmp_path: Path) -> Path:
    import rattler

    channel = tmp_path / "channel"
    (channel / "noarch").mkdir(parents=True)
    (channel / "linux-64").mkdir()
    asyncio.run(rattler.index.index_fs(channel, write_zst=False, write_shards=False))
    return channel


def build(tmp_path: Path, channel: Path, strategy: str | None) -> list[Path]:
    from rattler_build import Stage0Recipe, ToolConfiguration

    recipe_dir = tmp_path / f"recipe-{strategy}"
    recipe_dir.mkdir()
    (recipe_dir / "recipe.yaml").write_text(RECIPE)
    tools = ToolConfiguration() if strategy is None else ToolConfiguration(test_strategy=strategy)  # type: ignore[arg-type]
    results = Stage0Recipe.from_file(str(recipe_dir / "recipe.yaml")).run_build(
        tool_config=tools,
        output_dir=tmp_path / f"out-{strategy}",
        channels=[channel.as_uri()],
        no_build_id=True,
    )
    return [Path(p) for r in results for p in r.packages]


def test_default_strategy_does_not_run_tests(tmp_path: Path, empty_channel: Path) -> None:
    packages = build(tmp_path, empty_channel, None)
    assert len(packages) == 1 and packages[0].name.startswith("strategy-probe-1.0-")


def test_native_strategy_runs_tests_and_fails_the_build(tmp_path: Path, empty_channel: Path) -> None:
    with pytest.raises(Exception, match=r"Test failed"):
        build(tmp_path, empty_channel, "native")
