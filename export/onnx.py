"""ONNX with dynamic batch and sequence axes, validated in ONNX Runtime.

Default exporter: the TorchScript-based one (`dynamo=False`, opset 17). Both exporters validate at ~2e-6
on SqueezeBERT and BERT, but the legacy one exports in ~3 s instead of ~16 s and its graph (Conv on NCW,
Erf-based GELU) is the one onnx2tf converts cleanly to TFLite. `--exporter dynamo` (opset 18) is kept
for comparison and for when the legacy exporter is removed from torch.
"""
from __future__ import annotations

import sys
import warnings
from collections import Counter

import torch

from models.mobile import mobile_module

from ._formats import register_format

DEFAULT_OPSET = {"legacy": 17, "dynamo": 18}


def add_options(parser):
    parser.add_argument("--exporter", choices=("legacy", "dynamo"), default="legacy",
                        help="torch.onnx.export path: legacy (TorchScript-based, dynamo=False) or dynamo")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17 legacy, 18 dynamo)")


def export_onnx(module, example: dict, path, *, input_names, output_names, exporter="legacy", opset=None,
                dynamic=True):
    """torch.onnx.export (dynamic batch/sequence axes unless `dynamic=False`); returns the written graph's op census."""
    import onnx

    opset = opset or DEFAULT_OPSET[exporter]
    args = tuple(torch.from_numpy(example[n]) for n in input_names)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if exporter == "legacy":
            axes = {n: {0: "batch", 1: "sequence"} for n in input_names}
            axes.update({n: {0: "batch", 1: "sequence"} if n == "last_hidden_state" else {0: "batch"}
                         for n in output_names})
            torch.onnx.export(module, args, str(path), input_names=list(input_names),
                              dynamic_axes=axes if dynamic else None,
                              output_names=list(output_names), opset_version=opset,
                              do_constant_folding=True, dynamo=False)
        else:
            batch, seq = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("sequence", min=2, max=512)
            shapes = {n: {0: batch, 1: seq} for n in input_names} if dynamic else None
            program = torch.onnx.export(module, args, input_names=list(input_names), output_names=list(output_names),
                                        dynamic_shapes=shapes, opset_version=opset, dynamo=True, verbose=False)
            program.save(str(path))
    graph = onnx.load(str(path), load_external_data=False).graph
    return {"exporter": exporter, "opset": opset, "nodes": len(graph.node),
            "op_census": dict(Counter(n.op_type for n in graph.node).most_common())}


@register_format("onnx", suffix=".onnx", add_options=add_options, precisions=("fp32", "int8"))
def convert(loaded, *, path, seq_len, options):
    example = loaded.inputs(seq_len=seq_len, batch=1)
    int8 = options["precision"] == "int8"
    fp32_path = path.with_name("fp32.onnx") if int8 else path
    info = export_onnx(mobile_module(loaded, options["graph"]), example, fp32_path, input_names=loaded.input_names,
                       output_names=loaded.output_names, exporter=options.get("exporter", "legacy"),
                       opset=options.get("opset"))
    if not int8:
        return {"onnx": info}
    from quantize import RECIPES
    from quantize.onnx import quantize_file

    layers = quantize_file(fp32_path, path)
    fp32_path.unlink()
    return {"onnx": info, "quantization": {**RECIPES["onnx"].record(), "layers": layers}}


def main(argv=None) -> int:
    from ._single import format_main

    return format_main("onnx", argv)


if __name__ == "__main__":
    sys.exit(main())
