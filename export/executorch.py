"""ExecuTorch: torch.export -> to_edge_transform_and_lower(XnnpackPartitioner) -> to_executorch -> .pte.

Sequence length is dynamic (`Dim("sequence", 2..max_position_embeddings)`); batch is fixed at 1, because
XNNPACK's reshape supports only one dynamic dimension ("XNNPACK reshape only supports 1 dynamic dimension"
when both are dynamic). After lowering, the delegation report says what XNNPACK took and what stayed on
ExecuTorch's portable kernels, by op; it is logged and recorded in the manifest.

Hugging Face attention is exported in its "eager" form (matmul, additive mask, softmax), not "sdpa": ExecuTorch
decomposes scaled_dot_product_attention into a "safe" softmax whose masked-row checks (eq, any, where, ...)
stay on portable kernels, 27 ms of 258 per bert-base forward pass at seq 128 on x86.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import warnings

import torch

from models.mobile import mobile_module

from ._files import write_bytes_checked
from ._formats import register_format
from ._pipeline import Converted

log = logging.getLogger("export")


def export_program(module, products):
    """torch.export with the contract's dynamic sequence axis (batch 1: see the module docstring)."""
    contract = products.contract
    args = tuple(torch.from_numpy(products.example[n]) for n in contract.input_names)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        return torch.export.export(module, args, dynamic_shapes=contract.torch_export_dims(), strict=False)


@contextlib.contextmanager
def eager_attention(hf_model):
    """`hf_model` with its attention in the eager form while the block runs (see the module docstring)."""
    previous = hf_model.config._attn_implementation
    hf_model.set_attn_implementation("eager")
    try:
        yield
    finally:
        hf_model.set_attn_implementation(previous)


def drop_noop_expands(graph_module):
    """Edge pass: matmul's decomposition expands both operands to the broadcast shape, and when that is already
    their shape the expand is a full copy on portable kernels (48 a forward pass in both BERT and SqueezeBERT,
    2.2 ms at seq 128 on x86). Such expands are dropped."""
    from executorch.exir.dialects._ops import ops as exir_ops
    from torch.fx.experimental.symbolic_shapes import statically_known_true
    from torch.fx.passes.infra.pass_base import PassResult

    dropped = 0
    for node in graph_module.graph.nodes:
        if node.op == "call_function" and node.target == exir_ops.edge.aten.expand_copy.default:
            before, after = node.args[0].meta["val"].shape, node.meta["val"].shape
            if len(before) == len(after) and all(statically_known_true(a == b) for a, b in zip(before, after)):
                node.replace_all_uses_with(node.args[0])
                dropped += 1
    graph_module.graph.eliminate_dead_code()
    graph_module.recompile()
    return PassResult(graph_module, dropped > 0)


def lower_to_xnnpack(program):
    """Lower to XNNPACK; returns the edge program manager and its delegation report."""
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        edge = to_edge_transform_and_lower(program, transform_passes=[drop_noop_expands],
                                           partitioner=[XnnpackPartitioner()])
    return edge, delegation_report(edge.exported_program().graph_module)


def delegation_report(graph_module) -> dict:
    """What XNNPACK took and what stayed on portable kernels, by op (bookkeeping nodes left out)."""
    from executorch.devtools.backend_debug import get_delegation_info

    info = get_delegation_info(graph_module)
    table = info.get_operator_delegation_dataframe()
    portable, delegated = {}, {}
    for row in table.itertuples():
        if row.op_type in ("Total", "getitem", "sym_size"):
            continue
        if row.occurrences_in_non_delegated_graphs:
            portable[row.op_type] = int(row.occurrences_in_non_delegated_graphs)
        if row.occurrences_in_delegated_graphs:
            delegated[row.op_type] = int(row.occurrences_in_delegated_graphs)
    return {
        "backend": "XnnpackBackend",
        "partitions": int(info.num_delegated_subgraphs),
        "delegated_nodes": int(info.num_delegated_nodes),
        "non_delegated_nodes": int(info.num_non_delegated_nodes),
        "delegated_ops": dict(sorted(delegated.items(), key=lambda kv: -kv[1])),
        "portable_ops": dict(sorted(portable.items(), key=lambda kv: -kv[1])),
    }


def lower_and_save(program, products, path) -> Converted:
    """Lower an exported program to XNNPACK, write the .pte, and report what was delegated."""
    edge, report = lower_to_xnnpack(program)
    log.info("XNNPACK: %d partitions, %d nodes delegated; left on portable kernels: %s", report["partitions"],
             report["delegated_nodes"], ", ".join(f"{op} {n}" for op, n in report["portable_ops"].items()) or "none")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        buffer = edge.to_executorch().buffer
    write_bytes_checked(path, buffer)
    return Converted(files=[path], sections={"executorch": {
        "delegation": report, "dynamic_sequence": list(products.contract.dim_range("sequence")), "batch": 1}})


@register_format("executorch", suffix=".pte", variant="xnnpack", fixed_batch=1)
def convert(loaded, products, path, *, options) -> Converted:
    products.module = mobile_module(loaded, options["graph"])
    with eager_attention(loaded.hf_model):
        products.exported_program = export_program(products.module, products)
    return lower_and_save(products.exported_program, products, path)


def main(argv=None) -> int:
    from ._cli import format_main

    return format_main("executorch", argv)


if __name__ == "__main__":
    sys.exit(main())
