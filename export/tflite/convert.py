"""The TFLite format: PyTorch -> ONNX -> onnx2tf -> SavedModel -> .tflite, runnable by the stock LiteRT interpreter.

Transformers has no TensorFlow SqueezeBERT, so the path goes through ONNX. The asset folder holds
`{model}_{task}_{precision}.tflite`, `vocab.txt` (the tokenizer's, byte-identical), `labels.txt` (one label a
line in id order; empty for feature extraction, which has none), `tokenizer_cases.jsonl` (test texts with the
ids the model's tokenizer gives them) and `manifest.json`. `app_asset` adds MediaPipe's metadata and head.

Choices, each forced by something measured:
- int32 token ids: an app's Java/Kotlin side has no int64 tensors; the model casts to int64 inside.
- static shapes [1, seq_len]: onnx2tf needs them; `--seq-len` picks the length and the manifest records it.
- ONNX opset 20, which has a Gelu op: onnx2tf makes it one TFLite GELU. In opset 17 GELU is an Erf, which
  `-rtpo Erf` must turn into a ~20-op polynomial (otherwise FlexErf, which the stock interpreter refuses).
- a named `serving_default` signature (export/tflite/signature.py): onnx2tf's own file has none.
- builtin ops only: any Flex op fails the export.
Known onnx2tf limit: when seq_len equals the hidden size, its layout inference can confuse the two axes
(seen on a tiny config, hidden 64 at seq_len 64: pooler_output wrong); validation catches it and fails.
"""
from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import torch

from models import write_tokenizer_cases, write_vocab_txt
from models.errors import UserError
from models.mobile import mobile_module

from .._formats import register_format
from .._pipeline import Converted
from .._progress import stage
from ..onnx import export_onnx
from ._steps import run_step as _run
from .app_asset import add_options, package, prepare
from .onnx2tf_savedmodel import ONNX2TF_FLAGS
from .ops import flex_ops, op_census, weight_dtypes

log = logging.getLogger("export")
GELU_OPSET = 20  # see the module docstring


class Int32Inputs(torch.nn.Module):
    """Takes int32 ids and masks (what an Android app can feed) and calls the int64 model."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.module(input_ids.long(), attention_mask.long(), token_type_ids.long())


def onnx_to_saved_model(onnx_path: Path, products) -> Path:
    """onnx2tf on a copy of the ONNX file (it rewrites its input); the SavedModel goes into the run's Products."""
    source = products.work / "onnx2tf-input.onnx"
    shutil.copyfile(onnx_path, source)
    products.saved_model = products.work / "saved_model"
    with stage("onnx2tf: ONNX -> SavedModel"):
        _run([sys.executable, "-m", "export.tflite.onnx2tf_savedmodel", str(source), str(products.saved_model)],
             log_file=products.work / "onnx2tf.log", what="onnx2tf", keep=products.logs)
    return products.saved_model


def saved_model_to_tflite(loaded, products, path: Path, *, optimize: bool = False) -> Converted:
    """The SavedModel as a .tflite with a named signature, builtin ops only (a Flex op fails the export), and the
    app assets beside it. `optimize`: the converter's dynamic-range mode (int8 weights; what the int8 recipe
    asks for)."""
    cmd = [sys.executable, "-m", "export.tflite.signature", str(products.saved_model), str(path),
           "--outputs", ",".join(products.contract.output_names)] + (["--int8"] if optimize else [])
    with stage(f"TFLiteConverter: SavedModel -> {path.name}"):
        _run(cmd, log_file=products.work / "tflite_convert.log", what="TFLite conversion", keep=products.logs)
    census = op_census(path)
    flex = flex_ops(census)
    if flex:
        raise UserError(f"{path.name} contains Select-TF ops {flex} that the stock LiteRT interpreter refuses; "
                        "add their ONNX ops to replace_to_pseudo_operators in export/tflite/onnx2tf_savedmodel.py")
    log.info("op census: %s", ", ".join(f"{op} {n}" for op, n in census.items()))
    log.info("TRANSPOSE ops: %d", census.get("TRANSPOSE", 0))
    seq_len = products.contract.inputs[0].dims[1]
    return Converted(files=[path], assets=_write_assets(loaded, path.parent, seq_len), sections={"tflite": {
        "converter": "onnx2tf", "onnx2tf_flags": ONNX2TF_FLAGS,
        "signature": {"key": "serving_default", "inputs": sorted(products.contract.input_names),
                      "outputs": list(products.contract.output_names)},
        "input_dtype_reason": "int32: Android's Java/Kotlin TFLite API has no int64 tensors; ids and masks fit",
        "fixed_shape": list(products.contract.inputs[0].dims),
        "op_census": census, "transpose_count": census.get("TRANSPOSE", 0), "flex_ops": flex,
        "weight_dtypes": {op: dict(c) for op, c in weight_dtypes(path).items()},
    }})


def _write_assets(loaded, folder: Path, seq_len: int) -> list[Path]:
    write_vocab_txt(loaded.tokenizer, folder / "vocab.txt")
    (folder / "labels.txt").write_text("".join(f"{label}\n" for label in loaded.labels or []))
    # the ids the model's own tokenizer gives test texts, padded to the file's length as an app feeds it
    cases = write_tokenizer_cases(loaded.tokenizer, folder, max_length=seq_len, pad=True)
    return [folder / "vocab.txt", folder / "labels.txt", cases]


@register_format("tflite", suffix=".tflite", fixed_sequence=True, input_dtype="int32", add_options=add_options,
                 prepare=prepare, package=package)
def convert(loaded, products, path, *, options) -> Converted:
    example = {k: v.astype("int32") for k, v in products.example.items()}
    # heads="slices": one Transpose a SqueezeBERT layer instead of four (models/mobile.py says what it costs)
    module = Int32Inputs(mobile_module(loaded, options["graph"], heads="slices")).eval()
    products.onnx = products.work / "static.onnx"
    export_onnx(module, example, products.onnx, contract=products.contract, opset=GELU_OPSET)
    onnx_to_saved_model(products.onnx, products)
    return saved_model_to_tflite(loaded, products, path)
