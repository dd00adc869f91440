"""This machine's CPU, recorded in every benchmark JSON and table header, and its fp32 roofline.

The CPU under our sessions changes (a 2-core AVX2-only EPYC one day, an AVX-512/AMX Xeon the next) and int8 and
thread-scaling figures depend on it, so every benchmark records `describe()` (and its run in android_bench.measurement.history, compared with runs
on the same kind of CPU: same model name and SIMD flags). `roofline()`: the fp32 peak the FLOP study and the
efficiency study compare achieved GFLOP/s with.
"""
from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

# The flags that change which kernels the runtimes pick (the rest of /proc/cpuinfo's list is kept too).
SIMD = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
        "avx512_bf16", "avx512_fp16", "amx_tile", "amx_int8", "amx_bf16",
        "asimd", "asimddp", "i8mm", "sve", "sve2", "bf16", "sme")


def cpuinfo() -> dict[str, str]:
    """The first value of each key in /proc/cpuinfo (empty off Linux)."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, sep, value = line.partition(":")
            if sep:
                info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return info


def logical_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return list(range(os.cpu_count() or 1))


def physical_cores(cpus: list[int]) -> int | None:
    """(package, core) pairs among `cpus` from sysfs topology (SMT siblings share a core); None without sysfs."""
    topo = Path("/sys/devices/system/cpu")
    try:
        return len({tuple((topo / f"cpu{c}/topology" / f).read_text().strip()
                          for f in ("physical_package_id", "core_id")) for c in cpus})
    except OSError:
        return None


def describe() -> dict:
    """The CPU: model name, architecture, logical CPUs, physical cores, threads per core, SIMD flags, all flags."""
    info = cpuinfo()
    flags = sorted(set((info.get("flags") or info.get("Features") or "").split()))
    cpus = logical_cpus()
    cores = physical_cores(cpus)
    simd = [f for f in SIMD if f in flags]
    name = info.get("model name") or info.get("Hardware") or platform.processor() or platform.machine()
    return {"cpu": name, "arch": platform.machine(), "logical_cpus": len(cpus), "cores": cores,
            "threads_per_core": len(cpus) // cores if cores else None, "simd": simd,
            "kind": f"{name} [{' '.join(simd) or 'no SIMD flags read'}]", "flags": flags}


def header(machine: dict) -> str:
    """One line for a table's title: the CPU, its cores and SIMD flags."""
    return (f"{machine['cpu']}, {machine['cores'] or '?'} cores x {machine['threads_per_core'] or '?'} threads, "
            f"{' '.join(machine['simd']) or 'no SIMD flags read'}")


def _cores() -> tuple[int, str]:
    cpus = logical_cpus()
    how = f"os.sched_getaffinity: {len(cpus)} logical CPUs"
    physical = physical_cores(cpus)  # SMT siblings share one core's FMA units
    if physical:
        return physical, f"{how} on {physical} physical cores (sysfs topology)"
    return len(cpus), f"{how}, counted as cores (no sysfs topology: SMT siblings not merged)"


def _simd_lanes(flags: set[str]) -> tuple[int | None, str]:
    for flag, lanes in (("avx512f", 16), ("avx2", 8), ("avx", 8), ("asimd", 4), ("neon", 4), ("sse2", 4)):
        if flag in flags:
            return lanes, f"cpu flag {flag}: {lanes * 32}-bit vectors = {lanes} fp32 lanes"
    if platform.machine() in ("aarch64", "arm64"):
        return 4, "aarch64: NEON (asimd) is mandatory, 128-bit = 4 fp32 lanes"
    return None, "no SIMD flag known to this tool in /proc/cpuinfo"


