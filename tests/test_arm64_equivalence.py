"""ARM kernels compute what x86 computes: every artifact format x precision of both tiny models, run on the arm64
device (qemu-user, through real adb) on both CPU profiles, compared with the x86 desktop runtime's outputs and
with PyTorch eager on the same inputs.

TFLite and ONNX run in the aarch64 wheels of LiteRT and ONNX Runtime (the Python runner's interface), ExecuTorch
in et_bench_runner cross-built for arm64 (the aarch64 executorch wheel's libraries), TorchScript (.pt, torch.jit)
in PyPI's aarch64 CPU torch 2.9.1 (the x86 side runs torch 2.13, which wrote the file). Tolerances: fp32 max abs
diff 1e-4 (TFLite 1e-3, as on x86), int8 the project's int8 bar (mean cosine >= 0.99,
export._pipeline.INT8_MIN_COSINE), each against x86 and against eager. Timings under qemu mean nothing and are
not taken here.
"""
from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from export._pipeline import INT8_MIN_COSINE
from export._validate import Deviation, eager_outputs
from android_bench.devices.loopback.arm64 import Arm64LoopbackDevice
from tests.loopback_fixtures import attached
from tests.arm64_fixtures import FORMATS, MODELS, PRECISIONS, SEQ_LEN

pytestmark = [pytest.mark.arm64, pytest.mark.timeout(1800)]
PROFILES = ("a76", "i8mm")
FP32_ATOL = {"tflite": 1e-3, "onnx": 1e-4, "executorch": 1e-4, "torchscript": 1e-4}
REMOTE = "/data/local/tmp/eq"


def case_name(model, fmt, precision) -> str:
    return f"{model}-{fmt}-{precision}"


@pytest.fixture(scope="module")
def reference(arm64_artifacts):
    """Per model: the inputs (the model's sample pairs at SEQ_LEN), eager's outputs, and per artifact the x86
    desktop runtime's outputs."""
    import models
    from export.runtimes import load_artifact

    _, made = arm64_artifacts
    ref = {}
    for model in MODELS:
        loaded = models.load(model, weights="random")  # the seeded weights the artifacts were exported with
        inputs = loaded.inputs(seq_len=SEQ_LEN, batch=1)
        ref[model] = {"inputs": inputs, "eager": eager_outputs(loaded, inputs)}
        for fmt in FORMATS:
            for precision in PRECISIONS:
                ref[model][fmt, precision] = load_artifact(made[model, fmt, precision], threads=1).run(inputs)
    return ref


def stage(folder, made, reference, tools):
    """The folder pushed to the device: the guest script with models/ and export/, the artifacts, the inputs
    (.npz for the Python runtimes, raw int64 files for et_bench_runner) and the arm64 et_bench_runner."""
    from android_bench.runners.python import ROOT, SOURCES

    py = folder / "py"
    for rel in SOURCES:
        (py / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, py / rel)
    shutil.copyfile(ROOT / "tests" / "guest_outputs.py", py / "guest_outputs.py")
    for key, artifact in made.items():
        shutil.copytree(artifact, folder / "art" / case_name(*key))
    (folder / "in").mkdir()
    for model in MODELS:
        inputs = reference[model]["inputs"]
        np.savez(folder / "in" / f"{model}.npz", **inputs)
        for name, array in inputs.items():
            array.astype(np.int64).tofile(folder / "in" / f"{model}.{name}.bin")
    shutil.copytree(tools / "arm64-v8a", folder / "tools")


