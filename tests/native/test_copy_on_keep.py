"""Copy-on-keep (issue 9 item 1, DESIGN §3): whatever a script keeps of `data` holds the values of the block
it came from, on the staging path (the GUI's layout) and with contiguous rows (the zero-copy view path),
through reloads and instance removal, without leaking the handed-over blocks.

The scripts check themselves against the input's formula (channel c, sample s holds c * 100000 + s) and
write what they found to a JSON file the test reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from native_helpers import read_channel_major, run_host, write_channel_major, write_script

CHANNELS = 4
BLOCK = 697


STREAM = ["--channels", str(CHANNELS), "--chunk", str(BLOCK), "--block-size", str(BLOCK)]


def write_input(path: Path, blocks: int) -> int:
    samples = BLOCK * blocks
    write_channel_major(path, CHANNELS, samples, BLOCK, lambda c, s: float(c * 100000 + s))
    return samples


# Every keeping idiom of issue 9, each from the first block on. `data += 1` first: what is kept are the
# block's values as the script left them, as with upstream's fresh array per block.
ALL_IDIOMS = """
import collections
import json

import numpy as np

RESULT = {result!r}


def expected(channels, start, count):
    rows = np.arange(channels, dtype=np.float64)[:, None] * 100000
    return (rows + start + np.arange(count)[None, :] + 1).astype(np.float32)


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.channels = num_channels
        self.offset = 0
        self.spans = []
        self.arrays, self.rows, self.slices, self.closures = [], [], [], []
        self.recent = collections.deque(maxlen=5)
        self.by_block = {{}}
        self.previous = None
        self.previous_checked = 0
        self.previous_wrong = 0

    def process(self, data):
        data += 1
        if self.previous is not None:  # "keep the previous block": still that block's values now
            self.previous_checked += 1
            if not np.array_equal(self.previous, expected(self.channels, *self.spans[-1])):
                self.previous_wrong += 1
        index = len(self.spans)
        self.spans.append((self.offset, data.shape[1]))
        self.offset += data.shape[1]
        self.arrays.append(data)
        self.rows.append(data[1])
        self.slices.append(data[:, 3:40])
        self.recent.append((index, data[0, ::2]))
        self.by_block[index] = data.T
        def kept_row():
            return data[2]
        self.closures.append(kept_row)
        self.previous = data

    def stop_acquisition(self):
        wrong = collections.Counter()
        for index, (start, count) in enumerate(self.spans):
            block = expected(self.channels, start, count)
            wrong["array"] += not np.array_equal(self.arrays[index], block)
            wrong["row"] += not np.array_equal(self.rows[index], block[1])
            wrong["slice"] += not np.array_equal(self.slices[index], block[:, 3:40])
            wrong["dict"] += not np.array_equal(self.by_block[index], block.T)
            wrong["closure"] += not np.array_equal(self.closures[index](), block[2])
        for index, row in self.recent:
            start, count = self.spans[index]
            wrong["deque"] += not np.array_equal(row, expected(self.channels, start, count)[0, ::2])
        whole = np.concatenate(self.arrays, axis=1)
        wrong["concatenated"] = int(not np.array_equal(whole, expected(self.channels, 0, self.offset)))
        with open(RESULT, "w") as stream:
            found = {{"blocks": len(self.spans), "wrong": dict(wrong),
                      "previous_checked": self.previous_checked, "previous_wrong": self.previous_wrong}}
            json.dump(found, stream)
"""


# The GUI's layout (rows 1024 apart) and contiguous rows: both staged unless zero-copy is opted in.
GUI_LAYOUT = ["--block-jitter", "0", "--callback-size", "1024"]


@pytest.mark.parametrize("layout", [GUI_LAYOUT, ["--contiguous"]], ids=["staging", "contiguous"])
def test_every_keeping_idiom_holds_its_block(layout: list[str], home: Path, tmp_path: Path) -> None:
    result_file = tmp_path / "result.json"
    script = write_script(tmp_path, "keeper.py", ALL_IDIOMS.format(result=str(result_file)))
    source = tmp_path / "in.f32"
    samples = write_input(source, 12)
    output = tmp_path / "out.f32"
    arguments = [*STREAM]
    result = run_host(
        "--script", script, "--input", source, "--output", output, *arguments, *layout, home=home
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result_file.read_text())
    assert found["blocks"] == 12
    assert found["wrong"] == dict.fromkeys(
        ["array", "row", "slice", "dict", "closure", "deque", "concatenated"], 0
    )
    assert (found["previous_checked"], found["previous_wrong"]) == (11, 0)
    # The output is the script's work on each block, not disturbed by what it kept.
    rows = read_channel_major(output, CHANNELS, BLOCK)
    assert all(row == [float(c * 100000 + s + 1) for s in range(samples)] for c, row in enumerate(rows))
    # Keeping is information, not a defect: no warning, one line of information on stderr.
    assert result.report is not None and result.report["warnings"] == []
    assert result.stderr.count("keeps (part of) its data array") == 1
    assert result.instance()["data_path"]["staging"] == 12  # kept from the first block: never zero-copy


# Keeps nothing for its first blocks (zero-copy by then, when opted in), then the array itself and a row of
# every block.
LATE_KEEPER = """
import json

