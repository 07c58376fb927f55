"""Writes the input both hosts read in 24-windows: a seeded float32 stream and an event file.

Usage: make_input.py FOLDER — writes FOLDER/input.f32 (16 channels, channel-major chunks of 1024 samples,
noise plus bursts that cross ttl_threshold's level) and FOLDER/events.txt (TTL edges and spikes). A file
input keeps the platforms' libm (sin, the synthetic source's) out of the comparison.
"""

import sys
from pathlib import Path

import numpy as np

CHANNELS, SAMPLES, CHUNK = 16, 41_820, 1024


def main(folder: str) -> None:
    rng = np.random.default_rng(7)
    data = rng.normal(0.0, 10.0, (CHANNELS, SAMPLES)).astype(np.float32)
    for start in range(2_000, SAMPLES, 6_000):
        data[:, start : start + 300] += np.float32(400.0)
    chunks = [data[:, start : start + CHUNK].tobytes() for start in range(0, SAMPLES, CHUNK)]
    Path(folder, "input.f32").write_bytes(b"".join(chunks))
    lines = []
    for number, sample in enumerate(range(1_500, SAMPLES, 2_500)):
        lines.append(f"{sample} {number % 2} {1 - (number // 2) % 2}")
        values = " ".join(str(v) for v in rng.normal(0, 30, 2 * 3).round(2))
        lines.append(f'spike {sample + 7} 104 "Stereotrode 1" 2 3 0 {values}')
    Path(folder, "events.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
