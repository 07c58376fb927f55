"""Builds the Home layouts of corpus.json under one folder (see its `about`), for tests/homes_corpus and for
the README's table of supported layouts (`python tests/homes_corpus/build.py --readme`).

Real Homes use pyenv's CPythons (never modified: venvs are made from them, bases get a copy of their
interpreter binary); numpy comes from the venvs of build/native-venvs (linked in, not installed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS_FILE = Path(__file__).with_name("corpus.json")
ROOT = Path(__file__).resolve().parents[2]
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
NUMPY_VENVS = ROOT / "build" / "native-venvs"


@dataclass(frozen=True)
class Layout:
    name: str
    platform: str  # linux, windows, macos
    summary: str
    usable: bool
    spec: dict[str, Any]

    @property
    def real(self) -> bool:
        """A Home the real host can judge here: everything on Linux but the crafted trees."""
        return self.platform == "linux" and "tree" not in self.spec


def load_corpus() -> list[Layout]:
    document = json.loads(CORPUS_FILE.read_text(encoding="utf-8"))
    return [
        Layout(entry["name"], entry["platform"], entry["summary"], entry["usable"], entry)
        for entry in document["layouts"]
    ]


def _minor(full_version: str) -> str:
    return ".".join(full_version.split(".")[:2])


def _numpy_site(minor: str) -> Path:
    """The site-packages of build/native-venvs holding numpy for Python `minor` (made by 20-native)."""
    full = {"3.10": "3.10.13", "3.12": "3.12.1", "3.13": "3.13.0"}[minor]
    return NUMPY_VENVS / full / "lib" / f"python{minor}" / "site-packages"


def _link_numpy(site: Path, minor: str) -> None:
    """numpy and its bundled libraries linked from the build's venv: importable by the real interpreter."""
    site.mkdir(parents=True, exist_ok=True)
    source = _numpy_site(minor)
    for entry in source.iterdir():
        if entry.name == "numpy" or entry.name.startswith(("numpy-", "numpy.libs")):
            (site / entry.name).symlink_to(entry)


def _write(path: Path, text: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _build_tree(home: Path, lines: list[str], corpus: Path) -> None:
    home.mkdir(parents=True)
    for line in lines:
        if line.startswith("@stdlib "):
            parts = line.split()
            folder = home / (parts[2] if len(parts) > 2 else f"lib/python{parts[1]}")
            _write(folder / "os.py")
            _write(folder / "encodings" / "__init__.py")
        elif line.startswith("@numpy "):
            _write(home / line.split(" ", 1)[1] / "numpy" / "__init__.py", "__version__ = '2.0.0'\n")
        else:
            name, _, text = line.partition(" = ")
            _write(home / name, text.replace("{corpus}", str(corpus)))


def _build_base(home: Path, spec: dict[str, Any]) -> None:
    """A base install made from pyenv's CPython: the interpreter binary copied (so the prefix it computes is
    this folder), each standard-library entry linked, site-packages its own, libpython linked where the
    layout keeps it (lib/, or lib/<triplet>/ for Debian's multiarch)."""
    full = spec["python"]
    minor = _minor(full)
    source = PYENV_VERSIONS / full
    (home / "bin").mkdir(parents=True)
    shutil.copy2(source / "bin" / f"python{minor}", home / "bin" / f"python{minor}")
    (home / "bin" / "python3").symlink_to(f"python{minor}")
    stdlib = home / "lib" / f"python{minor}"
    stdlib.mkdir(parents=True)
    for entry in (source / "lib" / f"python{minor}").iterdir():
        if entry.name != "site-packages":
            (stdlib / entry.name).symlink_to(entry)
    (stdlib / "site-packages").mkdir()
    library_dir = home / "lib" / spec["multiarch"] if spec.get("multiarch") else home / "lib"
    library_dir.mkdir(parents=True, exist_ok=True)
    (library_dir / f"libpython{minor}.so.1.0").symlink_to(source / "lib" / f"libpython{minor}.so.1.0")
    if spec.get("numpy"):
        _link_numpy(stdlib / spec["numpy"], minor)
    if spec.get("conda"):
        _write(
            home / "conda-meta" / f"python-{full}-h955ad1f_0_cpython.json",
            json.dumps({"name": "python", "version": full}),
        )


def _build_venv(home: Path, spec: dict[str, Any], corpus: Path) -> None:
    if "base" in spec:
        python = corpus / spec["base"] / "bin" / "python3"
    else:
        python = PYENV_VERSIONS / spec["python"] / "bin" / "python3"
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(home)], check=True)
    minor = next(p.name.removeprefix("python") for p in (home / "lib").iterdir())
    if spec.get("numpy"):
        _link_numpy(home / "lib" / f"python{minor}" / "site-packages", minor)
    if spec.get("remove"):
        # venv's bin/ links chain (python3.10 -> python3 -> python -> base): point each at the base first.
        for link in (home / "bin").iterdir():
            if link.is_symlink():
                target = link.resolve()
                link.unlink()
                link.symlink_to(target)
        for name in spec["remove"]:
            (home / name).unlink(missing_ok=True)
    cfg = home / "pyvenv.cfg"
    text = cfg.read_text(encoding="utf-8")
    if "system_site" in spec:
        text = text.replace(
            "include-system-site-packages = false", f"include-system-site-packages = {spec['system_site']}"
        )
    if "home" in spec:
        lines = [ln for ln in text.splitlines() if not ln.startswith("home")]
        text = f"home = {spec['home'].replace('{corpus}', str(corpus))}\n" + "\n".join(lines) + "\n"
    if spec.get("crlf"):
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    cfg.write_bytes(b"\xef\xbb\xbf" + data if spec.get("bom") else data)


def build_corpus(corpus: Path) -> dict[str, str]:
    """Build every layout under `corpus` (created; must not exist). Returns name -> how to name the Home
    to the judges (an absolute path, `~/...` for HOME=corpus, or a path relative to corpus)."""
    corpus.mkdir(parents=True)
    named: dict[str, str] = {}
    # Bases first: venvs are made from them.
    layouts = sorted(load_corpus(), key=lambda layout: "base" not in layout.spec)
    for layout in layouts:
        spec = layout.spec
        home = corpus / layout.name
        if "pyenv" in spec:
            home = PYENV_VERSIONS / spec["pyenv"]
        elif "system" in spec:
            home = Path(spec["system"])
        elif "base" in spec:
            _build_base(home, spec["base"])
        elif "venv" in spec:
            _build_venv(home, spec["venv"], corpus)
        elif "link" in spec:
            home.symlink_to(corpus / spec["link"])
        elif "file" in spec:
            home = corpus / spec["file"]
        elif "tree" in spec:
            _build_tree(home, spec["tree"], corpus)
        elif not spec.get("missing"):
            raise ValueError(f"corpus layout {layout.name}: no kind")
        named[layout.name] = spec.get("path", str(home))
    return named


def readme_table() -> str:
    """The README's list of supported layouts, one row per corpus entry."""
    rows = ["| Home layout | platform | verdict |", "|---|---|---|"]
    for layout in load_corpus():
        rows.append(f"| {layout.summary} | {layout.platform} | {'usable' if layout.usable else 'refused'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--readme", action="store_true", help="print the README table")
    parser.add_argument("--build", type=Path, help="build the corpus in this (new) folder")
    arguments = parser.parse_args()
    if arguments.readme:
        print(readme_table())
    elif arguments.build:
        for name, path in build_corpus(arguments.build).items():
            print(f"{name}\t{path}")
    else:
        parser.print_help()
        sys.exit(2)
