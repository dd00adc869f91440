"""ARM64 instructions per inference of each artifact, executed by the aarch64 runtimes on the phone's own kernels.

qemu-user cannot time a phone, but it can count: Debian's dynamic `qemu-aarch64` (package qemu-user; the static
build has no plugin support) loads a TCG plugin (insn_count.c, built here on demand with gcc) that counts every
guest instruction executed. A count is exact and repeatable and does not depend on the host; it is not time
(memory stalls and IPC differ from core to core), but the BERT/SqueezeBERT ratio of instructions is the best
estimate of the phone ratio that can be made without a phone, and a regression check no noise can hide.

Per inference = (count of BASE + REPEAT runs - count of BASE runs) / REPEAT: start-up, imports, loading and the
first inference cancel out. Each count runs at 1 thread inside the arm64 sandbox (bwrap with the arm64 root as
/ and the profile's CPU model), the dynamic qemu started through this machine's own loader and libraries bound
into the guest at /x86. ONNX and TFLite run in the guest's Python (count_guest.py, the desktop runtimes'
interface); ExecuTorch in the cross-built native runner (et_bench_runner), fed generated ids of the same shape.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from android_bench.devices.arm64 import host
from android_bench.devices.arm64 import rootfs
from android_bench.devices.arm64.profiles import CpuProfile
from android_bench.devices.arm64.sandbox import cpu_sysfs, guest_argv

PLUGIN_SOURCE = Path(__file__).with_name("insn_count.c")
QEMU = Path("/usr/bin/qemu-aarch64")  # Debian's qemu-user: dynamic, loads plugins
HOST_LIB = Path("/usr/lib/x86_64-linux-gnu")  # the dynamic qemu's loader and libraries, bound into the guest
MARKER = "INSN-COUNT="
BASE, REPEAT = 1, 1
FORMATS = ("tflite", "onnx", "executorch")
REPO = Path(__file__).resolve().parents[2]
TIMEOUT_S = 3600


def label(profile: str) -> str:
    return f"ARM64 instructions (emulated {profile}), not time"


def plugin() -> Path:
    """The counting plugin, compiled with the system gcc once per source version (cached beside the root)."""
    source = PLUGIN_SOURCE.read_bytes()
    out = rootfs.home() / "plugin" / f"insn_count-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if out.is_file():
        return out
    gcc = shutil.which("gcc")
    if gcc is None:
        raise host.HostError("counting builds its qemu plugin with gcc: apt-get install gcc")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    host.run([gcc, "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-o", str(tmp), str(PLUGIN_SOURCE)],
             what="building the instruction-counting plugin", timeout=120)
    os.replace(tmp, out)
    return out


def qemu() -> Path:
    if not QEMU.is_file():
        raise host.HostError(f"counting needs Debian's dynamic {QEMU} (the static build loads no plugins): run "
                             "`python -m android_bench.arm64 setup` or apt-get install --no-install-recommends qemu-user")
    return QEMU


@dataclass(frozen=True)
class Guest:
    """One counted command: argv inside the guest and the (host, guest) folders it reads."""
    argv: list
    binds: tuple  # (host path, guest path)
    runner: str


def python_guest(artifact: Path, inputs: Path, runs: int) -> Guest:
    argv = ["/opt/venv/bin/python", "/src/android_bench/arm64/count_guest.py", "--artifact", "/art",
            "--inputs", f"/inputs/{inputs.name}", "--runs", str(runs)]
    return Guest(argv, ((REPO, "/src"), (artifact, "/art"), (inputs.parent, "/inputs")), "python")


def executorch_guest(artifact: Path, manifest: dict, seq_len: int, tools: Path, runs: int) -> Guest:
    """The native runner's own command line (runners.executorch), its binary started through the glibc loader it
    ships with: its sh wrapper would start the binfmt qemu, which counts nothing."""
    from android_bench.runners.native.cross import target
    from android_bench.runners import Pushed, Settings
    from android_bench.runners.executorch import ExecutorchRunner

    pushed = Pushed(model=f"/art/{manifest['file']['name']}", folder="/art", manifest=manifest)
    argv = ExecutorchRunner().command("/", pushed, Settings(threads=1, warmup=0, runs=runs, seq_len=seq_len))
    loader = target("arm64-v8a").loader
    return Guest([f"/tools/{loader}", "--library-path", "/tools", "/tools/et_bench_runner.bin", *argv[1:]],
                 ((artifact, "/art"), (tools, "/tools")), "et_bench_runner")


def guest_maker(fmt: str, artifact: Path, manifest: dict, *, inputs: Path, seq_len: int, tools: Path | None):
    """runs -> the Guest that loads `artifact` and runs it that many times: the native runner for ExecuTorch (fed
    generated ids of the length), the guest's Python for the others (fed `inputs`)."""
    if fmt == "executorch":
        return lambda runs: executorch_guest(artifact, manifest, seq_len, tools, runs)
    return lambda runs: python_guest(artifact, inputs, runs)


def count(guest: Guest, profile: CpuProfile) -> tuple[int, list[str]]:
    """Guest instructions of one whole run of `guest` (start-up to exit), and the full command line."""
    root = rootfs.root_dir()
    binds = [(HOST_LIB, "/x86/lib", False), (qemu(), "/qemu/qemu-aarch64", False),
             (plugin(), "/qemu/insn_count.so", False), *[(h, g, False) for h, g in guest.binds]]
    argv = ["setarch", "-R", *guest_argv(root, profile, cpu_sysfs(profile, rootfs.home()), binds=binds),
            "/x86/lib/ld-linux-x86-64.so.2", "--library-path", "/x86/lib", "/qemu/qemu-aarch64",
            "-cpu", profile.qemu_cpu, "-plugin", "/qemu/insn_count.so", *guest.argv]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as exc:
        raise host.HostError(f"{guest.runner} under the counting qemu did not finish in {TIMEOUT_S} s") from exc
    lines = [line for line in done.stderr.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        said = [line for line in (done.stderr + done.stdout).strip().splitlines() if not line.startswith(MARKER)]
        raise host.HostError(f"{guest.runner} under the counting qemu failed (exit {done.returncode}): "
                             f"{(said or ['no output'])[-1][:240]}")
    return int(lines[-1][len(MARKER):]), argv


def per_inference(make_guest, profile: CpuProfile) -> dict:
    """Instructions per inference: `make_guest(runs)` counted at BASE and BASE + REPEAT runs."""
    started = time.monotonic()
    (low, argv_low), (high, argv_high) = count(make_guest(BASE), profile), count(make_guest(BASE + REPEAT), profile)
    return {"instructions_per_inference": (high - low) / REPEAT, "counts": {str(BASE): low, str(BASE + REPEAT): high},
            "commands": [argv_low, argv_high], "runner": make_guest(BASE).runner,
            "seconds": round(time.monotonic() - started, 1)}
