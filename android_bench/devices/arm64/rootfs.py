"""The arm64 root: Debian bookworm arm64 (debootstrap, second stage under qemu), Python 3.11 with the aarch64
wheels of the runtimes (the same versions as this machine's), and a static busybox for the libc-less sandbox.

Each step records what it was made from in state.json and is skipped when that has not changed, so `setup`
is cheap the second time. The root is built under a temporary name and renamed when its Debian part is
complete, so a killed setup never leaves a half-made root that looks usable.
"""
from __future__ import annotations

import json
import os
import shutil
from importlib import metadata
from pathlib import Path

from android_bench.devices.cache import cache_home
from android_bench.devices.arm64 import host
from android_bench.devices.arm64.profiles import DEFAULT_PROFILE, get_profile
from android_bench.devices.arm64.sandbox import cpu_sysfs, run_in_guest

SUITE = "bookworm"
# busybox-static: the static shell of the bare sandbox; python3: the Python runner's interpreter.
DEBIAN_PACKAGES = ("python3", "busybox-static")
VENV = "/opt/venv"  # the guest's Python for --device-python: VENV/bin/python
PYTHON_TAG = "3.11"  # bookworm's python3
# The runtimes the Python runner needs on the device, pinned to this machine's versions so ARM and x86 run
# the same releases. ai-edge-litert's aarch64 wheel is tagged manylinux_2_27 only: list every tag glibc 2.36 runs.
RUNTIMES = ("numpy", "ai-edge-litert", "onnxruntime")
AARCH64_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_17_aarch64",
                     "manylinux2014_aarch64")


def home() -> Path:
    return cache_home() / "arm64"


def root_dir() -> Path:
    return home() / "root"


def guest_python() -> str:
    return f"{VENV}/bin/python"


def site_packages(root: Path) -> Path:
    return root / VENV.lstrip("/") / "lib" / f"python{PYTHON_TAG}" / "site-packages"


def runtime_pins() -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in RUNTIMES]


def _state_path() -> Path:
    return home() / "state.json"


def read_state() -> dict:
    try:
        return json.loads(_state_path().read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _record(step: str, value) -> None:
    state = read_state()
    state[step] = value
    tmp = _state_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, _state_path())


