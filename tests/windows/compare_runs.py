"""Compares a Windows host run with a Linux host run of the same script and input.

Usage: compare_runs.py LINUX_PREFIX WINDOWS_PREFIX — each prefix names PREFIX.f32 (the processed stream) and
PREFIX.json (the host's report). Equal means: the same bytes of output, and per instance the same emitted
events, error count and processed/bypassed block counts. Exit 1 with the first difference otherwise.
"""

import json
import sys
from pathlib import Path


def instance_facts(report: dict) -> list[dict]:
    keys = (
        "faulted",
        "blocks_processed",
        "blocks_bypassed",
        "error_count",
        "events_emitted_count",
        "events_emitted",
    )
    return [{key: instance.get(key) for key in keys} for instance in report["instances"]]


def main(linux_prefix: str, windows_prefix: str) -> int:
    for prefix in (linux_prefix, windows_prefix):
        missing = [prefix + suffix for suffix in (".json", ".f32") if not Path(prefix + suffix).is_file()]
        if missing:
            print(f"no {' and no '.join(missing)}: that host did not run to the end (its log says why)")
            return 1
    linux_report = json.loads(Path(linux_prefix + ".json").read_text(encoding="utf-8"))
    windows_report = json.loads(Path(windows_prefix + ".json").read_text(encoding="utf-8"))
    linux_stream = Path(linux_prefix + ".f32").read_bytes()
    windows_stream = Path(windows_prefix + ".f32").read_bytes()
    if not linux_stream:
        print(f"{linux_prefix}.f32 is empty: nothing was compared")
        return 1
    if linux_stream != windows_stream:
        first = next((i for i, (a, b) in enumerate(zip(linux_stream, windows_stream)) if a != b), None)
        print(
            f"streams differ: {len(linux_stream)} vs {len(windows_stream)} bytes, first difference at {first}"
        )
        return 1
    linux_facts, windows_facts = instance_facts(linux_report), instance_facts(windows_report)
    if linux_report["ok"] != windows_report["ok"] or linux_facts != windows_facts:
        print(f"reports differ:\n linux   {linux_facts}\n windows {windows_facts}")
        return 1
    events = sum(len(facts["events_emitted"] or []) for facts in instance_facts(linux_report))
    print(f"equal: {len(linux_stream) // 4} samples, {events} events, ok={linux_report['ok']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