import numpy as np

RESULT = {result!r}
KEEP_FROM = {keep_from}


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.offset = 0
        self.kept = []

    def process(self, data):
        start = self.offset
        self.offset += data.shape[1]
        if start // data.shape[1] >= KEEP_FROM:
            self.kept.append((start, data, data[3]))

    def stop_acquisition(self):
        wrong_arrays, wrong_rows = [], []
        for number, (start, array, row) in enumerate(self.kept):
            count = array.shape[1]
            rows = np.arange(array.shape[0])[:, None] * 100000
            block = (rows + start + np.arange(count)).astype(np.float32)
            if not np.array_equal(array, block):
                wrong_arrays.append(number)
            if not np.array_equal(row, block[3]):
                wrong_rows.append(number)
        with open(RESULT, "w") as stream:
            found = {{"kept": len(self.kept), "wrong_arrays": wrong_arrays, "wrong_rows": wrong_rows}}
            json.dump(found, stream)
"""


def test_a_late_keeper_on_contiguous_rows_is_exact_by_default(home: Path, tmp_path: Path) -> None:
    """Without the zero-copy opt-in, contiguous rows are staged like the GUI's layout: no gap at all."""
    result_file = tmp_path / "result.json"
    body = LATE_KEEPER.format(result=str(result_file), keep_from=70)
    script = write_script(tmp_path, "late.py", body)
    source = tmp_path / "in.f32"
    write_input(source, 80)
    result = run_host("--script", script, "--input", source, *STREAM, "--contiguous", home=home)
    assert result.returncode == 0, result.stderr
    found = json.loads(result_file.read_text())
    assert found["kept"] == 10
    assert found["wrong_arrays"] == [] and found["wrong_rows"] == []
    assert result.instance()["data_path"]["staging"] == 80


# Opted-in zero-copy (--zero-copy): contiguous rows (the view path) and rows 1024 apart (the strided view).
@pytest.mark.parametrize(
    ("layout", "zero_copy_path"),
    [(["--contiguous", "--zero-copy"], "view"), (["--zero-copy", "--block-jitter", "0"], "strided")],
    ids=["view", "strided"],
)
def test_a_late_keeper_on_a_zero_copy_path_gets_its_blocks_copied(
    layout: list[str], zero_copy_path: str, home: Path, tmp_path: Path
) -> None:
    result_file = tmp_path / "result.json"
    keep_from = 70  # after the zero-copy probation (64 blocks, block_array.h)
    body = LATE_KEEPER.format(result=str(result_file), keep_from=keep_from)
    script = write_script(tmp_path, "late.py", body)
    source = tmp_path / "in.f32"
    write_input(source, 80)
    result = run_host("--script", script, "--input", source, *STREAM, *layout, home=home)
    assert result.returncode == 0, result.stderr
    found = json.loads(result_file.read_text())
    assert found["kept"] == 10
    # The array itself is exact from the first kept block: it was copied before the host reused its buffer.
    assert found["wrong_arrays"] == []
    # A view taken of that first block was made over the host's buffer (numpy views cannot be re-pointed):
    # the documented limit; from the next block on the instance stages its blocks and every view is exact.
    assert all(number == 0 for number in found["wrong_rows"])
    paths = result.instance()["data_path"]
    zero_copy_blocks = keep_from - 64 + 1
    assert (paths[zero_copy_path], paths["staging"]) == (zero_copy_blocks, 80 - zero_copy_blocks)


# Stashes what it keeps where a reload or the instance's removal cannot reach (the `sys` module); the next
# script generation, or another instance, checks it later.
STASHER = """
import sys

import numpy as np

RESULT = {result!r}


def expected(start, count):
    return (np.arange(4)[:, None] * 100000 + start + np.arange(count)).astype(np.float32)


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.seen = 0
        if not hasattr(sys, "oe_pyproc_test_stash"):
            sys.oe_pyproc_test_stash = []

    def process(self, data):
        start = int(data[0, 0])  # channel 0 holds the sample index
        if {stash}:
            sys.oe_pyproc_test_stash.append((start, data[1:3, 10:], data))
        self.seen += 1

    def stop_acquisition(self):
        {check}


def check_stash():
    wrong = 0
    for start, part, array in sys.oe_pyproc_test_stash:
        block = expected(start, array.shape[1])
        wrong += not (np.array_equal(part, block[1:3, 10:]) and np.array_equal(array, block))
    with open(RESULT, "w") as stream:
        stream.write(f"{{len(sys.oe_pyproc_test_stash)}} {{wrong}}")
"""


