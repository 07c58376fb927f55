"""Sibling helper of the corpus scripts: appends what a script observed to the run's record file.

The differential test gives the host and the reference runner each their own file (OE_DIFF_RECORD) and
compares them line for line.
"""

import json
import os


def record(*values):
    path = os.environ.get("OE_DIFF_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(values, ensure_ascii=False) + "\n")
