"""The architecture: layers that only point down, no import cycles, light package imports, recipes as data."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from models.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models", "export", "quantize", "android_bench")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    """import-linter's own CLI, on the packages under `cwd` with the contracts of `cwd`/pyproject.toml."""
    return subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
                          timeout=300)


def test_layers_contract_holds():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("module, planted, broken", [
    ("export/_files.py", "    from quantize import quantize_artifact\n", "export is not allowed to import quantize"),
    ("models/_inputs.py", "import android_bench.measurement.timing\n", "models is not allowed to import android_bench"),
    ("quantize/onnx.py", "from . import recipes\n", "no import cycles"),
    # inside android_bench: what is shared by all (measurement) never reaches up to a device or the harness
    ("android_bench/measurement/timing.py", "    from android_bench.harness import flags\n",
     "android_bench.measurement is not allowed to import android_bench.harness"),
    ("android_bench/devices/local.py", "import android_bench.runners\n",
     "android_bench.devices is not allowed to import android_bench.runners"),
])
def test_a_planted_back_edge_or_cycle_breaks_the_contract(tmp_path, module, planted, broken):
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "configs"))
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    text = target.read_text()
    head, sep, body = text.partition("from __future__ import annotations\n")
    if planted.startswith("    "):  # inside a function: lazy imports count too
        target.write_text(text + f"\n\ndef _planted():\n{planted}")
    else:
        target.write_text(head + sep + planted + body)
    done = _lint_imports(tmp_path)
    assert done.returncode != 0 and broken in done.stdout, done.stdout[-3000:]


def test_importing_the_packages_loads_neither_torch_nor_tensorflow():
    """The TFLite subprocesses and the device-side Python runner import models/ and export/."""
    code = ("import sys, models, export, export.runtimes, export.tflite, quantize, android_bench; "
            "heavy = [m for m in ('torch', 'tensorflow', 'onnx', 'transformers') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_recipes_are_registered_per_format_and_checked_against_supported_schemes():
    import export

    assert export.recipe_names() == ["int8-dynamic"]
    for fmt in export.available_formats():
        recipe = export.get_recipe(fmt, "int8-dynamic")
        assert recipe.format == fmt and recipe.precision == "int8"
        assert recipe.weights in export.SUPPORTED[fmt]["weights"]
        assert recipe.activations in export.SUPPORTED[fmt]["activations"]
        assert export.precisions(fmt) == ["fp32", "int8"]
        record = recipe.record()
        assert record["recipe"] == "int8-dynamic" and record["weights"] == "int8 symmetric per-channel"
        assert "per-token" in record["activations"] and record["activations"].endswith("scaled at run time")
    stages = {fmt: export.get_recipe(fmt, "int8-dynamic").stage for fmt in export.available_formats()}
    assert stages == {"torchscript": "pytorch-module", "onnx": "onnx-graph", "tflite": "converter",
                      "executorch": "exported-program"}
    onnx = export.get_recipe("onnx", "int8-dynamic")
    from dataclasses import replace

    with pytest.raises(ValueError, match="activations int8 symmetric per-tensor is not a scheme onnx runs"):
        export.register_recipe(replace(onnx, name="bogus", activations=export.Scheme("int8", "per-tensor")))
    with pytest.raises(ValueError, match="unknown stage"):
        export.register_recipe(replace(onnx, name="bogus", stage="compiler"))
    with pytest.raises(UserError, match="no quantization recipe 'int4' for onnx; choose one of int8-dynamic"):
        export.get_recipe("onnx", "int4")
    with pytest.raises(UserError, match="tflite cannot produce fp16; choose one of fp32, int8"):
        export.recipe_for_precision("tflite", "fp16")


def test_io_contract_drives_names_axes_and_records():
    import models

    loaded = models.load("squeezebert-tiny", weights="random")
    contract = loaded.contract
    assert contract.input_names == models.INPUT_NAMES
    assert contract.onnx_dynamic_axes() == {**{n: {0: "batch", 1: "sequence"} for n in models.INPUT_NAMES},
                                            "last_hidden_state": {0: "batch", 1: "sequence"},
                                            "pooler_output": {0: "batch"}}
    tflite = contract.specialize(batch=1, sequence=48, input_dtype="int32")
    assert tflite.onnx_dynamic_axes() == {}
    inputs, outputs = tflite.records()
    assert inputs[0] == {"name": "input_ids", "dtype": "int32", "shape": [1, 48]}
    assert outputs == [{"name": "last_hidden_state", "dtype": "float32", "shape": [1, 48, 64]},
                       {"name": "pooler_output", "dtype": "float32", "shape": [1, 64]}]
    pte = contract.specialize(batch=1)
    assert [len(d) for d in pte.torch_export_dims()] == [1, 1, 1]  # the sequence axis only
    assert contract.inputs[0].value_range == (0, loaded.config.vocab_size - 1)
    assert contract.inputs[1].value_range == (0, 1)
