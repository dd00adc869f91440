"""int8 dynamic quantization of an ONNX file with ONNX Runtime's quantizer."""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

OP_TYPES = ["MatMul", "Gemm", "Gather"]


def quantize_file(fp32: Path, out: Path) -> dict:
    """MatMul/Gemm -> MatMulInteger with uint8 weights; Gather tables (embeddings) -> uint8 + dequantize."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger("root").setLevel(logging.ERROR)  # ORT's quantizer logs every skipped node
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QUInt8, op_types_to_quantize=OP_TYPES)
    return census(onnx.load(str(out)))


def census(model) -> dict:
    """Integer ops vs float matmuls/convs that still have constant (initializer) weights."""
    graph = model.graph
    ops = Counter(n.op_type for n in graph.node)
    initializers = {i.name for i in graph.initializer}
    float_weighted = Counter(n.op_type for n in graph.node
                             if n.op_type in ("MatMul", "Gemm", "Conv", "Gather") and any(i in initializers for i in n.input[:2]))
    # Gathers on a quantized table read uint8 data; count tables by their dtype instead.
    quantized_tables = sum(1 for i in graph.initializer if i.data_type == 2 and len(i.dims) == 2)  # uint8 2-D
    return {"quantized": {"MatMulInteger": ops.get("MatMulInteger", 0), "ConvInteger": ops.get("ConvInteger", 0),
                          "uint8 weight tensors": quantized_tables},
            "float": {k: v for k, v in float_weighted.items() if k != "Gather"},
            "float_by_design": "LayerNorm, softmax and the attention matmuls (activation x activation) stay float"}
