"""Running commands inside the arm64 root: bwrap with the root's directories as the guest's /, the fake
/sys/devices/system/cpu of a CPU profile, and QEMU_CPU pinned. Used by setup's checks, by the tests' arm64
adb device and by the libc-less ("bare") sandbox the cross-built runners are proved in."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from models.errors import UserError

from android_bench.devices.arm64.profiles import CpuProfile, check_safe, fake_cpu_sysfs

# What the guest needs that is not a directory of the root: a fresh /dev, /proc, /tmp, the fake CPU tree.
NOT_FROM_ROOT = {"dev", "proc", "sys", "tmp", "data", "system", "debootstrap"}


def bwrap() -> str:
    found = shutil.which("bwrap")
    if found is None:
        raise UserError("the arm64 device runs commands under bubblewrap: apt-get install bubblewrap")
    return found


def cpu_sysfs(profile: CpuProfile, home: Path, cores: int | None = None) -> Path:
    """The profile's fake /sys/devices/system/cpu under `home` (written once, rewritten if it changed)."""
    cores = cores or os.cpu_count() or 1
    folder = home / "sys" / f"{profile.name}-{cores}cpu" / "cpu"
    fake_cpu_sysfs(profile, folder, cores)
    return folder


def guest_argv(root: Path, profile: CpuProfile, sysfs: Path, *, binds: list[tuple[Path, str, bool]] = (),
               chdir: str = "/") -> list[str]:
    """bwrap argv (ending in `--`) that runs the next argv as an aarch64 guest with `root` as its /.

    Every top-level entry of `root` is bound read-only, except those in NOT_FROM_ROOT; `binds` adds
    (host path, guest path, writable) mounts. --die-with-parent: commands end with whoever started them."""
    argv = [bwrap(), "--die-with-parent", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name in NOT_FROM_ROOT:
            continue
        if entry.is_symlink():
            argv += ["--symlink", os.readlink(entry.path), f"/{entry.name}"]
        elif entry.is_dir():
            argv += ["--ro-bind", entry.path, f"/{entry.name}"]
    argv += ["--dir", "/sys/devices/system", "--ro-bind", str(sysfs), "/sys/devices/system/cpu"]
    for host, guest, writable in binds:
        argv += ["--bind" if writable else "--ro-bind", str(host), guest]
    # qemu-user reads QEMU_CPU from the environment the guest binary is started with
    return argv + ["--setenv", "QEMU_CPU", check_safe(profile.qemu_cpu), "--chdir", chdir, "--"]


def run_in_guest(root: Path, profile: CpuProfile, sysfs: Path, argv: list[str], *, timeout: float = 600,
                 binds=()) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    return subprocess.run([*guest_argv(root, profile, sysfs, binds=binds), *argv], capture_output=True, text=True,
                          timeout=timeout, env=env)
