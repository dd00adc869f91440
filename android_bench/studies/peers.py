"""The peer paths of android_bench.studies.efficiency, as artifact folders the Python runner times like ours.

- `peer-onnx`: a plain `torch.onnx.export` of the Hugging Face model (what an Optimum-style export gives: no graph
  rewrite, no quantization), run by ONNX Runtime;
- `peer-onnx-int8`: that file through `onnxruntime.quantization.quantize_dynamic(per_channel=True)`;
- `peer-litert-torch`: a plain `litert_torch.convert` of the model (when litert-torch is installed), its signature
  inputs named by `sample_kwargs` (input_ids, attention_mask, token_type_ids); static shape: timed at the length
  it was traced at only.

Each folder has a manifest.json that export.runtimes.read_manifest / load_artifact accept (format, precision,
seq_len, inputs, outputs, file {name, bytes, sha256}, the model's vocabulary for the input checks). Converted once
and reused while the manifest vouches for the file.
"""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("android_bench")
# path name -> (format, precision); in the harness a peer's job has the format and the path name as precision
PEERS = {"peer-onnx": ("onnx", "fp32"), "peer-onnx-int8": ("onnx", "int8"), "peer-litert-torch": ("tflite", "fp32")}
STATIC = ("peer-litert-torch",)  # static shape: timed at the artifact's length only


def path_name(fmt: str, precision: str) -> str:
    """The efficiency path of a job: a peer's name (its job's precision), else format-precision."""
    return precision if precision in PEERS else f"{fmt}-{precision}"


def ensure_peer(root: Path, name: str, loaded, *, weights: str, seq_len: int) -> Path | None:
    """`root/<model>/<name>-seq<seq_len>`, converted unless present and intact; None when its converter is not
    installed."""
    from export.runtimes import ArtifactError, read_verified

    folder = root / Path(loaded.name).name / f"{name}-seq{seq_len}"
    if (folder / "manifest.json").is_file():
        try:
            manifest = read_verified(folder)
            if manifest.get("weights") == weights:
                return folder
        except ArtifactError as exc:
            log.warning("not reusing %s: %s", folder, exc)
    folder.mkdir(parents=True, exist_ok=True)
    log.info("converting %s to %s (seq_len %d)", loaded.name, name, seq_len)
    if name == "peer-onnx":
        file, outputs = _onnx(loaded, folder, seq_len), list(loaded.output_names)
    elif name == "peer-onnx-int8":
        file, outputs = _onnx_int8(ensure_peer(root, "peer-onnx", loaded, weights=weights, seq_len=seq_len),
                                   folder), list(loaded.output_names)
    else:
        try:
            import litert_torch  # noqa: F401
        except ImportError:
            return None
        file, outputs = _litert_torch(loaded, folder, seq_len)
    _write_manifest(folder, file, loaded, name, weights=weights, seq_len=seq_len, outputs=outputs)
    return folder


def _example(loaded, seq_len: int) -> dict:
    import torch

    example = loaded.inputs(seq_len=seq_len, batch=1)
    return {n: torch.from_numpy(example[n]) for n in loaded.input_names}


def _onnx(loaded, folder: Path, seq_len: int) -> Path:
    import torch

    out = folder / "model.onnx"
    args = tuple(_example(loaded, seq_len).values())
    torch.onnx.export(loaded.module.eval(), args, str(out), input_names=loaded.input_names,
                      output_names=loaded.output_names, opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in loaded.input_names})
    return out


def _onnx_int8(fp32: Path, folder: Path) -> Path:
    from export.runtimes import read_manifest
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = folder / "model.onnx"
    quantize_dynamic(str(fp32 / read_manifest(fp32)["file"]["name"]), str(out), per_channel=True,
                     weight_type=QuantType.QInt8)
    return out


def _litert_torch(loaded, folder: Path, seq_len: int) -> tuple[Path, list[str]]:
    """The converted file and its signature's output names (litert-torch names them output_0, output_1, ...)."""
    import litert_torch
    from ai_edge_litert.interpreter import Interpreter

    out = folder / "model.tflite"
    litert_torch.convert(loaded.module.eval(), sample_kwargs=_example(loaded, seq_len)).export(str(out))
    runner = Interpreter(model_path=str(out)).get_signature_runner("serving_default")
    return out, list(runner.get_output_details())


def _write_manifest(folder: Path, file: Path, loaded, name: str, *, weights: str, seq_len: int,
                    outputs: list[str]) -> None:
    from export import write_json_atomic
    from export._files import sha256

    fmt, precision = PEERS[name]
    config = loaded.config
    static = name in STATIC
    shape = [1, seq_len] if static else ["batch", "sequence"]
    write_json_atomic(folder / "manifest.json", {
        "schema": 1, "peer": name, "weights": weights,
        "model": {"name": loaded.name, "ref": loaded.ref, "max_position_embeddings": config.max_position_embeddings,
                  "vocab_size": config.vocab_size, "type_vocab_size": getattr(config, "type_vocab_size", 2),
                  "weights": {"source": "random" if weights == "random" else weights}},
        "format": fmt, "precision": precision, "seq_len": seq_len, "dynamic_shapes": not static,
        "inputs": [{"name": n, "dtype": "int32" if static else "int64", "shape": shape} for n in loaded.input_names],
        "outputs": [{"name": n} for n in outputs],
        "file": {"name": file.name, "bytes": file.stat().st_size, "sha256": sha256(file)}})
