"""TFLite app assets: PyTorch -> ONNX -> onnx2tf -> .tflite, runnable by the stock LiteRT interpreter.

Transformers has no TensorFlow SqueezeBERT, so the path goes through ONNX. The asset folder holds
`{model}_{task}_{precision}.tflite`, `vocab.txt` (the tokenizer's, byte-identical), `labels.txt` (one label a
line in id order; empty for feature extraction, which has none) and `manifest.json`.

Choices, each forced by something measured:
- int32 token ids: an app's Java/Kotlin side has no int64 tensors; the model casts to int64 inside.
- static shapes [1, seq_len]: onnx2tf needs them; `--seq-len` picks the length and the manifest records it.
- ONNX opset 20, which has a Gelu op: onnx2tf makes it one TFLite GELU. In opset 17 GELU is an Erf, which
  `-rtpo Erf` must turn into a ~20-op polynomial (otherwise FlexErf, which the stock interpreter refuses).
- a named `serving_default` signature (export/_tflite_signature.py): onnx2tf's own file has none.
- builtin ops only: any Flex op fails the export.
Known onnx2tf limit: when seq_len equals the hidden size, its layout inference can confuse the two axes
(seen on a tiny config, hidden 64 at seq_len 64: pooler_output wrong); validation catches it and fails.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from models import write_vocab_txt
from models.mobile import mobile_module
from models.errors import UserError

from ._formats import register_format
from ._onnx2tf_savedmodel import ONNX2TF_FLAGS
from ._tflite_ops import flex_ops, op_census, weight_dtypes

log = logging.getLogger("export")
GELU_OPSET = 20  # see the module docstring


class Int32Inputs(torch.nn.Module):
    """Takes int32 ids and masks (what an Android app can feed) and calls the int64 model."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.module(input_ids.long(), attention_mask.long(), token_type_ids.long())


def _run(cmd: list[str], *, log_file: Path, what: str, keep_dir: Path) -> None:
    """Run a converter step in a subprocess; its chatter goes to `log_file`, a failure to one line."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with open(log_file, "w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        kept = keep_dir / log_file.name  # the work dir is deleted on failure: keep the log beside the output
        shutil.copyfile(log_file, kept)
        if done.returncode == -9:
            raise UserError(f"{what} was killed (out of memory?); close other work or use a larger machine; "
                            f"log: {kept}")
        lines = [l.strip() for l in log_file.read_text(errors="replace").splitlines() if l.strip()]
        errors = [l for l in lines if "error" in l.lower() and "oneDNN" not in l] or lines or ["no output"]
        raise UserError(f"{what} failed (exit {done.returncode}): {errors[-1][:300]}; log: {kept}")


def onnx_to_tflite(onnx_path: Path, out: Path, *, output_names, work: Path, int8: bool, keep_dir: Path) -> None:
    """onnx2tf on a copy (it rewrites its input), then the named-signature conversion."""
    work.mkdir(parents=True, exist_ok=True)
    source = work / "model.onnx"
    shutil.copyfile(onnx_path, source)
    _run([sys.executable, "-m", "export._onnx2tf_savedmodel", str(source), str(work / "saved_model")],
         log_file=work / "onnx2tf.log", what="onnx2tf", keep_dir=keep_dir)
    cmd = [sys.executable, "-m", "export._tflite_signature", str(work / "saved_model"), str(out),
           "--outputs", ",".join(output_names)] + (["--int8"] if int8 else [])
    _run(cmd, log_file=work / "tflite_convert.log", what="TFLite conversion", keep_dir=keep_dir)


def _write_assets(loaded, folder: Path) -> list[str]:
    write_vocab_txt(loaded.tokenizer, folder / "vocab.txt")
    (folder / "labels.txt").write_text("".join(f"{label}\n" for label in loaded.labels or []))
    return ["vocab.txt", "labels.txt"]


@register_format("tflite", suffix=".tflite", dynamic_shapes=False, precisions=("fp32", "int8"))
def convert(loaded, *, path, seq_len, options):
    int8 = options.get("precision") == "int8"
    example = {k: v.astype("int32") for k, v in loaded.inputs(seq_len=seq_len, batch=1).items()}
    work = path.parent / "tflite-work"
    work.mkdir()
    from .onnx import export_onnx

    # heads="slices": one Transpose a SqueezeBERT layer instead of four (models/mobile.py says what it costs)
    module = Int32Inputs(mobile_module(loaded, options["graph"], heads="slices")).eval()
    export_onnx(module, example, work / "static.onnx", input_names=loaded.input_names,
                output_names=loaded.output_names, dynamic=False, opset=GELU_OPSET)
    onnx_to_tflite(work / "static.onnx", path, output_names=loaded.output_names, work=work, int8=int8,
                   keep_dir=path.parent.parent)
    census = op_census(path)
    flex = flex_ops(census)
    if flex:
        raise UserError(f"{path.name} contains Select-TF ops {flex} that the stock LiteRT interpreter refuses; "
                        "add their ONNX ops to replace_to_pseudo_operators in export/_onnx2tf_savedmodel.py")
    log.info("op census: %s", ", ".join(f"{op} {n}" for op, n in census.items()))
    log.info("TRANSPOSE ops: %d", census.get("TRANSPOSE", 0))
    shutil.rmtree(work)
    return {
        "input_dtype": "int32",
        "assets": _write_assets(loaded, path.parent),
        "tflite": {
            "converter": "onnx2tf", "onnx2tf_flags": ONNX2TF_FLAGS,
            "signature": {"key": "serving_default", "inputs": sorted(loaded.input_names),
                          "outputs": list(loaded.output_names)},
            "input_dtype_reason": "int32: Android's Java/Kotlin TFLite API has no int64 tensors; ids and masks fit",
            "fixed_shape": [1, seq_len],
            "op_census": census, "transpose_count": census.get("TRANSPOSE", 0), "flex_ops": flex,
            "weight_dtypes": {op: dict(c) for op, c in weight_dtypes(path).items()},
        },
        **({"quantization": _quantization(path)} if int8 else {}),
    }


def _quantization(path) -> dict:
    from quantize import RECIPES

    dtypes = weight_dtypes(path)
    return {**RECIPES["tflite"].record(),
            "layers": {"quantized": {op: c["INT8"] for op, c in dtypes.items() if c.get("INT8")},
                       "float": {f"{op} {dtype}": n for op, c in dtypes.items() for dtype, n in c.items()
                                 if dtype.startswith("FLOAT")},
                       "float_by_design": "LayerNorm, softmax and the attention matmuls (activation x activation) "
                                          "stay float"}}


def main(argv=None) -> int:
    from ._single import format_main

    return format_main("tflite", argv)


if __name__ == "__main__":
    sys.exit(main())
