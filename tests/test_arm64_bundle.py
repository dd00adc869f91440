"""The arm64-v8a runtime bundle (android_bench.runners.bundle) made from the arm64 root, with torch: every ELF is
aarch64 and finds its libraries inside the bundle, and in the libc-less arm64 sandbox (a static busybox and the
bundle, under qemu-user) its Python imports the runtimes and runs a tiny TFLite, ONNX and TorchScript artifact,
and its et_bench_runner a tiny .pte, computing what x86 computes (the ARM tier's tolerances)."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

pytestmark = [pytest.mark.arm64, pytest.mark.timeout(1200)]
FORMATS = ("tflite", "onnx", "torchscript", "executorch")
SEQ_LEN = 16
# As tests/test_arm64_equivalence.py: fp32 max abs diff against x86, TFLite's kernels 1e-3 (as on x86).
ATOL = {"tflite": 1e-3, "onnx": 1e-4, "executorch": 1e-4, "torchscript": 1e-4}
EM_AARCH64 = 183
GUEST = "/data/local/tmp"


@pytest.fixture(scope="module")
def arm64_bundle(arm64_ready, tmp_path_factory):
    from android_bench.runners.bundle import build

    return build("arm64-v8a", tmp_path_factory.mktemp("arm64-bundle"), torch=True, log=lambda line: None)


@pytest.fixture(scope="module")
def guest(arm64_ready, arm64_bundle, tmp_path_factory):
    """(run(command) in the bare arm64 sandbox, host folder bound at /data/local/tmp, the inputs, the artifacts):
    the parts side by side at bundle/, py/ (guest_outputs.py, models/, export/), art/<format>, in/."""
    import models
    from android_bench.devices.arm64 import rootfs
    from android_bench.devices.arm64.profiles import DEFAULT_PROFILE, get_profile
    from android_bench.devices.arm64.sandbox import cpu_sysfs, guest_argv
    from android_bench.harness.artifacts import ensure_artifact
    from android_bench.runners.python import ROOT, SOURCES

    folder = tmp_path_factory.mktemp("arm64-bundle-guest")
    for rel in SOURCES:
        (folder / "py" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, folder / "py" / rel)
    shutil.copyfile(ROOT / "tests" / "guest_outputs.py", folder / "py" / "guest_outputs.py")
    made = {fmt: ensure_artifact(folder / "made", "bert-tiny", fmt, "fp32", weights="random", seq_len=SEQ_LEN)
            for fmt in FORMATS}
    for fmt, artifact in made.items():
        shutil.copytree(artifact, folder / "art" / fmt)
    inputs = models.load("bert-tiny", weights="random").inputs(seq_len=SEQ_LEN, batch=1)
    (folder / "in").mkdir()
    (folder / "out").mkdir()
    np.savez(folder / "in" / "inputs.npz", **inputs)
    for name, array in inputs.items():
        array.astype(np.int64).tofile(folder / "in" / f"{name}.bin")
    profile = get_profile(DEFAULT_PROFILE)
    binds = [(folder, GUEST, True), *((p.folder, f"{GUEST}/bundle/{p.name}", False)
                                      for p in arm64_bundle.parts.values())]
    (folder / "bundle").mkdir()
    (folder / "bundle" / "tmp").mkdir()  # the launcher's HOME: the parts are bound read-only here
    argv = guest_argv(rootfs.home() / "bare", profile, cpu_sysfs(profile, rootfs.home()), binds=binds, chdir=GUEST)

    def run(command: str) -> subprocess.CompletedProcess:
        return subprocess.run([*argv, "/bin/sh", "-c", command], capture_output=True, text=True, timeout=900,
                              env={"PATH": "/bin"})

    return run, folder, inputs, made


def test_parts_are_aarch64_and_closed(arm64_bundle):
    from android_bench.runners.bundle import check_closed
    from android_bench.runners.bundle._elf import elves

    base, torch = arm64_bundle.parts["base"], arm64_bundle.parts["torch"]
    check_closed([base.folder, torch.folder])
    assert (base.folder / "lib" / "ld-linux-aarch64.so.1").is_file()
    for part in (base, torch):
        machines = {int.from_bytes(p.read_bytes()[18:20], "little") for p in elves(part.folder)}
        assert machines == {EM_AARCH64}, part.name


def test_no_libc_in_the_sandbox(guest):
    run, *_ = guest
    assert run("ls /lib").returncode != 0 and run("ls /usr").returncode != 0


def test_python_imports_and_runs_like_x86(guest):
    from export.runtimes import load_artifact

    run, folder, inputs, made = guest
    imports = run("bundle/base/bin/python -c 'import numpy, onnxruntime, ai_edge_litert.interpreter, torch, "
                  "platform; print(platform.machine(), torch.__version__)'")
    assert imports.returncode == 0 and imports.stdout.split()[0] == "aarch64", imports.stdout + imports.stderr[-2000:]
    fmts = ("tflite", "onnx", "torchscript")
    specs = " ".join(f"art/{fmt},in/inputs.npz,out/{fmt}.npz" for fmt in fmts)
    done = run(f"bundle/base/bin/python py/guest_outputs.py {specs}")
    assert done.returncode == 0 and "GUEST-OUTPUTS-DONE" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    for fmt in fmts:
        x86 = load_artifact(made[fmt], threads=1).run(inputs)
        with np.load(folder / "out" / f"{fmt}.npz") as data:
            assert sorted(data.files) == sorted(x86)
            diff = max(float(np.max(np.abs(data[k].astype(np.float64) - x86[k]))) for k in x86)
        assert diff <= ATOL[fmt], f"{fmt}: max abs diff {diff}"


def test_et_bench_runner_runs_a_pte_like_x86(guest):
    from export.runtimes import load_artifact

    run, folder, inputs, made = guest
    manifest = json.loads((made["executorch"] / "manifest.json").read_text())
    names = [i["name"] for i in manifest["inputs"]]
    done = run(f"mkdir -p out/et && bundle/base/tools/et_bench_runner --model art/executorch/{manifest['file']['name']} "
               f"--warmup 0 --num-runs 1 --threads 1 --input-shapes {','.join([f'1x{SEQ_LEN}'] * len(names))} "
               f"--input-files {':'.join(f'in/{n}.bin' for n in names)} --output-dir out/et")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    x86 = load_artifact(made["executorch"], threads=1).run(inputs)
    for i, spec in enumerate(manifest["outputs"]):
        arm = np.load(folder / "out" / "et" / f"output_{i}.npy")
        assert float(np.max(np.abs(arm.astype(np.float64) - x86[spec["name"]]))) <= ATOL["executorch"], spec["name"]