def build_debian(log=print) -> Path:
    """debootstrap --foreign on the host, the second stage under qemu (chroot, in a private mount namespace so
    its /proc and /sys mounts vanish with it), then the apt cache dropped (about 200 MB)."""
    root = root_dir()
    want = {"suite": SUITE, "packages": list(DEBIAN_PACKAGES)}
    if root.is_dir() and read_state().get("debian") == want:
        return root
    if not host.is_root():
        raise host.HostError("debootstrap needs root (it creates device nodes and chroots): rerun as root or with sudo")
    building = home() / "root.building"
    shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    building.parent.mkdir(parents=True, exist_ok=True)
    mirror = host.debian_mirror()
    log(f"debootstrap --arch=arm64 --variant=minbase --foreign {SUITE} ({mirror}): about 1 min")
    host.run(["debootstrap", "--arch=arm64", "--variant=minbase", "--foreign",
              f"--include={','.join(DEBIAN_PACKAGES)}", SUITE, str(building), mirror], what="debootstrap (first stage)")
    log("debootstrap --second-stage under qemu-aarch64: about 5 min")
    host.run(["unshare", "--mount", "--propagation", "private", "chroot", str(building),
              "/debootstrap/debootstrap", "--second-stage"], what="debootstrap --second-stage (under qemu)",
             timeout=3600)
    shutil.rmtree(building / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    (building / "var" / "cache" / "apt" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    log(f"python3 -m venv --without-pip {VENV} (in the root)")
    host.run(["unshare", "--mount", "--propagation", "private", "chroot", str(building), "/usr/bin/python3", "-m",
              "venv", "--without-pip", VENV], what="creating the guest venv (under qemu)")
    os.replace(building, root)
    _record("debian", want)
    return root


def install_runtimes(root: Path, log=print) -> list[str]:
    """The aarch64 wheels, resolved and unpacked by this machine's pip into the guest venv (`--platform`):
    fast (no emulated pip) and with this machine's index and certificates."""
    pins = runtime_pins()
    if read_state().get("runtimes") == pins and site_packages(root).is_dir():
        return pins
    log(f"pip install --platform {AARCH64_PLATFORMS[0]} ... {' '.join(pins)}: about 1 min")
    _pip_install_aarch64(site_packages(root), pins, platforms=AARCH64_PLATFORMS,
                         what=f"the aarch64 wheels of {' '.join(pins)}")
    _record("runtimes", pins)
    return pins


def _pip_install_aarch64(target: Path, requirements, *, platforms, what: str, options=()) -> None:
    """This machine's pip installs aarch64 wheels into a staging folder that then replaces `target`, so an
    interrupted install never leaves a half-filled one that the next setup would take as done."""
    import subprocess
    import sys

    staging = target.with_name(target.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-compile", *options, "--target", str(staging),
           "--only-binary=:all:", "--python-version", PYTHON_TAG, "--implementation", "cp",
           *(f"--platform={p}" for p in platforms), *requirements]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1][:300]
        raise host.HostError(f"pip could not fetch {what}: {said}")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


# TorchScript on ARM: PyPI's aarch64 torch 2.9.1 is a CPU build (torch 2.13's is CUDA and does not load without
# CUDA libraries) and loads the .pt/.ptl that torch 2.13 writes. Its metadata asks for CUDA packages (markers pip
# evaluates for this x86 machine under --platform), so it goes in with --no-deps plus what `import torch` needs,
# in its own folder: the Python runner's environment stays torch-free (a phone has no torch either).
TORCH = "torch==2.9.1"
TORCH_DEPS = ("typing_extensions", "sympy", "mpmath", "filelock", "networkx", "jinja2", "markupsafe", "fsspec")
TORCH_DIR = "/opt/torch"  # PYTHONPATH for the guest's TorchScript runs


def install_torch(root: Path, log=print) -> str:
    want = [TORCH, *TORCH_DEPS]
    target = root / TORCH_DIR.lstrip("/")
    if read_state().get("torch") == want and target.is_dir():
        return TORCH
    log(f"pip install --no-deps --platform {AARCH64_PLATFORMS[0]} {TORCH} (CPU build, about 480 MB unpacked)")
    _pip_install_aarch64(target, want, platforms=(*AARCH64_PLATFORMS, "any"), options=("--no-deps",),
                         what=f"the aarch64 {TORCH}")
    _record("torch", want)
    return TORCH


def install_bare(root: Path) -> Path:
    """The libc-less sandbox's /bin: the root's static busybox and one link per applet, nothing else. It stands
    for an Android phone: a shell, but no glibc (bionic instead)."""
    bare = home() / "bare" / "bin"
    busybox = root / "bin" / "busybox"
    if (bare / "busybox").is_file() and (bare / "sh").is_symlink():
        return bare
    shutil.rmtree(bare.parent, ignore_errors=True)
    bare.mkdir(parents=True)
    shutil.copy2(busybox, bare / "busybox")
    applets = host.run([str(bare / "busybox"), "--list"], what="busybox --list (static aarch64, under qemu)")
    for applet in applets.split():
        if applet != "busybox":
            (bare / applet).symlink_to("busybox")
    return bare


def smoke_check(root: Path) -> str:
    """Import the runtimes under qemu with the default profile: the one-line proof that the root works."""
    profile = get_profile(DEFAULT_PROFILE)
    code = ("import platform, numpy, onnxruntime, ai_edge_litert.interpreter as i; "
            "print(platform.machine(), 'python', platform.python_version(), 'numpy', numpy.__version__, "
            "'onnxruntime', onnxruntime.__version__)")
    done = run_in_guest(root, profile, cpu_sysfs(profile, home()), [guest_python(), "-c", code], timeout=900)
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1][:300]
        raise host.HostError(f"the arm64 root's Python cannot import the runtimes: {said}; rerun setup with --force")
    return done.stdout.strip()


def built() -> str | None:
    """None when the arm64 device is ready to use, else what is missing (one phrase)."""
    problem = host.binfmt_state()
    if problem:
        return problem
    state = read_state()
    if not root_dir().is_dir() or "debian" not in state:
        return f"no arm64 root at {root_dir()}"
    if state.get("runtimes") != runtime_pins():
        return f"the arm64 root lacks the aarch64 runtimes {' '.join(runtime_pins())}"
    if not (home() / "bare" / "bin" / "sh").is_symlink():
        return "no bare (libc-less) sandbox"
    if state.get("torch", [None])[0] != TORCH:
        return f"the arm64 root lacks the aarch64 {TORCH} for TorchScript"
    return None
