"""The CPU models the arm64 device emulates, pinned per profile: what XNNPACK, MLAS and the int8 kernels see.

qemu-user's default `-cpu max` exposes every feature QEMU implements, SME included, and with it XNNPACK's int8
kernels gave wrong results (max abs 6.0, cosine 0.96-0.97, in TFLite and ExecuTorch). No phone we target has
SME, so a profile names a real class of phone core and never `max` with SME (or SVE) left on.
"""
from __future__ import annotations

from dataclasses import dataclass

from models.errors import UserError

# Linux arm64 hwcaps (arch/arm64/include/uapi/asm/hwcap.h): what the guest's auxv must (not) carry per profile.
HWCAP_ASIMDDP = 1 << 20  # SDOT/UDOT: dot-product int8 kernels
HWCAP_SVE = 1 << 22
HWCAP2_I8MM = 1 << 13  # SMMLA/UMMLA: int8 matrix-multiply kernels
HWCAP2_SME = 1 << 23


@dataclass(frozen=True)
class CpuProfile:
    name: str
    qemu_cpu: str  # QEMU_CPU for qemu-aarch64
    midr: int  # MIDR_EL1 the fake /sys reports, QEMU's value for the model (cpuinfo picks kernels by it)
    like: str  # which phones' big cores this stands for
    dotprod: bool
    i8mm: bool


PROFILES = {
    "a76": CpuProfile("a76", "cortex-a76", 0x414FD0B1, "Cortex-A76 class (Pixel 4-6 big cores): ARMv8.2, dot-product",
                      dotprod=True, i8mm=False),
    # QEMU 7.2 has no Cortex-X/A7xx model with i8mm; `max` without SVE and SME is ARMv8.6+/v9 with i8mm, like
    # the Cortex-X/A715 cores of Pixel 7-8. Its MIDR is QEMU's own (implementer 0, part 'Q').
    "i8mm": CpuProfile("i8mm", "max,sve=off,sme=off", 0x000F0510,
                       "ARMv8.6+ with i8mm (Pixel 7-8 class): dot-product and int8 matrix multiply",
                       dotprod=True, i8mm=True),
}
DEFAULT_PROFILE = "a76"


class UnsafeCpuError(UserError):
    """A QEMU CPU model that exposes SME (or SVE), which no target phone has and which broke XNNPACK int8."""


def check_safe(qemu_cpu: str) -> str:
    """`qemu_cpu` unchanged if it cannot expose SME or SVE; `max`/`any` must switch both off explicitly."""
    model, *options = qemu_cpu.split(",")
    if model in ("max", "any") and not {"sve=off", "sme=off"} <= set(options):
        raise UnsafeCpuError(f"QEMU_CPU={qemu_cpu!r} exposes SME/SVE, which broke XNNPACK int8 (max abs 6.0): use "
                             f"'max,sve=off,sme=off' or a named core such as cortex-a76")
    return qemu_cpu


def get_profile(name: str) -> CpuProfile:
    if name not in PROFILES:
        raise UserError(f"unknown CPU profile {name!r}; choose one of {', '.join(PROFILES)}")
    profile = PROFILES[name]
    check_safe(profile.qemu_cpu)
    return profile


def fake_cpu_sysfs(profile: CpuProfile, folder, cores: int) -> None:
    """A minimal /sys/devices/system/cpu for the guest: under bwrap it has none, and ExecuTorch's cpuinfo then
    fails to initialise and segfaults. possible/present/online and each core's MIDR, nothing a real kernel would
    not say (features come from the guest's hwcaps, which QEMU sets from the model)."""
    from pathlib import Path

    folder = Path(folder)
    span = "0" if cores == 1 else f"0-{cores - 1}"
    for name in ("possible", "present", "online"):
        _write(folder / name, f"{span}\n")
    for core in range(cores):
        _write(folder / f"cpu{core}" / "regs" / "identification" / "midr_el1", f"0x{profile.midr:016x}\n")
        _write(folder / f"cpu{core}" / "online", "1\n")


def _write(path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
