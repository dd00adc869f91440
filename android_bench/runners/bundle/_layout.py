"""Filling a part's folder: the launcher, the interpreter and its pruned standard library, the distributions'
files (from their RECORD, pruned), and the self-contained ExecuTorch runner."""
from __future__ import annotations

import os
import os.path
from pathlib import Path, PurePosixPath

from android_bench.runners.native import build, cross
from android_bench.runners.bundle._elf import BundleError, copy_file, real_file
from android_bench.runners.bundle._sources import PY, Source, distributions

# POSIX sh (busybox ash, Android's mksh and toybox): no bashisms. Paths are made absolute so a script that
# changes directory still finds its modules and libraries.
LAUNCHER = """#!/bin/sh
# python: the bundle's CPython, started through the bundle's own glibc loader and libraries, never the device's
# libc (Android has bionic). The torch part, when unpacked beside this one, is on the module and library paths.
case "$0" in */*) d=${{0%/*}} ;; *) d=. ;; esac
b=$(cd "$d/.." && pwd) || exit 127
r=${{b%/*}}
mkdir -p "$r/tmp" || exit 127
unset LD_PRELOAD
export PYTHONHOME="$b/python" PYTHONPATH="$b/site-packages:$r/torch/site-packages${{PYTHONPATH:+:$PYTHONPATH}}" \\
  PYTHONNOUSERSITE=1 PYTHONDONTWRITEBYTECODE=1 HOME="$r/tmp" TMPDIR="$r/tmp"
exec "$b/lib/{loader}" --inhibit-cache --library-path "$b/lib:$r/torch/lib" --argv0 "$b/bin/python" \\
  "$b/python/bin/{python}" "$@"
"""
# Never imported by a benchmark: tests, GUIs, installers, docs data, the build configuration.
STDLIB_SKIP = {"test", "tests", "idle_test", "idlelib", "tkinter", "turtledemo", "turtle.py", "ensurepip", "lib2to3",
               "pydoc_data", "site-packages", "dist-packages", "sqlite3", "curses", "sitecustomize.py"}
# Extension modules of those, or needing libraries a phone-side benchmark has no use for (tk, ncurses,
# readline, sqlite, gdbm, NIS, libcrypt).
DYNLOAD_SKIP = ("_tkinter", "_curses", "readline", "_sqlite3", "_dbm", "_gdbm", "nis", "ossaudiodev", "spwd", "_test",
                "xxlimited", "_xxtestfuzz", "_ctypes_test", "_crypt", "xxsubtype")
SITE_SKIP_DIRS = {"__pycache__", "tests"}
SITE_SKIP_SUFFIXES = (".h", ".hpp", ".cuh", ".a", ".pyi")
# torch's C++ SDK, test binaries and libraries only its tests load; LiteRT's NPU compiler plugins (they need the
# vendors' SDKs, which no device here has; the aarch64 wheel ships none).
PREFIX_SKIP = ("ai_edge_litert/vendors/", "torch/bin/", "torch/include/", "torch/share/", "torch/test/", "torch/lib/libshm/",
              "torch/lib/libshm_windows/", "torch/lib/libjitbackend_test.so", "torch/lib/libtorchbind_test.so",
              "torch/lib/libaoti_custom_ops.so", "torch/lib/libbackend_with_compiler.so")


def write_launcher(part: Path, src: Source) -> Path:
    path = part / "bin" / "python"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LAUNCHER.format(loader=src.loader, python=PY))
    path.chmod(0o755)
    return path


def _stdlib_skip(rel: PurePosixPath) -> bool:
    if rel.name == "__pycache__" or (len(rel.parts) == 1 and (rel.name in STDLIB_SKIP or rel.name.startswith("config-"))):
        return True
    if rel.name in ("test", "tests", "idle_test"):
        return True
    return rel.parent.name == "lib-dynload" and rel.name.startswith(DYNLOAD_SKIP)


def copy_python(part: Path, src: Source) -> None:
    """python/bin/python3.11 and python/lib/python3.11 (the home PYTHONHOME names), pruned."""
    copy_file(src.python, part / "python" / "bin" / PY, src.root)
    stdlib = real_file(src.stdlib, src.root)
    if not (stdlib / "os.py").is_file() or not (stdlib / "lib-dynload").is_dir():
        raise BundleError(f"no Python standard library with lib-dynload at {stdlib}")
    copy_tree(stdlib, part / "python" / "lib" / PY, src.root, _stdlib_skip)


def copy_tree(source: Path, dest: Path, root: Path, skip) -> int:
    """Copy the files under `source` (links followed inside `root`; dangling ones and linked folders left out)
    that `skip(relative path)` keeps; returns how many."""
    count = 0
    for here, dirs, files in os.walk(source):
        rel = PurePosixPath(Path(here).relative_to(source).as_posix())
        dirs[:] = sorted(d for d in dirs if not skip(rel / d) and not os.path.islink(os.path.join(here, d)))
        for name in sorted(files):
            path = Path(here) / name
            if skip(rel / name) or not real_file(path, root).is_file():
                continue
            copy_file(path, dest / rel / name, root)
            count += 1
    return count


def _site_skip(rel: PurePosixPath) -> bool:
    text = rel.as_posix()
    if text == "torch/bin/torch_shm_manager":  # `import torch` checks it is there (never started by inference)
        return False
    return (any(p in SITE_SKIP_DIRS for p in rel.parts) or text.endswith(SITE_SKIP_SUFFIXES)
            or text.startswith(PREFIX_SKIP))


def copy_distributions(site: Path, names, dest: Path, root: Path) -> dict[str, str]:
    """The files of the distributions `names` installed in `site` (as their RECORD lists them, within `site`),
    pruned, into `dest`; returns {name: version}."""
    dists = distributions(site, names)
    for name, dist in dists.items():
        if dist.files is None:
            raise BundleError(f"{name} in {site} has no RECORD: cannot tell its files")
        for f in dist.files:
            rel = PurePosixPath(str(f))
            path = site / rel
            if ".." in rel.parts or _site_skip(rel) or not path.is_file():
                continue
            copy_file(path, dest / rel, root)
    return {name: dist.version for name, dist in dists.items()}


def copy_tools(part: Path, abi: str, work: Path) -> Path:
    """tools/: et_bench_runner for `abi`, built (or reused) under `work`, with the loader and every library it
    needs beside it and a sh wrapper under its name (cross's layout). The host's build is made so here."""
    runner = build.build_runner(work, abi=abi)
    tools = part / "tools"
    tools.mkdir(parents=True, exist_ok=True)
    for path in sorted(runner.parent.iterdir()):
        if path.is_file() and path.name != "build.log" and not path.name.startswith("."):
            copy_file(path, tools / path.name, Path("/"))
    if abi == build.android_abi():  # a native build: RUNPATH $ORIGIN only, the host's libc
        t = cross.TARGETS[abi]
        binary = tools / f"{build.BINARY}.bin"
        os.replace(tools / build.BINARY, binary)
        cross.bundle(tools, binary, t, [tools, cross.sysroot_lib(t)])
        cross.write_wrapper(tools, build.BINARY, binary.name, t)
    return tools / build.BINARY
