"""The TFLite format: PyTorch -> ONNX -> onnx2tf -> SavedModel -> .tflite, runnable by the stock LiteRT interpreter.

Transformers has no TensorFlow SqueezeBERT, so the path goes through ONNX. The asset folder holds
`{model}_{task}_{precision}.tflite`, `vocab.txt` (the tokenizer's, byte-identical), `labels.txt` (one label a
line in id order; empty for feature extraction, which has none), `tokenizer_cases.jsonl` (test texts with the
ids the model's tokenizer gives them, unpadded: what the file is fed) and `manifest.json`. `app_asset` adds
MediaPipe's metadata and head.

One file runs at the real token length: its inputs are [1, -1] (shape_signature), resized by the interpreter
(`resize_tensor_input`, or the signature runner at every call) and by MediaPipe Tasks, which feeds such a model
exactly the text's tokens, unpadded. It takes 2..`--seq-len` tokens (`seq_len_range` in the manifest, every
validation length checked against eager): the position table is cut to `--seq-len` rows, so a longer input fails
in the interpreter too, not only in our runtime's one-line check.

Choices, each forced by something measured:
- a resizable sequence, not several fixed-length signatures: one subgraph, so MediaPipe (which loads one) takes
  it, and onnx2tf keeps a dynamic dim as it is. Measured on squeezebert-mnli-headless, random weights, --seq-len
  128, against the file fixed at [1, 128] this exporter made before: fp32 202.97 MB vs 202.96, int8 51.94 vs 52.23;
  max abs diff vs eager 3.1e-6 at every validated length. Latency (android_bench.studies.efficiency, 1 thread, median of
  20, 2-core AMD EPYC with AVX-512 VNNI, 2026-12-03): fp32 15.9 ms at 32 tokens vs 50.0 at 128 (0.32x), int8 5.8
  vs 21.4 ms (0.27x), from the one file (a prototype measured a file fixed at 32 tokens within 5% of it).
- onnx2tf, not litert-torch: litert-torch 0.10's `convert(..., dynamic_shapes=...)` fails on the Hugging Face
  embeddings (`position_ids[:, :seq_length]` with a symbolic end: TracerBoolConversionError in its aten.slice
  lowering), and its static files of the Hugging Face graph had 204 TRANSPOSE for 72 CONV_2D.
- the torch.export-based ONNX exporter (`dynamo=True`) for this file: it writes every intermediate shape in terms
  of the one `sequence` dim. The TorchScript-based one leaves them unknown after the position-id slice, and
  onnx2tf's layout inference (which compares ONNX and TensorFlow shapes to decide whether a tensor is channel-first)
  then put LayerNorm and the head split on the wrong axis and failed. onnx2tf also gets `-b 1`: the batch is 1.
- int32 token ids: an app's Java/Kotlin side has no int64 tensors; the model casts to int64 inside.
- ONNX opset 20, which has a Gelu op: onnx2tf makes it one TFLite GELU. In opset 17 GELU is an Erf, which
  `-rtpo Erf` must turn into a ~20-op polynomial (otherwise FlexErf, which the stock interpreter refuses).
- a named `serving_default` signature (export/tflite/signature.py): onnx2tf's own file has none.
- each grouped layer one BATCH_MATMUL with a constant [g, K/g, N/g] weight (models/mobile.py groups="broadcast")
  and the heads split all at once: squeezebert-mnli-headless 583 ops instead of 1,086 (bert-base 546), no
  STRIDED_SLICE/SPLIT/CONCATENATION around per-group FULLY_CONNECTED; 128 tokens, interleaved medians of 20 on a
  shared 2-core AMD EPYC, ms at 1 / 2 threads: fp32 86.5 / 89.4 vs 88.2 / 97.3, int8 34.3 / 40.7 vs 37.0 / 47.5.
- builtin ops only: any Flex op fails the export.
Known onnx2tf limit of the static files this exporter made before: when seq_len equaled the hidden size, its layout
inference could confuse the two axes (a tiny config, hidden 64 at seq_len 64: pooler_output wrong). The resizable
file has no length to confuse: validated at 64 tokens on hidden 64 as well.
"""
from __future__ import annotations

import logging
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import torch

from models import write_tokenizer_cases, write_vocab_txt
from models.contract import SEQUENCE
from models.errors import UserError
from models.mobile import mobile_module

from .._files import need_space
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