def _fma_units(info: dict[str, str], flags: set[str], lanes: int | None) -> tuple[int | None, str]:
    """FMA pipes per core at `lanes` width. An assumption by vendor/family, stated in the returned text."""
    vendor, family, model = info.get("vendor_id", ""), int(info.get("cpu family", "0")), int(info.get("model", "0"))
    if lanes is None:
        return None, "SIMD width unknown"
    if vendor.startswith("GenuineIntel") or vendor.startswith("AuthenticAMD"):
        if "fma" not in flags:
            return 1, "no FMA flag: one add + one multiply pipe per cycle, counted as one FMA-equivalent"
    if vendor.startswith("GenuineIntel"):
        if lanes == 16:
            return 2, ("ASSUMED 2: Xeon Scalable Gold 6xxx/Platinum (Skylake-SP and later) have two 512-bit FMA "
                       "units; Xeon Bronze/Silver, some Gold 5xxx and client cores (Ice/Tiger/Rocket Lake) have "
                       "one, which halves the peak")
        return 2, "Intel Haswell and later: two 256-bit FMA ports (0 and 1)"
    if vendor.startswith("AuthenticAMD"):
        if family == 0x17 and model < 0x30:
            return 1, "AMD Zen/Zen+ (family 17h, model < 30h): two 128-bit FMA pipes = one 256-bit FMA per cycle"
        if lanes == 16 and family == 0x19:
            return 1, "AMD Zen 4 (family 19h with AVX-512): 512-bit ops double-pumped on two 256-bit pipes = one"
        return 2, f"AMD family {family:#x} (Zen 2/3/5): two FMA pipes at full width (Zen 5 mobile double-pumps AVX-512)"
    if lanes == 4 and info.get("CPU implementer"):
        return 2, ("ASSUMED 2: Cortex-A76/A78/Neoverse N1 have two 128-bit FP pipes; Cortex-X1 and later have "
                   "four, little cores (A55) one")
    return None, f"unknown CPU vendor {vendor or platform.machine()!r}: FMA units per core not known"


def _frequency_ghz(cpus: list[int]) -> tuple[float | None, str]:
    khz = []
    for c in cpus:
        try:
            khz.append(int(Path(f"/sys/devices/system/cpu/cpu{c}/cpufreq/cpuinfo_max_freq").read_text()))
        except (OSError, ValueError):
            pass
    if khz:
        return max(khz) / 1e6, "sysfs cpufreq cpuinfo_max_freq (max boost the kernel knows)"
    try:
        mhz = [float(v) for k, v in (line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines()
                                     if line.startswith("cpu MHz"))]
    except OSError:
        mhz = []
    if mhz:
        return max(mhz) / 1e3, ("/proc/cpuinfo 'cpu MHz' (no cpufreq in sysfs, typical of a VM: the current or "
                                "nominal clock, not turbo; AVX-512 licence clocks may be lower)")
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"^CPU max MHz:\s*([\d.]+)", out, re.M) or re.search(r"^CPU MHz:\s*([\d.]+)", out, re.M)
        if m:
            return float(m.group(1)) / 1e3, f"lscpu '{m.group(0).split(':')[0]}'"
    except (OSError, subprocess.SubprocessError):
        pass
    return None, "no cpufreq in sysfs, no 'cpu MHz' in /proc/cpuinfo, nothing from lscpu"


def roofline() -> dict:
    """Peak fp32 FLOP/s = cores x FMA units x SIMD lanes x 2 x frequency; each factor with how it was read."""
    info = cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    cores, cores_how = _cores()
    lanes, lanes_how = _simd_lanes(flags)
    fma, fma_how = _fma_units(info, flags, lanes)
    ghz, ghz_how = _frequency_ghz(logical_cpus())
    factors = (cores, fma, lanes, ghz)
    peak = cores * fma * lanes * 2 * ghz if None not in factors else None
    return {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "cores": cores, "fma_units": fma, "simd_fp32_lanes": lanes, "frequency_ghz": ghz,
        "peak_gflops": peak,
        "formula": "cores x FMA units x SIMD fp32 lanes x 2 (mul+add) x GHz",
        "sources": {"cores": cores_how, "fma_units": fma_how, "simd_fp32_lanes": lanes_how, "frequency_ghz": ghz_how},
    }