def guest_commands(made) -> list[str]:
    """One Python run for every TFLite and ONNX artifact, one with torch for TorchScript, one et_bench_runner run
    per .pte."""
    from android_bench.devices.arm64.rootfs import TORCH_DIR, guest_python

    def specs(formats):
        return " ".join(f"art/{case_name(*key)},in/{key[0]}.npz,out/{case_name(*key)}.npz"
                        for key in made if key[1] in formats)

    commands = [f"mkdir -p out && {guest_python()} py/guest_outputs.py {specs(('tflite', 'onnx'))}",  # adb pushes no empty dir
                f"PYTHONPATH={TORCH_DIR} {guest_python()} py/guest_outputs.py {specs(('torchscript',))}"]
    for (model, fmt, precision), artifact in made.items():
        if fmt != "executorch":
            continue
        manifest = json.loads((artifact / "manifest.json").read_text())
        names = [i["name"] for i in manifest["inputs"]]
        name = case_name(model, fmt, precision)
        commands.append(f"mkdir -p out/{name} && ./tools/et_bench_runner --model art/{name}/{manifest['file']['name']} "
                        f"--warmup 0 --num-runs 1 --threads 1 --input-shapes {','.join([f'1x{SEQ_LEN}'] * len(names))} "
                        f"--input-files {':'.join(f'in/{model}.{n}.bin' for n in names)} --output-dir out/{name}")
    return commands


@pytest.fixture(scope="module", params=PROFILES)
def arm_outputs(request, arm64_adb_server, arm64_artifacts, arm64_tools, reference, tmp_path_factory):
    """Every artifact's outputs computed on the arm64 device of one CPU profile, pushed and pulled by adb."""
    _, made = arm64_artifacts
    profile = request.param
    local = tmp_path_factory.mktemp(f"arm64-eq-{profile}")
    stage(local / "eq", made, reference, arm64_tools)
    device = Arm64LoopbackDevice(local / "device-tmp", profile=profile)
    with attached(arm64_adb_server, device):
        adb = lambda *args, timeout=120: arm64_adb_server.adb("-s", device.serial, *args, timeout=timeout)
        pushed = adb("push", str(local / "eq"), "/data/local/tmp/")
        assert pushed.returncode == 0, pushed.stderr
        for command in guest_commands(made):
            done = adb("shell", f"cd {REMOTE} && {command}", timeout=1200)
            assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        pulled = adb("pull", f"{REMOTE}/out", str(local / "pulled"))
        assert pulled.returncode == 0, pulled.stderr
    outputs = {}
    for (model, fmt, precision), artifact in made.items():
        name = case_name(model, fmt, precision)
        manifest = json.loads((artifact / "manifest.json").read_text())
        if fmt == "executorch":
            outputs[model, fmt, precision] = {o["name"]: np.load(local / "pulled" / name / f"output_{i}.npy")
                                              for i, o in enumerate(manifest["outputs"])}
        else:
            with np.load(local / "pulled" / f"{name}.npz") as data:
                outputs[model, fmt, precision] = {k: data[k] for k in data.files}
    return profile, outputs


def within(precision: str, fmt: str, dev: Deviation) -> bool:
    if precision == "fp32":
        return dev.max_abs_diff <= FP32_ATOL[fmt]
    return dev.mean_cosine >= INT8_MIN_COSINE


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("model", MODELS)
def test_arm_matches_x86_and_eager(arm_outputs, reference, model, fmt, precision):
    profile, outputs = arm_outputs
    arm = outputs[model, fmt, precision]
    x86, eager = reference[model][fmt, precision], reference[model]["eager"]
    assert sorted(arm) == sorted(x86) == sorted(eager)
    lines, failures = [], []
    for name in eager:
        assert arm[name].shape == x86[name].shape == eager[name].shape, name
        for against, want in (("x86", x86[name]), ("eager", eager[name])):
            dev = Deviation.between(arm[name], want)
            ok = within(precision, fmt, dev)
            lines.append(f"{profile} {model} {fmt} {precision} {name} ARM vs {against}: max abs "
                         f"{dev.max_abs_diff:.3g}, cosine {dev.mean_cosine:.6f} [{'ok' if ok else 'FAIL'}]")
            failures += [] if ok else [lines[-1]]
    print("\n".join(lines))
    sys.stdout.flush()
    bar = f"max abs diff <= {FP32_ATOL[fmt]:g}" if precision == "fp32" else f"mean cosine >= {INT8_MIN_COSINE}"
    assert not failures, f"beyond {bar}:\n" + "\n".join(failures)