class BoundedPositions(torch.nn.Module):
    """The model with its position table (and position-id buffer) cut to `max_len` rows, so the file takes no
    longer input than it is validated at. Done with torch.func.functional_call: the loaded model, which eager
    validation runs, keeps its own weights."""
    SUFFIXES = ("position_embeddings.weight", "position_ids")

    def __init__(self, module, max_len: int):
        super().__init__()
        self.module = module
        self.cut = {name: tensor[:max_len] if name.endswith(self.SUFFIXES[0]) else tensor[:, :max_len]
                    for name, tensor in [*module.named_parameters(), *module.named_buffers()]
                    if name.endswith(self.SUFFIXES)}

    def forward(self, input_ids, attention_mask, token_type_ids):
        return torch.func.functional_call(self.module, self.cut, (input_ids, attention_mask, token_type_ids))


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
    # its copy, the SavedModel and the .tflite files are each about the ONNX file's size; TensorFlow may abort
    # rather than raise on a full disk, so the room is checked first
    need_space(products.work, 3 * onnx_path.stat().st_size, "onnx2tf's SavedModel")
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
    low, high = products.contract.dim_range(SEQUENCE)
    signature = _shape_signatures(path)
    if any(shape != [1, -1] for shape in signature.values()):
        raise UserError(f"{path.name}: the converter fixed the inputs' shapes to {signature}, not [1, -1]; "
                        "a resizable file needs onnx2tf to keep the sequence dim dynamic")
    return Converted(files=[path], assets=_write_assets(loaded, path.parent, high), sections={"tflite": {
        "converter": "onnx2tf", "onnx_exporter": "torch.onnx.export(dynamo=True)", "onnx2tf_flags": ONNX2TF_FLAGS,
        "signature": {"key": "serving_default", "inputs": sorted(products.contract.input_names),
                      "outputs": list(products.contract.output_names)},
        "input_dtype_reason": "int32: Android's Java/Kotlin TFLite API has no int64 tensors; ids and masks fit",
        "shape_signature": signature,
        "seq_len_range": [low, high],
        "resize": "the sequence dim is -1: feed the real token count, unpadded (the signature runner resizes at "
                  "every call; Interpreter.resizeInput / resize_tensor_input then allocateTensors); MediaPipe "
                  f"does so itself. {low}..{high} tokens: the position table has {high} rows, a longer input "
                  "fails in the interpreter",
        "op_census": census, "transpose_count": census.get("TRANSPOSE", 0), "flex_ops": flex,
        "weight_dtypes": {op: dict(c) for op, c in weight_dtypes(path).items()},
    }})


def _shape_signatures(path: Path) -> dict[str, list[int]]:
    """Each signature input's shape_signature (-1 where the interpreter may resize it), read by the interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return {name: [int(d) for d in detail["shape_signature"]] for name, detail in
            sorted(runner.get_input_details().items())}


@contextmanager
def _eager_attention(loaded):
    """Hugging Face BERT's attention as its eager matmuls while the ONNX is traced. Its SDPA exports as K reshaped
    to 3-D by a computed shape, transposed and reshaped back; with the sequence dynamic that shape is unknown and
    onnx2tf fails on it (a rank-6 tensor in a rank-3 Transpose, bert-tiny). Eager attention exports one 4-D
    Transpose. SqueezeBERT's mobile graph has its own attention."""
    model = loaded.hf_model
    before = model.config._attn_implementation
    if loaded.family != "bert" or before == "eager":
        yield
        return
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(before)


def _write_assets(loaded, folder: Path, max_len: int) -> list[Path]:
    write_vocab_txt(loaded.tokenizer, folder / "vocab.txt")
    (folder / "labels.txt").write_text("".join(f"{label}\n" for label in loaded.labels or []))
    # the ids the model's own tokenizer gives test texts, truncated to the file's maximum and unpadded: the file
    # resizes, so an app feeds it exactly these
    cases = write_tokenizer_cases(loaded.tokenizer, folder, max_length=max_len, pad=False)
    return [folder / "vocab.txt", folder / "labels.txt", cases]


@register_format("tflite", suffix=".tflite", fixed_batch=1, bounded_sequence=True, input_dtype="int32",
                 add_options=add_options, prepare=prepare, package=package)
def convert(loaded, products, path, *, options) -> Converted:
    example = {k: v.astype("int32") for k, v in products.example.items()}
    _, max_len = products.contract.dim_range(SEQUENCE)
    # groups="broadcast": each grouped layer one BATCH_MATMUL with a constant [g, K/g, N/g] weight and the heads
    # split all at once: no slices or concatenations around per-group layers (module docstring)
    graph = mobile_module(loaded, options["graph"], heads="transpose", groups="broadcast")
    module = Int32Inputs(BoundedPositions(graph, max_len)).eval()
    products.onnx = products.work / "resizable.onnx"
    # dynamo: every shape in terms of the sequence dim, which onnx2tf's layout inference needs (module docstring)
    with _eager_attention(loaded):
        export_onnx(module, example, products.onnx, contract=products.contract, exporter="dynamo", opset=GELU_OPSET)
    onnx_to_saved_model(products.onnx, products)
    return saved_model_to_tflite(loaded, products, path)
