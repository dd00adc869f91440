"""int8 for ExecuTorch, derived from the fp32 exported program: weight-only int8 embeddings (a graph pass) and
XNNPACK dynamically quantized linears (PT2E)."""
from __future__ import annotations

import functools
import warnings

from .embedding import quantize_rows


def int8_embeddings_(graph_module) -> int:
    """Rewrite every `aten.embedding` of a constant table (in place) into Int8Embedding's ops: gather int8 rows
    and their scales, multiply. Returns how many tables."""
    import torch

    aten, graph, count = torch.ops.aten, graph_module.graph, 0
    for node in list(graph.nodes):
        if not (node.op == "call_function" and node.target == aten.embedding.default and node.args[0].op == "get_attr"):
            continue
        table = functools.reduce(getattr, node.args[0].target.split("."), graph_module)
        qweight, scale = quantize_rows(table.detach())
        stem = f"int8_embedding_{count}"
        graph_module.register_buffer(f"{stem}_rows", qweight)
        graph_module.register_buffer(f"{stem}_scale", scale)
        ids = node.args[1]
        with graph.inserting_before(node):
            rows = graph.call_function(aten.embedding.default, (graph.get_attr(f"{stem}_rows"), ids))
            rows = graph.call_function(aten._to_copy.default, (rows,), {"dtype": torch.float32})
            scales = graph.call_function(aten.embedding.default, (graph.get_attr(f"{stem}_scale"), ids))
            product = graph.call_function(aten.mul.Tensor, (rows, scales))
        node.replace_all_uses_with(product)
        graph.erase_node(node)
        count += 1
    graph.eliminate_dead_code()
    graph_module.delete_all_unused_submodules()
    graph_module.recompile()
    return count


def quantize_program(program, products):
    """The fp32 program with int8 embeddings and XNNPACK dynamic-quantized linears, exported again."""
    import torch
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from export.executorch import export_program

    graph = program.module()  # a fresh module: the fp32 program is left as it is
    embeddings = int8_embeddings_(graph)
    args = [torch.from_numpy(products.example[n]) for n in products.contract.input_names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True,
                                                                                    is_dynamic=True))
        prepared = prepare_pt2e(graph, quantizer)
        prepared(*args)  # dynamic quantization: one pass just to trace observers
        converted = convert_pt2e(prepared)
    return export_program(converted, products), {"int8 embeddings": embeddings}


def census(report: dict, extra: dict) -> dict:
    """From the delegation report: linears XNNPACK runs with int8 weights, and what is left float."""
    delegated = report["delegated_ops"]
    return {"quantized": {"linear (XNNPACK dynamic int8)": delegated.get("quantized_decomposed_dequantize_per_channel_default", 0),
                          **extra},
            "float": {k: v for k, v in {"linear": delegated.get("aten_linear_default", 0) - delegated.get(
                "quantized_decomposed_dequantize_per_channel_default", 0)}.items() if v},
            "float_by_design": "LayerNorm, softmax and the attention matmuls (activation x activation) stay float"}
