"""Cross-building a native runner for another ABI, self-contained: Debian's cross g++, the target's build of the
runtime library fetched as a wheel (pip, by platform tag: no torch), and every shared library the binary needs,
glibc's dynamic loader included, copied beside it.

The binary is started through that loader (a two-line sh wrapper under the tool's name), so nothing is taken
from the device's own libc: what an Android phone, which has bionic and no glibc, requires. Proved by the tests
in a sandbox holding nothing but a static busybox and the pushed folder.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from models.errors import UserError

from android_bench.devices.cache import cache_home


@dataclass(frozen=True)
class Target:
    abi: str  # Android's name
    triple: str  # Debian's cross toolchain prefix
    loader: str  # glibc's dynamic loader for the ABI
    package: str  # the Debian package of the cross g++
    platforms: tuple[str, ...]  # pip platform tags the wheels may carry (every tag the target glibc runs)
    sysroot: str = ""  # where the target's glibc is, if not Debian's cross folder /usr/<triple>/lib


TARGETS = {
    "arm64-v8a": Target("arm64-v8a", "aarch64-linux-gnu", "ld-linux-aarch64.so.1", "g++-aarch64-linux-gnu",
                        ("manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_17_aarch64",
                         "manylinux2014_aarch64")),
    # x86_64 from an x86_64 Debian: build.build_runner builds it natively (the host ABI is never cross-built);
    # the entry is what makes that build self-contained (runners.bundle), from the host's own glibc.
    "x86_64": Target("x86_64", "x86_64-linux-gnu", "ld-linux-x86-64.so.2", "g++-x86-64-linux-gnu",
                     ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
                     sysroot="/usr/lib/x86_64-linux-gnu"),
}
PYTHON_TAG = "3.11"
WRAPPER = """#!/bin/sh
# {tool}: runs {real} through the glibc loader beside it, never the device's own libc (Android has bionic).
case "$0" in */*) d=${{0%/*}} ;; *) d=. ;; esac
exec "$d/{loader}" --library-path "$d" "$d/{real}" "$@"
"""


class CrossError(UserError):
    """A cross build is impossible here: no cross compiler, no wheel for the target, an unresolved library."""


def target(abi: str) -> Target:
    if abi not in TARGETS:
        raise CrossError(f"no cross build for ABI {abi!r}; choose this machine's or one of {', '.join(TARGETS)}")
    return TARGETS[abi]


def compiler(t: Target) -> str:
    cxx = shutil.which(f"{t.triple}-g++")
    if cxx is None:
        raise CrossError(f"{t.triple}-g++ not found: apt-get install --no-install-recommends {t.package}")
    return cxx


def sysroot_lib(t: Target) -> Path:
    """Where Debian's cross packages put the target's glibc and libstdc++ (libc6-<arch>-cross ...), or the
    target's own sysroot (the host's multiarch folder for x86_64)."""
    return Path(t.sysroot) if t.sysroot else Path("/usr") / t.triple / "lib"


def wheel_sdk(t: Target, package: str = "executorch", *, log=print) -> Path:
    """The target's build of `package` (same version as this machine's), unpacked once under the cache: its
    package folder, with include/ and lib/. Only those are taken; nothing of it is imported."""
    version = metadata.version(package)
    folder = cache_home() / "sdk" / f"{package}-{version}-{t.abi}"
    done = folder / ".complete"
    if done.is_file():
        return folder / package
    wheels = cache_home() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = _find_wheel(wheels, package, version, t)
    if found is None:
        log(f"pip download {package}=={version} for {t.abi} (--platform {t.platforms[0]}, --no-deps: no torch)")
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--dest", str(wheels),
               "--python-version", PYTHON_TAG, "--implementation", "cp", *(f"--platform={p}" for p in t.platforms),
               f"{package}=={version}"]
        fetched = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        found = _find_wheel(wheels, package, version, t)
        if fetched.returncode != 0 or found is None:
            said = (fetched.stderr.strip() or fetched.stdout.strip() or "no wheel").splitlines()[-1][:300]
            raise CrossError(f"no {t.abi} wheel of {package}=={version}: {said}")
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(found) as wheel:
        members = [m for m in wheel.namelist() if m.startswith((f"{package}/include/", f"{package}/lib/"))]
        if not any(m.startswith(f"{package}/lib/") for m in members):
            raise CrossError(f"{found.name} has no {package}/lib/: it cannot be linked against")
        wheel.extractall(staging, members)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
    done.write_text(found.name + "\n")
    return folder / package


def _find_wheel(folder: Path, package: str, version: str, t: Target) -> Path | None:
    arch = t.platforms[0].rsplit("_", 1)[-1]
    for path in sorted(folder.glob(f"{package}-{version}-*.whl")):
        if arch in path.name:
            return path
    return None


def needed(path: Path, t: Target) -> list[str]:
    """DT_NEEDED of an ELF file, read with the cross binutils' readelf."""
    readelf = shutil.which(f"{t.triple}-readelf") or shutil.which("readelf")
    if readelf is None:
        raise CrossError(f"readelf not found: apt-get install binutils-{t.triple}")
    out = subprocess.run([readelf, "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def bundle(folder: Path, binary: Path, t: Target, search: list[Path]) -> list[str]:
    """Copy into `folder` every library `binary` needs, transitively, from `search` (first hit wins), and glibc's
    loader; returns the names copied. A library found nowhere is an error: the folder must run on its own."""
    copied, queue = [], [binary, *sorted(p for p in folder.iterdir() if ".so" in p.name)]
    present = {p.name for p in folder.iterdir()}
    while queue:
        for name in needed(queue.pop(), t):
            if name in present:
                continue
            source = next((d / name for d in search if (d / name).is_file()), None)
            if source is None:
                raise CrossError(f"{name} (needed by the {t.abi} runner) is in none of {', '.join(map(str, search))}")
            shutil.copy2(source.resolve(), folder / name)  # the file, not the symlink (libc.so.6 -> libc-2.36.so)
            present.add(name)
            copied.append(name)
            queue.append(folder / name)
    loader = sysroot_lib(t) / t.loader
    if not loader.is_file():
        raise CrossError(f"no {t.loader} at {loader}: apt-get install --no-install-recommends {t.package}")
    shutil.copy2(loader.resolve(), folder / t.loader)
    (folder / t.loader).chmod(0o755)
    return copied + [t.loader]


def write_wrapper(folder: Path, tool: str, real: str, t: Target) -> Path:
    path = folder / tool
    tmp = folder / f".{tool}.{os.getpid()}.tmp"
    tmp.write_text(WRAPPER.format(tool=tool, real=real, loader=t.loader))
    tmp.chmod(0o755)
    os.replace(tmp, path)
    return path