def test_kept_blocks_outlive_a_reload(home: Path, tmp_path: Path) -> None:
    result_file = tmp_path / "result.txt"
    body = STASHER.format(result=str(result_file), stash="self.seen < 10", check="check_stash()")
    script = write_script(tmp_path, "stasher.py", body)
    source = tmp_path / "in.f32"
    write_input(source, 30)
    arguments = [*STREAM, "--block-jitter", "0"]
    result = run_host("--script", script, "--input", source, "--reload-at-block", "20", *arguments, home=home)
    assert result.returncode == 0, result.stderr
    # Both generations stashed their first 10 blocks; the old processor, its module and its block buffers are
    # gone from the instance, the stashed arrays still hold their blocks.
    assert result_file.read_text() == "20 0"


def test_kept_blocks_outlive_their_instance(home: Path, tmp_path: Path) -> None:
    result_file = tmp_path / "result.txt"
    target = str(result_file)
    stasher = write_script(tmp_path, "a.py", STASHER.format(result=target, stash="True", check="pass"))
    checker = write_script(
        tmp_path, "b.py", STASHER.format(result=target, stash="False", check="check_stash()")
    )
    source = tmp_path / "in.f32"
    write_input(source, 30)
    arguments = [*STREAM, "--block-jitter", "0"]
    result = run_host(
        "--script",
        stasher,
        "--script",
        checker,
        "--input",
        source,
        "--remove-at-block",
        "12:0",
        *arguments,
        home=home,
    )
    assert result.returncode == 0, result.stderr
    assert result.instance(0)["removed_at_block"] == 12
    assert result_file.read_text() == "12 0"


# A bounded history of rows: every block is handed over, and freed when its row leaves the deque.
BOUNDED_HISTORY = """
import collections
import json

RESULT = {result!r}


def resident_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.rows = collections.deque(maxlen=8)
        self.blocks = 0
        self.rss = []

    def process(self, data):
        self.rows.append(data[0])
        self.blocks += 1
        if self.blocks in (100, 1500):
            self.rss.append(resident_kib())

    def stop_acquisition(self):
        with open(RESULT, "w") as stream:
            json.dump({{"blocks": self.blocks, "rss_kib": self.rss}}, stream)
"""


def test_handed_over_blocks_are_freed_with_what_kept_them(home: Path, tmp_path: Path) -> None:
    result_file = tmp_path / "result.json"
    script = write_script(tmp_path, "history.py", BOUNDED_HISTORY.format(result=str(result_file)))
    # 64 channels x 1024-sample buffers: each handed-over block is 256 KiB, 1400 of them 350 MiB if leaked.
    result = run_host("--script", script, "--channels", "64", "--blocks", "1500", home=home)
    assert result.returncode == 0, result.stderr
    found = json.loads(result_file.read_text())
    assert found["blocks"] == 1500
    early, late = found["rss_kib"]
    assert late - early < 20 * 1024, found


# A script thread drops what process() kept while the audio thread hands blocks over and copies them out:
# the output must still be every block's own values (the copy-out of a kept block happens under the GIL).
DROPPED_BY_A_THREAD = """
import threading
import time


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.kept = []
        self.running = True
        threading.Thread(target=self.drop, daemon=True).start()

    def drop(self):
        while self.running:
            self.kept.clear()
            time.sleep(0)

    def process(self, data):
        data += 1
        self.kept.append(data)
        self.kept.append(data[2:])

    def stop_acquisition(self):
        self.running = False
"""


def test_kept_blocks_dropped_by_a_script_thread_meanwhile(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "dropper.py", DROPPED_BY_A_THREAD)
    source = tmp_path / "in.f32"
    samples = write_input(source, 300)
    output = tmp_path / "out.f32"
    result = run_host(
        "--script", script, "--input", source, "--output", output, *STREAM, *GUI_LAYOUT, home=home
    )
    assert result.returncode == 0, result.stderr
    assert result.instance()["blocks_processed"] == 300
    rows = read_channel_major(output, CHANNELS, BLOCK)
    assert all(row == [float(c * 100000 + s + 1) for s in range(samples)] for c, row in enumerate(rows))
