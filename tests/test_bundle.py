"""The x86_64 runtime bundle (android_bench.runners.bundle): built once per module with torch, its parts checked
closed, pushed as tars over real adb to a device that has nothing but a static busybox (no libc: an x86_64
emulator's view for a glibc program), unpacked there with busybox tar, and run: the bundle's Python opens a tiny
ONNX, TFLite and TorchScript artifact, et_bench_runner a tiny .pte, and their outputs equal this machine's."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from android_bench.devices.loopback.bare import BareLoopbackDevice
from tests.conftest import run_cli
from tests.loopback_fixtures import ADB_BINARIES, attached, running_adb_server

pytestmark = pytest.mark.timeout(900)
FORMATS = ("onnx", "tflite", "torchscript", "executorch")
SEQ_LEN = 16
ATOL = 1e-5
REMOTE = "/data/local/tmp"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from android_bench.runners.bundle import build

    out = tmp_path_factory.mktemp("bundle")
    return out, build("x86_64", out, torch=True, log=lambda line: None)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    from android_bench.harness.artifacts import ensure_artifact

    folder = tmp_path_factory.mktemp("bundle-artifacts")
    return {fmt: ensure_artifact(folder, "bert-tiny", fmt, "fp32", weights="random", seq_len=SEQ_LEN)
            for fmt in FORMATS}


@pytest.fixture(scope="module")
def adb_server_debian(tmp_path_factory):
    if not ADB_BINARIES["debian"].is_file():
        pytest.fail(f"no Debian adb at {ADB_BINARIES['debian']}: apt-get install adb (install.sh does)")
    with running_adb_server(str(ADB_BINARIES["debian"]), tmp_path_factory.mktemp("bundle-adb-home")) as server:
        yield server


@pytest.fixture(scope="module")
def device(adb_server_debian, tmp_path_factory):
    """(adb(*args), host folder of /data/local/tmp) of a bare x86_64 device."""
    bare = BareLoopbackDevice(tmp_path_factory.mktemp("bare-data-local-tmp"))
    with attached(adb_server_debian, bare):
        yield (lambda *args, timeout=300: adb_server_debian.adb("-s", bare.serial, *args, timeout=timeout)), bare.root


@pytest.fixture(scope="module")
def unpacked(bundle, device):
    """The parts' tars pushed and unpacked side by side at /data/local/tmp/bundle with the device's own tar."""
    _, made = bundle
    adb, _ = device
    for part in made.parts.values():
        assert adb("push", str(part.tar), f"{REMOTE}/{part.tar.name}").returncode == 0
        done = adb("shell", f"mkdir -p {REMOTE}/bundle && cd {REMOTE}/bundle && tar -xf ../{part.tar.name} "
                            f"&& rm ../{part.tar.name}")
        assert done.returncode == 0, done.stdout + done.stderr
    return f"{REMOTE}/bundle"


def test_bare_device_has_no_libc(device):
    adb, root = device
    assert adb("shell", "ls /lib").returncode != 0 and adb("shell", "ls /usr").returncode != 0
    # /sys: only /sys/devices/system/cpu, as an emulator shows it (cores and frequencies for the harness)
    assert adb("shell", "ls /").stdout.split() == ["bin", "data", "dev", "proc", "sys", "system"]
    assert adb("shell", "getprop ro.product.cpu.abi").stdout.strip() == "x86_64"
    shutil.copy2("/usr/bin/true", root / "true")  # dynamically linked: needs /lib64/ld-linux-x86-64.so.2
    done = adb("shell", f"{REMOTE}/true")
    assert done.returncode == 127, done.stdout + done.stderr


def test_parts_are_closed_and_described(bundle):
    from android_bench.runners.bundle import check_closed

    out, made = bundle
    base, torch = made.parts["base"], made.parts["torch"]
    check_closed([base.folder, torch.folder])
    assert (base.folder / "lib" / "ld-linux-x86-64.so.2").is_file() and (base.folder / "bin" / "python").is_file()
    assert (base.folder / "tools" / "et_bench_runner").read_text().startswith("#!/bin/sh")
    for part in made.parts.values():
        manifest = json.loads((part.folder / "part.json").read_text())
        on_disk = sorted(p.relative_to(part.folder).as_posix() for p in part.folder.rglob("*")
                         if p.is_file() and p.name != "part.json")
        assert [f["name"] for f in manifest["files"]] == on_disk
        assert (manifest["schema"], manifest["abi"], manifest["part"]) == (1, "x86_64", part.name)
        assert (part.files, part.bytes, part.sha256) == (len(on_disk), manifest["bytes"], manifest["sha256"])
        lines = "".join(f"{f['name']}\0{f['sha256']}\n" for f in manifest["files"])
        assert hashlib.sha256(lines.encode()).hexdigest() == part.sha256
    assert not any("__pycache__" in f or "/tests/" in f for f in (p.as_posix() for p in base.folder.rglob("*")))


def test_tar_is_deterministic_and_complete(bundle, tmp_path):
    import tarfile

    from android_bench.runners.bundle._pack import write_tar

    _, made = bundle
    base = made.parts["base"]
    again = write_tar(base.folder, tmp_path / "again.tar", "base")
    assert again.read_bytes() == base.tar.read_bytes()
    with tarfile.open(base.tar) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["base/bin/python"].mode == 0o755 and members["base/bin/python"].mtime == 0
    assert len([m for m in members.values() if m.isfile()]) == base.files + 1  # and part.json


def test_check_closed_catches_a_missing_library(bundle, tmp_path):
    from android_bench.runners.bundle import BundleError, check_closed

    _, made = bundle
    copy = tmp_path / "base"
    shutil.copytree(made.parts["base"].folder, copy, copy_function=_link)
    (copy / "lib" / "libz.so.1").unlink()
    with pytest.raises(BundleError, match=r"needs libz\.so\.1, which is in none of the bundle's lib/ folders"):
        check_closed([copy])


def _link(src, dst):
    Path(dst).hardlink_to(src)


def test_second_build_reuses_the_parts(bundle):
    out, made = bundle
    stamps = {name: (p.folder / "part.json").stat().st_mtime_ns for name, p in made.parts.items()}
    done = run_cli("android_bench.runners.bundle", "--abi", "x86_64", "--out", str(out), "--torch")
    assert done.returncode == 0, done.stderr
    for name, part in made.parts.items():
        assert "up to date" in done.stdout and f"x86_64/{name}: {part.bytes} bytes, {part.files} files" in done.stdout
        assert (part.folder / "part.json").stat().st_mtime_ns == stamps[name]


def test_unknown_abi_is_one_line(tmp_path):
    done = run_cli("android_bench.runners.bundle", "--abi", "mips", "--out", str(tmp_path))
    assert done.returncode == 2 and "invalid choice: 'mips'" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture(scope="module")
def staged(device, artifacts):
    """On the device: py/ (guest_outputs.py with models/ and export/), art/<format>, in/ (the inputs as .npz and
    as raw int64 files for et_bench_runner); returns the inputs."""
    import models
    from android_bench.runners.python import ROOT, SOURCES

    _, root = device
    for rel in SOURCES:
        (root / "py" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, root / "py" / rel)
    shutil.copyfile(ROOT / "tests" / "guest_outputs.py", root / "py" / "guest_outputs.py")
    for fmt, artifact in artifacts.items():
        shutil.copytree(artifact, root / "art" / fmt)
    inputs = models.load("bert-tiny", weights="random").inputs(seq_len=SEQ_LEN, batch=1)
    (root / "in").mkdir()
    (root / "out").mkdir()
    np.savez(root / "in" / "inputs.npz", **inputs)
    for name, array in inputs.items():
        array.astype(np.int64).tofile(root / "in" / f"{name}.bin")
    return inputs


def _max_diff(ours: dict, theirs: dict) -> float:
    assert sorted(ours) == sorted(theirs)
    return max(float(np.max(np.abs(ours[k].astype(np.float64) - theirs[k]))) for k in ours)


def test_python_runs_onnx_tflite_torchscript_like_this_machine(device, unpacked, staged, artifacts):
    from export.runtimes import load_artifact

    adb, root = device
    fmts = ("onnx", "tflite", "torchscript")
    specs = " ".join(f"art/{fmt},in/inputs.npz,out/{fmt}.npz" for fmt in fmts)
    done = adb("shell", f"cd {REMOTE} && {unpacked}/base/bin/python py/guest_outputs.py {specs}")
    assert done.returncode == 0 and "GUEST-OUTPUTS-DONE" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    for fmt in fmts:
        with np.load(root / "out" / f"{fmt}.npz") as data:
            bundled = {k: data[k] for k in data.files}
        assert _max_diff(bundled, load_artifact(artifacts[fmt], threads=1).run(staged)) <= ATOL, fmt


def test_et_bench_runner_runs_a_pte_like_this_machine(device, unpacked, staged, artifacts):
    from export.runtimes import load_artifact

    adb, root = device
    manifest = json.loads((artifacts["executorch"] / "manifest.json").read_text())
    names = [i["name"] for i in manifest["inputs"]]
    done = adb("shell", f"cd {REMOTE} && mkdir -p out/et && {unpacked}/base/tools/et_bench_runner "
                        f"--model art/executorch/{manifest['file']['name']} --warmup 0 --num-runs 1 --threads 1 "
                        f"--input-shapes {','.join([f'1x{SEQ_LEN}'] * len(names))} "
                        f"--input-files {':'.join(f'in/{n}.bin' for n in names)} --output-dir out/et")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    bundled = {o["name"]: np.load(root / "out" / "et" / f"output_{i}.npy") for i, o in enumerate(manifest["outputs"])}
    assert _max_diff(bundled, load_artifact(artifacts["executorch"], threads=1).run(staged)) <= ATOL


@pytest.mark.parametrize("cwd, launcher", [("bundle", "base/bin/python"), ("bundle/base/bin", "./python"),
                                           ("/", "data/local/tmp/bundle/base/bin/python")])
def test_launcher_from_a_relative_path_and_another_cwd(device, unpacked, cwd, launcher):
    adb, root = device
    code = "import sys, os, numpy, onnxruntime, ai_edge_litert.interpreter; print(sys.executable, os.environ['HOME'])"
    done = adb("shell", f"cd {cwd if cwd.startswith('/') else REMOTE + '/' + cwd} && {launcher} -c \"{code}\"")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == [f"{unpacked}/base/bin/python", f"{unpacked}/tmp"]
    assert (root / "bundle" / "tmp").is_dir()


def test_launcher_runs_under_mksh(bundle):
    """Android's shell is mksh: the launcher is plain POSIX sh (the device above ran it with busybox ash)."""
    mksh = shutil.which("mksh")
    if mksh is None:
        pytest.skip("no mksh here (apt-get install mksh)")
    _, made = bundle
    base = made.parts["base"].folder
    done = subprocess.run([mksh, "bin/python", "-c", "import sys, numpy; print(sys.executable)"], cwd=base,
                          capture_output=True, text=True, env={}, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == str(base / "bin" / "python"), done.stderr
