"""The arm64-v8a runtime bundle (android_bench.runners.bundle) made from the arm64 root, with torch: every ELF is
aarch64 and finds its libraries inside the bundle, and in the libc-less arm64 sandbox (a static busybox and the
bundle, under qemu-user) its Python imports the runtimes and runs a tiny TFLite, ONNX and TorchScript artifact,
and its et_bench_runner a tiny .pte, computing what x86 computes (the ARM tier's tolerances): every artifact of the
ARM tier, both tiny models, fp32 and int8."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from tests.arm64_fixtures import MODELS, PRECISIONS, SEQ_LEN

pytestmark = [pytest.mark.arm64, pytest.mark.timeout(1200)]
# As tests/test_arm64_equivalence.py: fp32 max abs diff against x86, TFLite's kernels 1e-3 (as on x86).
ATOL = {"tflite": 1e-3, "onnx": 1e-4, "executorch": 1e-4, "torchscript": 1e-4}
EM_AARCH64 = 183
GUEST = "/data/local/tmp"


@pytest.fixture(scope="module")
def arm64_bundle(arm64_ready, tmp_path_factory):
    from android_bench.runners.bundle import build

    return build("arm64-v8a", tmp_path_factory.mktemp("arm64-bundle"), torch=True, log=lambda line: None)


@pytest.fixture(scope="module")
def guest(arm64_ready, arm64_bundle, arm64_artifacts, tmp_path_factory):
    """(run(command) in the bare arm64 sandbox, host folder bound at /data/local/tmp, the inputs per model, the
    artifacts): the parts side by side at bundle/, py/ (guest_outputs.py, models/, export/), in/<model>.*; every
    artifact of the ARM tier (both tiny models, every format, fp32 and int8) bound read-only at art/."""
    import models
    from android_bench.devices.arm64 import rootfs
    from android_bench.devices.arm64.profiles import DEFAULT_PROFILE, get_profile
    from android_bench.devices.arm64.sandbox import cpu_sysfs, guest_argv
    from android_bench.runners.python import ROOT, SOURCES

    artifacts, made = arm64_artifacts
    folder = tmp_path_factory.mktemp("arm64-bundle-guest")
    for rel in SOURCES:
        (folder / "py" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, folder / "py" / rel)
    shutil.copyfile(ROOT / "tests" / "guest_outputs.py", folder / "py" / "guest_outputs.py")
    (folder / "in").mkdir()
    (folder / "out").mkdir()
    inputs = {}
    for model in MODELS:
        inputs[model] = models.load(model, weights="random").inputs(seq_len=SEQ_LEN, batch=1)
        np.savez(folder / "in" / f"{model}.npz", **inputs[model])
        for name, array in inputs[model].items():
            array.astype(np.int64).tofile(folder / "in" / f"{model}-{name}.bin")
    profile = get_profile(DEFAULT_PROFILE)
    binds = [(folder, GUEST, True), (artifacts, f"{GUEST}/art", False),
             *((p.folder, f"{GUEST}/bundle/{p.name}", False) for p in arm64_bundle.parts.values())]
    (folder / "bundle").mkdir()
    (folder / "bundle" / "tmp").mkdir()  # the launcher's HOME: the parts are bound read-only here
    (folder / "art").mkdir()
    argv = guest_argv(rootfs.home() / "bare", profile, cpu_sysfs(profile, rootfs.home()), binds=binds, chdir=GUEST)

    def run(command: str) -> subprocess.CompletedProcess:
        return subprocess.run([*argv, "/bin/sh", "-c", command], capture_output=True, text=True, timeout=1500,
                              env={"PATH": "/bin"})

    return run, folder, inputs, {key: f"art/{path.relative_to(artifacts)}" for key, path in made.items()}, made


def close_enough(fmt: str, precision: str, got: dict, want: dict) -> None:
    """fp32: max abs diff within the format's ATOL; int8: the int8 bar (mean cosine) against x86's outputs."""
    from export._pipeline import INT8_MIN_COSINE
    from export._validate import Deviation

    assert sorted(got) == sorted(want)
    for name in want:
        deviation = Deviation.between(got[name], want[name])
        if precision == "fp32":
            assert deviation.max_abs_diff <= ATOL[fmt], f"{fmt} {name}: max abs diff {deviation.max_abs_diff}"
        else:
            assert deviation.mean_cosine >= INT8_MIN_COSINE, f"{fmt} int8 {name}: cosine {deviation.mean_cosine}"


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
    """Every TFLite, ONNX and TorchScript artifact of both tiny models, fp32 and int8, through the bundle's Python."""
    from export.runtimes import load_artifact

    run, folder, inputs, guest_paths, made = guest
    imports = run("bundle/base/bin/python -c 'import numpy, onnxruntime, ai_edge_litert.interpreter, torch, "
                  "platform; print(platform.machine(), torch.__version__)'")
    assert imports.returncode == 0 and imports.stdout.split()[0] == "aarch64", imports.stdout + imports.stderr[-2000:]
    cases = [(m, f, p) for m in MODELS for f in ("tflite", "onnx", "torchscript") for p in PRECISIONS]
    specs = " ".join(f"{guest_paths[case]},in/{case[0]}.npz,out/{'-'.join(case)}.npz" for case in cases)
    done = run(f"bundle/base/bin/python py/guest_outputs.py {specs}")
    assert done.returncode == 0 and "GUEST-OUTPUTS-DONE" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    for case in cases:
        x86 = load_artifact(made[case], threads=1).run(inputs[case[0]])
        with np.load(folder / "out" / f"{'-'.join(case)}.npz") as data:
            close_enough(case[1], case[2], {k: data[k] for k in data.files}, x86)


def test_et_bench_runner_runs_every_pte_like_x86(guest):
    from export.runtimes import load_artifact

    run, folder, inputs, guest_paths, made = guest
    for model in MODELS:
        for precision in PRECISIONS:
            case = (model, "executorch", precision)
            manifest = json.loads((made[case] / "manifest.json").read_text())
            names = [i["name"] for i in manifest["inputs"]]
            out = f"out/et-{model}-{precision}"
            done = run(f"mkdir -p {out} && bundle/base/tools/et_bench_runner --model "
                       f"{guest_paths[case]}/{manifest['file']['name']} --warmup 0 --num-runs 1 --threads 1 "
                       f"--input-shapes {','.join([f'1x{SEQ_LEN}'] * len(names))} "
                       f"--input-files {':'.join(f'in/{model}-{n}.bin' for n in names)} --output-dir {out}")
            assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
            x86 = load_artifact(made[case], threads=1).run(inputs[model])
            arm = {spec["name"]: np.load(folder / out / f"output_{i}.npy") for i, spec in enumerate(manifest["outputs"])}
            close_enough("executorch", precision, arm, x86)
