"""Build et_bench_runner with g++ against the executorch wheel: for this machine, or cross-compiled for arm64.

    python -m android_bench.runners.native.build --out DIR                    # this machine, the installed wheel
    python -m android_bench.runners.native.build --abi arm64-v8a --out DIR    # Debian's aarch64 g++, the aarch64 wheel

writes DIR/<abi>/et_bench_runner and, beside it, the wheel's shared libraries it needs (runtime, CPU and
quantized kernels, XNNPACK delegate, thread pool). The binary's RUNPATH is `$ORIGIN` and the libraries
carry the same, so the folder works wherever it is copied or pushed as a whole (what
android_bench.runners.executorch does). <abi> is the Android name of the ABI (x86_64, arm64-v8a, ...), the
layout `--tools DIR` expects.

A cross build (android_bench.runners.native.cross) links against the target's executorch wheel, fetched with pip
(no torch), and is self-contained: the folder also carries glibc's loader, libc, libm, libstdc++ and libgcc_s,
and `et_bench_runner` is a sh wrapper that starts `et_bench_runner.bin` through that loader. It runs on any
aarch64 Linux kernel with a shell, an Android phone's included (bionic, no glibc).

The wheel ships the headers under executorch/include and the libraries under executorch/lib; compile
definitions follow the wheel's own CMake package (share/cmake/executorch-config.cmake). The delegate and
kernel libraries only register themselves from static initialisers, so they are linked with
--no-as-needed: dropped, a .pte would load with "backend not registered" or "missing operator".
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
from pathlib import Path

from models.errors import UserError

from android_bench.runners.native import cross

SOURCE = Path(__file__).with_name("et_bench_runner.cpp")
BINARY = "et_bench_runner"
# platform.machine() -> Android ABI name.
ABIS = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64-v8a", "arm64": "arm64-v8a",
        "armv7l": "armeabi-v7a", "armv8l": "armeabi-v7a", "i686": "x86", "i386": "x86"}
# Linked, in this order; `required` ones must be in the wheel (a delegated .pte cannot run without them).
LIBRARIES = (("libexecutorch.so", True), ("libexecutorch_threadpool.so", False),
             ("libexecutorch_kernels_optimized.so", True), ("libexecutorch_kernels_quantized.so", False),
             ("libexecutorch_backend_xnnpack.so", True))
INSTALL_HINT = "pip install executorch==1.5.1 (the wheel ships include/ and lib/ with libexecutorch.so)"


class BuildError(UserError):
    """The runner cannot be built here: no compiler, no ExecuTorch headers or libraries, or g++ failed."""


def android_abi(machine: str | None = None) -> str:
    machine = (machine or platform.machine()).lower()
    if machine not in ABIS:
        raise BuildError(f"no Android ABI name for this machine ({machine!r}); known: {', '.join(sorted(ABIS))}")
    return ABIS[machine]


def executorch_root() -> Path:
    """The installed executorch package folder, found without importing it (which loads torch)."""
    spec = importlib.util.find_spec("executorch")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(f"the executorch package is not installed: {INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0])


def _sdk(root: Path) -> tuple[list[Path], list[Path]]:
    """(include dirs, library files to link) from the wheel, or a one-line error naming what is missing."""
    include = root / "include"
    includes = [include, include / "executorch" / "runtime" / "core" / "portable_type" / "c10"]
    if not (include / "executorch" / "extension" / "module" / "module.h").is_file() or not includes[1].is_dir():
        raise BuildError(f"no ExecuTorch C++ headers under {include} (executorch/extension/module/module.h): "
                         f"{INSTALL_HINT}")
    libs = []
    for name, required in LIBRARIES:
        path = root / "lib" / name
        if path.is_file():
            libs.append(path)
        elif required:
            raise BuildError(f"the executorch wheel at {root} lacks lib/{name}: {INSTALL_HINT}")
    return includes, libs


def _compiler() -> str:
    cxx = os.environ.get("CXX") or "g++"
    found = shutil.which(cxx)
    if not found:
        raise BuildError(f"C++ compiler {cxx!r} not found: install g++ (apt-get install g++), or set CXX")
    return found


def _dependencies(libs: list[Path]) -> list[Path]:
    """The linked libraries plus the wheel libraries they need in turn (their DT_NEEDED names are
    NUL-terminated strings in the file), so the copied folder is complete."""
    lib_dir = libs[0].parent
    candidates = {p.name: p for p in lib_dir.glob("*.so*") if p.is_file()}
    wanted, queue = {p.name: p for p in libs}, list(libs)
    while queue:
        data = queue.pop().read_bytes()
        for name, path in candidates.items():
            if name not in wanted and name.encode() + b"\0" in data:
                wanted[name] = path
                queue.append(path)
    return list(wanted.values())


def _copy_if_changed(src: Path, dest: Path) -> None:
    if dest.is_file() and dest.stat().st_size == src.stat().st_size and dest.stat().st_mtime >= src.stat().st_mtime:
        return
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)  # a runner using the old copy keeps its inode


def build_runner(out_dir: str | os.PathLike, *, abi: str | None = None, force: bool = False) -> Path:
    """Build (or reuse) OUT_DIR/<abi>/et_bench_runner with its libraries beside it; returns the tool to run.

    `abi` None or this machine's: g++ against the installed wheel. Another (arm64-v8a): a self-contained cross
    build (see the module's docstring). Skips compiling when the binary is newer than its inputs."""
    host_abi = android_abi()
    target = None if abi in (None, host_abi) else cross.target(abi)
    root = executorch_root() if target is None else cross.wheel_sdk(target)
    includes, libs = _sdk(root)
    folder = Path(out_dir) / (abi or host_abi)
    folder.mkdir(parents=True, exist_ok=True)
    for lib in _dependencies(libs):
        _copy_if_changed(lib, folder / lib.name)

    tool = folder / BINARY
    binary = tool if target is None else folder / f"{BINARY}.bin"
    newest_input = max(p.stat().st_mtime for p in (SOURCE, Path(__file__), Path(cross.__file__), *libs))
    if not force and tool.is_file() and binary.is_file() and binary.stat().st_mtime > newest_input:
        return tool

    cxx = _compiler() if target is None else cross.compiler(target)
    defines = ["C10_USING_CUSTOM_GENERATED_MACROS", "ET_EVENT_TRACER_ENABLED"]  # as the wheel's CMake config
    if any(lib.name == "libexecutorch_threadpool.so" for lib in libs):
        defines.append("ET_USE_THREADPOOL")
    tmp = folder / f".{binary.name}.{os.getpid()}.tmp"
    # Linked by file name from the copies beside the binary, so each DT_NEEDED is a bare name that $ORIGIN
    # resolves even for a library without a SONAME.
    cmd = [cxx, "-std=c++17", "-O2", "-Wall", "-Wno-deprecated-declarations",
           *(f"-D{d}" for d in defines), *(f"-I{d}" for d in includes),
           str(SOURCE), "-o", str(tmp), f"-L{folder}",
           "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN",
           "-Wl,--push-state,--no-as-needed", *(f"-l:{lib.name}" for lib in libs), "-Wl,--pop-state",
           "-pthread"]
    log = folder / "build.log"
    done = subprocess.run(cmd, capture_output=True, text=True)
    log.write_text(" ".join(cmd) + "\n\n" + done.stdout + done.stderr)
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        errors = [l for l in done.stderr.splitlines() if "error" in l] or done.stderr.strip().splitlines() or ["?"]
        raise BuildError(f"{Path(cxx).name} failed building {SOURCE.name}: {errors[0].strip()[:300]} (full log: {log})")
    os.replace(tmp, binary)
    if target is not None:
        cross.bundle(folder, binary, target, [folder, cross.sysroot_lib(target)])
        cross.write_wrapper(folder, BINARY, binary.name, target)
    return tool


def parser() -> argparse.ArgumentParser:
    from export import ArgumentParser

    p = ArgumentParser(prog="python -m android_bench.runners.native.build", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder: the binary goes to OUT/<abi>/et_bench_runner")
    p.add_argument("--abi", choices=sorted({android_abi(), *cross.TARGETS}), default=None,
                   help="Android ABI to build for (default: this machine's); another one is cross-compiled, "
                        "self-contained")
    p.add_argument("--force", action="store_true", help="rebuild even when the binary is up to date")
    p.add_argument("-v", "--verbose", action="store_true", help="tracebacks instead of one-line errors")
    return p


def main(argv=None) -> int:
    from export import run_main

    def go(args):
        print(build_runner(args.out, abi=args.abi, force=args.force))

    return run_main(go, argv, parser=parser())


if __name__ == "__main__":
    raise SystemExit(main())
