"""P4 (DESIGN §8): the bandpass template's process() against a bare `scipy.signal.sosfilt` with `zi`.

Both run on the same 384-channel, 697-sample float32 blocks (a 30 kHz Neuropixels stream at the GUI's
default callback size). The floor is the bare call on the same data with its state carried, measured in
the same run; the template also writes the result back into the block in place. The block-wise output is
checked against filtering the whole signal in one call before anything is timed.

    .venv/bin/python benchmarks/bandpass_speed.py [--blocks N] [--repeats N]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from scipy import signal

TARGET_RATIO = 1.1
CHANNELS, BLOCK, RATE = 384, 697, 30000.0
TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "bandpass.py"


def load_template() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bandpass_template", TEMPLATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    module = load_template()
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((CHANNELS, BLOCK * args.blocks)) * 50).astype(np.float32)
    blocks = [np.ascontiguousarray(data[:, i * BLOCK : (i + 1) * BLOCK]) for i in range(args.blocks)]

    # Correctness first: block-wise through the template equals one whole-signal call.
    instance = module.PyProcessor(None, CHANNELS, RATE)
    out = np.concatenate([_processed(instance, block) for block in blocks], axis=1)
    whole, _ = signal.sosfilt(instance.sos, data, axis=-1, zi=np.zeros((instance.sos.shape[0], CHANNELS, 2)))
    np.testing.assert_allclose(out, whole.astype(np.float32), rtol=1e-6, atol=1e-4)

    sos = instance.sos

    def bare(work: list[np.ndarray]) -> None:
        zi = np.zeros((sos.shape[0], CHANNELS, 2))
        for block in work:
            _, zi = signal.sosfilt(sos, block, axis=-1, zi=zi)

    def template(work: list[np.ndarray]) -> None:
        processor = module.PyProcessor(None, CHANNELS, RATE)
        for block in work:
            processor.process(block)

    floor = _best_per_block(bare, blocks, args.repeats)
    measured = _best_per_block(template, blocks, args.repeats)
    print(f"{CHANNELS} channels x {BLOCK} samples per block, {args.blocks} blocks; best of {args.repeats}")
    print(f"{'case':<38} {'ms/block':>9} {'x floor':>8}")
    print(f"{'bare sosfilt with zi (floor)':<38} {floor * 1e3:>9.3f} {1.0:>8.2f}")
    print(f"{'bandpass template process()':<38} {measured * 1e3:>9.3f} {measured / floor:>8.2f}")
    budget = BLOCK / RATE
    verdict = "meets" if measured / floor <= TARGET_RATIO else "MISSES"
    print(f"P4 target <= {TARGET_RATIO}x: {verdict}; real-time budget per block {budget * 1e3:.2f} ms")
    sys.stdout.flush()


def _processed(instance: Any, block: np.ndarray) -> np.ndarray:
    copy: np.ndarray = block.copy()
    instance.process(copy)
    return copy


def _best_per_block(
    function: Callable[[list[np.ndarray]], None], blocks: list[np.ndarray], repeats: int
) -> float:
    """Fastest of `repeats` passes over fresh copies of the blocks, per block."""
    times = []
    for _ in range(repeats):
        work = [block.copy() for block in blocks]
        start = time.perf_counter()
        function(work)
        times.append(time.perf_counter() - start)
    return min(times) / len(blocks)


if __name__ == "__main__":
    main()
