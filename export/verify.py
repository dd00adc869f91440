"""`python -m export.verify DIR`: re-measure an artifact against PyTorch eager, independently of its export.

The model is reloaded from what the manifest records (name or folder, weights source and seed), the artifact
is run in its desktop runtime on fresh sample inputs, and the measured max abs diff per output is printed and
compared with the manifest's and the tolerance. Exit 0 when within tolerance.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

from ._cli import ArgumentParser, positive_int, run_main

log = logging.getLogger("export")


def reload_model(manifest: dict):
    import models

    from ._formats import get_format

    from .runtimes import ArtifactError

    m = manifest.get("model", {})
    weights = m.get("weights", {})
    sources = {"random": "random", "hub": "hub", "folder": weights.get("path")}
    if "ref" not in m or sources.get(weights.get("source")) is None:
        raise ArtifactError(f"the manifest records no model to reload (model.ref, model.weights.source random, hub "
                            f"or folder with its path: {str(m.get('weights'))[:60]}); export the artifact again")
    source = sources[weights["source"]]
    loaded = models.load(m["ref"], weights=source, task=manifest["task"], seed=weights.get("seed", 0))
    fmt = get_format(manifest["format"])
    # the model as the format's options made it (an app head, e.g. MediaPipe's probabilities)
    return fmt.prepare(loaded, format_options(manifest)) if fmt.prepare else loaded


def format_options(manifest: dict) -> dict:
    """The format options an artifact was made with (older manifests record only the graph)."""
    return manifest.get("options") or {"graph": manifest.get("graph", "mobile")}


def verify(artifact_dir: Path, *, threads: int | None = None) -> dict[str, float]:
    """Max abs diff per output of the artifact vs eager, at its export shape (and a second one if dynamic). The
    manifest and the model file measured are of one generation of the folder (an export may replace it)."""
    from ._pipeline import validation_shapes
    from ._validate import Tolerance, compare, max_abs_diff_by_output
    from .runtimes import ArtifactError, open_artifact, read_consistent, read_manifest

    first = read_manifest(artifact_dir)
    if "validation" not in first:  # android_bench's peers: converted by others' tools, never validated
        raise ArtifactError(f"{artifact_dir}: its manifest has no validation record (not an artifact of python -m "
                            "export); verify re-measures export's artifacts only")
    if "text_input" in first:  # a string-in ONNX: strings in, on every tokenizer case
        manifest, (results, report) = read_consistent(artifact_dir, lambda m: _compare_text(artifact_dir, m, threads))
    else:
        manifest, runtime = open_artifact(artifact_dir, threads=threads)  # from here on, the folder may change
        check_precision(artifact_dir, manifest)  # before the model is reloaded
        loaded = reload_model(manifest)
        shapes = validation_shapes(loaded, manifest["seq_len"], dynamic=manifest["dynamic_shapes"],
                                   dynamic_batch=manifest.get("dynamic_batch", True),
                                   seq_len_range=manifest.get("seq_len_range"))
        results, report = compare(loaded, runtime, shapes, tolerance=Tolerance(**manifest["validation"]["tolerance"]))
    for line in report:
        log.info("%s", line)
    diffs = max_abs_diff_by_output(results)
    log.info("verified: %s (%s %s) within tolerance (%s): max abs diff %s", artifact_dir, manifest["format"],
             manifest["precision"], Tolerance(**manifest["validation"]["tolerance"]).describe(),
             ", ".join(f"{k} {v:.2g}" for k, v in diffs.items()))
    return diffs


# ONNX ops that only a quantized graph has (ORT's integer and quantize/dequantize kernels)
QUANTIZED_OPS = {"MatMulInteger", "MatMulIntegerToFloat", "ConvInteger", "QLinearMatMul", "QLinearConv", "QGemm",
                 "QAttention", "DynamicQuantizeLinear", "DynamicQuantizeMatMul", "QuantizeLinear", "DequantizeLinear",
                 "MatMulNBits", "GatherBlockQuantized"}
INT8_MAX_RATIO = 0.8  # an int8 file of our recipes is 0.26-0.35 of its fp32 one: above this it is not quantized


def check_precision(artifact_dir: Path, manifest: dict) -> None:
    """The model file is of the manifest's precision, where that is cheap to see: an ONNX graph by its integer ops
    and int8 tensors, another file by its size against the sizes its quantization record gives. One line when the
    manifest does not describe the file (e.g. an fp32 file whose manifest was edited to claim int8)."""
    from .runtimes import ArtifactError

    path = Path(artifact_dir) / manifest["file"]["name"]
    found = _mismatch(path, manifest["precision"], (manifest.get("quantization") or {}).get("size_bytes") or {})
    if found:
        raise ArtifactError(f"{path}: the manifest says {manifest['precision']}, the file is {found}; the manifest "
                            "does not describe the file: export the artifact again")


def _mismatch(path: Path, precision: str, sizes: dict) -> str | None:
    """What the file is, when it is not what `precision` says (None: it is, or this cannot be seen cheaply)."""
    size, quantized = path.stat().st_size, precision != "fp32"
    if path.suffix == ".onnx":
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
        ops = {n.op_type for n in graph.node} & QUANTIZED_OPS
        ints = sum(t.data_type in (onnx.TensorProto.INT8, onnx.TensorProto.UINT8) for t in graph.initializer)
        if bool(ops or ints) != quantized:
            return f"{'not quantized' if quantized else 'quantized'}: {len(ops)} integer op types, {ints} int8 tensors"
    if quantized and "fp32" in sizes and size > INT8_MAX_RATIO * sizes["fp32"]:
        return f"not quantized: {size} bytes, {size / sizes['fp32']:.2f} of the fp32 file's {sizes['fp32']}"
    if sizes.get(precision, size) != size:
        return f"{size} bytes, its quantization record says {sizes[precision]}"
    return None
def _compare_text(artifact_dir: Path, manifest: dict, threads: int | None):
    """A string-in ONNX needs the extensions' op library and the tokenizer: opened and measured in one go."""
    from ._validate import Tolerance
    from .onnx_text import compare_text

    check_precision(artifact_dir, manifest)
    _, results, report = compare_text(reload_model(manifest), Path(artifact_dir) / manifest["file"]["name"],
                                      tolerance=Tolerance(**manifest["validation"]["tolerance"]), threads=threads,
                                      max_length=manifest["seq_len"])
    return results, report


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m export.verify", description=__doc__.split("\n\n")[1])
    p.add_argument("artifact", type=Path, help="artifact folder (model file + manifest.json)")
    p.add_argument("--threads", type=positive_int, default=None, help="runtime threads")
    p.add_argument("-v", "--verbose", action="store_true", help="full tracebacks on error")
    return run_main(lambda args: verify(args.artifact, threads=args.threads), argv, parser=p)


if __name__ == "__main__":
    sys.exit(main())
