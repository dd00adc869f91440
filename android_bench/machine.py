"""This machine's CPU, recorded in every benchmark JSON and table header, and the benchmarks' run history.

The CPU under our sessions changes (a 2-core AVX2-only EPYC one day, an AVX-512/AMX Xeon the next) and int8 and
thread-scaling figures depend on it, so every benchmark records `describe()` and appends one JSON per run to the
history folder (`save_run`); `previous_run` finds the last run of the same benchmark on the same kind of CPU
(same model name and SIMD flags) to compare a change with. The history folder sits beside the benchmark's
output folder (OUT/../history: build/history with the default --out of every benchmark).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
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


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def save_run(benchmark: str, report: dict, history: Path) -> Path:
    """Write this run (`report` with its "machine") as history/<UTC time>-<benchmark>.json, atomically."""
    from export import write_json_atomic

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = Path(history) / f"{stamp}-{benchmark}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"benchmark": benchmark, "time_utc": stamp, "commit": _commit(),
                             "command": [Path(sys.argv[0]).name, *sys.argv[1:]], "report": report})
    return path


def previous_run(benchmark: str, machine: dict, history: Path, *, before: Path | None = None) -> dict | None:
    """The newest history entry of `benchmark` on the same kind of CPU as `machine` (older than `before`), with
    its "path"; None when there is none."""
    entries = sorted(Path(history).glob(f"*-{benchmark}.json"), reverse=True) if Path(history).is_dir() else []
    for path in entries:
        if before is not None and path.name >= Path(before).name:
            continue
        try:
            entry = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # a damaged entry is skipped, not fatal: history is for comparing, never an input
        if entry.get("report", {}).get("machine", {}).get("kind") == machine["kind"]:
            return {**entry, "path": str(path)}
    return None

