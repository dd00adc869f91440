"""ONNX with dynamic batch and sequence axes, validated in ONNX Runtime.

Default exporter: the TorchScript-based one (`dynamo=False`, opset 17). Both exporters validate at ~2e-6
on SqueezeBERT and BERT, but the legacy one exports in ~3 s instead of ~16 s. `--exporter dynamo` (opset 18)
is kept for comparison and for when the legacy exporter is removed from torch. The axes, names and Dims come
from the task's I/O contract (models.contract).
"""
from __future__ import annotations

import shutil
import sys
import warnings
from collections import Counter

import torch

from models.mobile import mobile_module

from ._formats import register_format
from ._pipeline import Converted

DEFAULT_OPSET = {"legacy": 17, "dynamo": 18}


def add_options(parser):
    parser.add_argument("--exporter", choices=("legacy", "dynamo"), default="legacy",
                        help="torch.onnx.export path: legacy (TorchScript-based, dynamo=False) or dynamo")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17 legacy, 18 dynamo)")


def export_onnx(module, example: dict, path, *, contract, exporter="legacy", opset=None) -> dict:
    """torch.onnx.export with the contract's names and dynamic axes; returns the written graph's op census."""
    import onnx

    opset = opset or DEFAULT_OPSET[exporter]
    args = tuple(torch.from_numpy(example[n]) for n in contract.input_names)
    names = {"input_names": list(contract.input_names), "output_names": list(contract.output_names)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if exporter == "legacy":
            torch.onnx.export(module, args, str(path), dynamic_axes=contract.onnx_dynamic_axes() or None,
                              opset_version=opset, do_constant_folding=True, dynamo=False, **names)
        else:
            dims = contract.torch_export_dims()
            program = torch.onnx.export(module, args, dynamic_shapes=dims if any(dims) else None,
                                        opset_version=opset, dynamo=True, verbose=False, **names)
            program.save(str(path))
    graph = onnx.load(str(path), load_external_data=False).graph
    return {"exporter": exporter, "opset": opset, "nodes": len(graph.node),
            "op_census": dict(Counter(n.op_type for n in graph.node).most_common())}


@register_format("onnx", suffix=".onnx", add_options=add_options)
def convert(loaded, products, path, *, options) -> Converted:
    products.onnx = products.work / "fp32.onnx"  # kept for the int8 recipe, which rewrites the graph
    info = export_onnx(mobile_module(loaded, options["graph"]), products.example, products.onnx,
                       contract=products.contract, exporter=options.get("exporter", "legacy"),
                       opset=options.get("opset"))
    shutil.copyfile(products.onnx, path)
    return Converted(files=[path], sections={"onnx": info})


def main(argv=None) -> int:
    from ._cli import format_main

    return format_main("onnx", argv)


if __name__ == "__main__":
    sys.exit(main())
