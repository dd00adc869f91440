"""The peer paths of android_bench.studies.efficiency, as artifact folders the Python runner times like ours.

What a user would get from the field's tools without our graph rewrites, each at its best precision:
- `peer-onnx`: a plain `torch.onnx.export` of the Hugging Face model (what an Optimum-style export gives: no graph
  rewrite, no quantization), run by ONNX Runtime;
- `peer-onnx-int8`: that file through `onnxruntime.quantization.quantize_dynamic(per_channel=True)` (what
  `optimum-cli onnxruntime quantize` does);
- `peer-litert-torch`: a plain `litert_torch.convert` of the model (when litert-torch is installed), its signature
  inputs named by `sample_kwargs` (input_ids, attention_mask, token_type_ids); static shape: timed at the length
  it was traced at only;
- `peer-litert-torch-int8`: the same conversion with litert-torch's dynamic int8 recipe
  (`quant_recipes.full_dynamic_recipe()`: int8 per-channel weights, activations quantized at run time; the PT2E
  dynamic quantizer makes a file LiteRT refuses: its EMBEDDING_LOOKUP gets a non-zero zero point).

Each folder has a manifest.json that export.runtimes.read_manifest / load_artifact accept (format, precision,
seq_len, inputs, outputs, file {name, bytes, sha256}, the model's vocabulary for the input checks). Converted in a
scratch folder and swapped in whole (export's atomic commit), then reused while the manifest vouches for the file.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

log = logging.getLogger("android_bench")


@dataclass(frozen=True)
class Peer:
    name: str
    format: str
    precision: str
    # (loaded model, scratch folder, seq_len, the fp32 peer's folder or None) -> (model file, output names)
    convert: Callable
    needs: str | None = None  # the peer whose file this one converts
    static: bool = False  # static shape: timed at the artifact's length only
    module: str | None = None  # the converter's package: the peer is skipped when it is not installed


PEERS: dict[str, Peer] = {}  # in conversion order; a peer job carries the peer's name (Job.peer)


def _peer(**kwargs):
    def register(convert: Callable) -> Callable:
        PEERS[kwargs["name"]] = Peer(convert=convert, **kwargs)
        return convert
    return register


def ensure_peer(root: Path, name: str, loaded, *, weights: str, seq_len: int) -> Path | None:
    """`root/<model>/<name>-seq<seq_len>`, converted unless present and intact; None when its converter is not
    installed."""
    import importlib.util

    from export._files import scratch, swap_in
    from export.runtimes import ArtifactError, read_verified

    from android_bench.harness.artifacts import cache_name, made_otherwise

    peer = PEERS[name]
    if peer.module and importlib.util.find_spec(peer.module) is None:
        return None
    folder = root / cache_name(loaded.ref) / f"{name}-seq{seq_len}"
    if (folder / "manifest.json").is_file():
        try:
            manifest = read_verified(folder)
            why = (f"its manifest says {manifest.get('peer')!r} at seq_len {manifest.get('seq_len')}"
                   if (manifest.get("peer"), manifest.get("seq_len")) != (name, seq_len)
                   else made_otherwise(manifest, model=loaded.ref, weights=weights))
            if why is None:
                return folder
            log.warning("not reusing %s: %s; converting it again", folder, why)
        except ArtifactError as exc:
            log.warning("not reusing %s: %s", folder, exc)
    source = peer.needs and ensure_peer(root, peer.needs, loaded, weights=weights, seq_len=seq_len)
    folder.parent.mkdir(parents=True, exist_ok=True)
    log.info("converting %s to %s (seq_len %d)", loaded.name, name, seq_len)
    with scratch(folder, "peer") as stage:
        file, outputs = peer.convert(loaded, stage, seq_len, source)
        _write_manifest(stage, file, loaded, peer, weights=weights, seq_len=seq_len, outputs=outputs)
        swap_in(stage, folder)
    return folder


def _example(loaded, seq_len: int) -> dict:
    import torch

    example = loaded.inputs(seq_len=seq_len, batch=1)
    return {n: torch.from_numpy(example[n]) for n in loaded.input_names}


@_peer(name="peer-onnx", format="onnx", precision="fp32")
def _onnx(loaded, folder: Path, seq_len: int, _source) -> tuple[Path, list[str]]:
    import torch

    out = folder / "model.onnx"
    args = tuple(_example(loaded, seq_len).values())
    torch.onnx.export(loaded.module.eval(), args, str(out), input_names=loaded.input_names,
                      output_names=loaded.output_names, opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in loaded.input_names})
    return out, list(loaded.output_names)


@_peer(name="peer-onnx-int8", format="onnx", precision="int8", needs="peer-onnx")
def _onnx_int8(loaded, folder: Path, _seq_len, fp32: Path) -> tuple[Path, list[str]]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from export.runtimes import read_manifest

    out = folder / "model.onnx"
    quantize_dynamic(str(fp32 / read_manifest(fp32)["file"]["name"]), str(out), per_channel=True,
                     weight_type=QuantType.QInt8)
    return out, list(loaded.output_names)


@_peer(name="peer-litert-torch", format="tflite", precision="fp32", static=True, module="litert_torch")
def _litert_torch(loaded, folder: Path, seq_len: int, _source, quant_config=None) -> tuple[Path, list[str]]:
    """The converted file and its signature's output names (litert-torch names them output_0, output_1, ...)."""
    import litert_torch
    from ai_edge_litert.interpreter import Interpreter

    out = folder / "model.tflite"
    litert_torch.convert(loaded.module.eval(), sample_kwargs=_example(loaded, seq_len),
                         quant_config=quant_config).export(str(out))
    runner = Interpreter(model_path=str(out)).get_signature_runner("serving_default")
    return out, list(runner.get_output_details())


@_peer(name="peer-litert-torch-int8", format="tflite", precision="int8", static=True, module="litert_torch")
def _litert_torch_int8(loaded, folder: Path, seq_len: int, _source) -> tuple[Path, list[str]]:
    from litert_torch.generative.quantize import quant_recipes

    return _litert_torch(loaded, folder, seq_len, None, quant_config=quant_recipes.full_dynamic_recipe())


def _write_manifest(folder: Path, file: Path, loaded, peer: Peer, *, weights: str, seq_len: int,
                    outputs: list[str]) -> None:
    from export import sha256, tool_versions, write_json_atomic

    config = loaded.config
    shape = [1, seq_len] if peer.static else ["batch", "sequence"]
    write_json_atomic(folder / "manifest.json", {
        "schema": 1, "peer": peer.name, "weights": weights,
        "model": {"name": loaded.name, "ref": loaded.ref, "max_position_embeddings": config.max_position_embeddings,
                  "vocab_size": config.vocab_size, "type_vocab_size": getattr(config, "type_vocab_size", 2),
                  "weights": loaded.weights},
        "format": peer.format, "precision": peer.precision, "seq_len": seq_len, "dynamic_shapes": not peer.static,
        "inputs": [{"name": n, "dtype": "int32" if peer.static else "int64", "shape": shape}
                   for n in loaded.input_names],
        "outputs": [{"name": n} for n in outputs],
        "file": {"name": file.name, "bytes": file.stat().st_size, "sha256": sha256(file)}, "tools": tool_versions()})
