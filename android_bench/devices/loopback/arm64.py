"""The loopback device's arm64 variants: the same adb device, but its commands run as an aarch64 guest under
qemu-user (android_bench.arm64), so what is pushed must be an aarch64 build and runs on ARM kernels.

    Arm64LoopbackDevice(root, profile="a76")      the arm64 Debian root: Python and the aarch64 runtimes
    Arm64LoopbackDevice(root, bare=True)          nothing but a static busybox: no libc at all, like an
                                                  Android phone has no glibc (bionic instead)

It reports ABI arm64-v8a (getprop, uname -m aarch64), ro.kernel.qemu=1 as Android emulators do, and its CPU
model through QEMU_CPU, pinned by the profile (android_bench.devices.arm64.profiles, never `max` with SME).
"""
from __future__ import annotations

import os

from android_bench.devices.arm64 import rootfs
from android_bench.devices.arm64.profiles import DEFAULT_PROFILE, CpuProfile, get_profile
from android_bench.devices.arm64.sandbox import cpu_sysfs, guest_argv

from android_bench.devices.loopback.device import DEVICE_TMP, SYSTEM_BIN, LoopbackDevice

# In CI (.ci/run sets it) the ARM tests fail, not skip, when the arm64 device is not built.
REQUIRED_ENV = "SQUEEZEBERT_ARM64"
HOW_TO_BUILD = "python -m android_bench.arm64 setup"


def arm64_props(profile: CpuProfile, *, bare: bool) -> dict[str, str]:
    return {
        "ro.product.name": "arm64_qemu",
        "ro.product.device": "arm64_qemu",
        "ro.product.model": f"arm64 qemu-user {profile.name}{' bare' if bare else ''}",
        "ro.product.brand": "loopback",
        "ro.product.manufacturer": "loopback",
        "ro.hardware": "qemu",
        "ro.board.platform": "qemu-user",
        "ro.soc.manufacturer": "QEMU",
        "ro.soc.model": profile.qemu_cpu,
        "ro.product.cpu.abi": "arm64-v8a",
        "ro.product.cpu.abilist": "arm64-v8a",
        "ro.kernel.qemu": "1",
    }


def not_built() -> str | None:
    """None when the arm64 device can start here, else the one-line reason with how to build it."""
    problem = rootfs.built()
    return None if problem is None else f"arm64 device not built ({problem}): run `{HOW_TO_BUILD}` (see README, ARM64)"


def required() -> bool:
    return os.environ.get(REQUIRED_ENV, "") == "required"


class Arm64LoopbackDevice(LoopbackDevice):
    def __init__(self, root, props: dict[str, str] | None = None, *, profile: str = DEFAULT_PROFILE,
                 bare: bool = False, **faults):
        self.profile = get_profile(profile)
        self.bare = bare
        super().__init__(root, {**arm64_props(self.profile, bare=bare), **(props or {})}, **faults)

    def _sandbox_argv(self, bwrap: str) -> list[str]:
        guest_root = rootfs.home() / "bare" if self.bare else rootfs.root_dir()
        return guest_argv(guest_root, self.profile, cpu_sysfs(self.profile, rootfs.home()),
                          binds=[(self._system_bin, SYSTEM_BIN, False), (self.root, DEVICE_TMP, True)])
