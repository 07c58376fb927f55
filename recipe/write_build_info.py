"""Record how the `oe-pyproc` package was built (build.sh, bld.bat): share/oe-pyproc/build-info.json.

The adapter mode (pinned GUI tag, a local GUI checkout, or no adapter at all) is what a user needs to know
when the GUI does not list the plugin; it is also in the build string and in about.json's `extra`.
"""

import json
import os
import sys
from pathlib import Path


def main() -> int:
    target = Path(sys.argv[1])
    mode = os.environ["OE_PYPROC_ADAPTER_MODE"]
    info = {
        "schema": 1,
        "adapter_mode": mode,
        "adapter_built": mode != "without-adapter",
        "gui_tag": os.environ.get("OE_PYPROC_GUI_TAG", "") if mode == "gui-tag" else None,
        "gui_source": os.environ.get("OE_PYPROC_GUI_SOURCE_DIR") or None,
        "target_platform": os.environ.get("target_platform", ""),  # noqa: SIM112 (conda's lower-case name)
        "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".json.part")
    partial.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    partial.replace(target)
    print(f"oe-pyproc: build info: {json.dumps(info)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
