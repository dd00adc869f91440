"""int8 dynamic quantization of an ONNX file: per-token int8 activations x per-channel int8 weights.

ONNX Runtime's `quantize_dynamic` scales activations per tensor (DynamicQuantizeLinear). On real BERT weights
(all-MiniLM-L6-v2) that lost too much: mean cosine 0.986 against eager, because the FFN output layer's input
(GELU output) has a few values ~10x the rest. One scale per token (row), as XNNPACK and TFLite's hybrid
kernels do, keeps 0.997. ORT's quantizer has no per-token mode, so each constant-weight MatMul/Gemm is
rewritten here: the activation quantized per token by standard ops, the product one MatMulIntegerToFloat
(ORT's contrib op, in every ORT build with contrib ops, x86 and ARM64), which takes a per-token and a
per-channel scale; the embedding tables (Gather) still go through ORT's quantizer.
"""
from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

CONTRIB = "com.microsoft"  # ONNX Runtime's own operators (MatMulIntegerToFloat), in every ORT build with contrib ops
ZERO_POINT = 128  # activations are uint8 (u8s8 is ORT's fast x86 path); a token's int8 value v is stored as v+128


def quantize_file(fp32: Path, out: Path) -> tuple[dict, dict]:
    """Write the int8 file; return its quantized-layer census and its op census (export.onnx.op_census), from one
    read of it."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from export.onnx import op_census

    model = onnx.load(str(fp32))
    per_token_int8_matmuls(model)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        rewritten = Path(tmp) / fp32.name
        onnx.save(model, str(rewritten))
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # ORT's quantizer logs every skipped node on the root logger
        try:
            quantize_dynamic(str(rewritten), str(out), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["Gather"])
        finally:
            root.setLevel(level)  # and our own INFO lines go through root's handler too
    written = onnx.load(str(out), load_external_data=False)
    return census(written), op_census(written)


def per_token_int8_matmuls(model) -> int:
    """Rewrite every x @ W with a constant W in place (2-D: MatMul, or Gemm with alpha = beta = 1 and no transA;
    3-D [g, K, N]: a batched MatMul, each group's rows scaled on their own):

        m  = max(|x|, over the last axis)                  one scale per token (per token and group): m / 127
        xq = QuantizeLinear(x / m, 1/127, 128)             uint8(round(127 x / m) + 128), in one op
        y  = MatMulIntegerToFloat(xq, Wq, m, w_scale / 127, 128) (+ bias)

    with Wq int8 symmetric per output channel; ORT's kernel scales the int32 product by w_scale per column inside
    the GEMM and by m per row after it. The bias is a separate Add: the kernel would apply a per-row scale after
    its own bias input (and ORT's MatMulInteger -> Cast -> Mul fusion hands it the bias that way: wrong results).
    The 1/127 sits in QuantizeLinear's scale and in w_scale, so a token's scale costs no op of its own. ORT runs
    the chain's small ops unthreaded, so each one counts at 2 threads, and each activation is quantized once
    however many MatMuls read it (BERT's q, k and v share one x). SqueezeBERT's grouped layers arrive batched
    (export.onnx.INT8_GROUPS): one MatMul a layer, its input quantized once, per token and group. Returns how
    many layers were rewritten."""
    from onnx import helper, numpy_helper

    graph = model.graph
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    weights = {i.name: i for i in graph.initializer}
    constants = {"pt_eps": np.float32(1e-12), "pt_inv_127": np.float32(1 / 127),
                 "pt_zero_point": np.uint8(ZERO_POINT), "pt_last_axis": np.array([-1], np.int64)}
    nodes, added, rewritten, quantized = [], [], 0, {}  # quantized: float tensor -> (its uint8 tensor, its m)

    def quantize(x: str) -> tuple[str, str]:
        if x in quantized:
            return quantized[x]
        p = f"{x}/pt_"
        reduce = (helper.make_node("ReduceMax", [p + "abs", "pt_last_axis"], [p + "amax"], keepdims=1) if opset >= 18
                  else helper.make_node("ReduceMax", [p + "abs"], [p + "amax"], keepdims=1, axes=[-1]))
        nodes.extend([
            helper.make_node("Abs", [x], [p + "abs"]), reduce,
            helper.make_node("Max", [p + "amax", "pt_eps"], [p + "amax_safe"]),  # an all-zero token: no 0/0
            helper.make_node("Div", [x, p + "amax_safe"], [p + "x_scaled"]),
            # round half to even, + 128, to uint8 in one op (a per-tensor scale of 1/127: the per-token m is above)
            helper.make_node("QuantizeLinear", [p + "x_scaled", "pt_inv_127", "pt_zero_point"], [p + "x_uint8"]),
        ])
        quantized[x] = (p + "x_uint8", p + "amax_safe")
        return quantized[x]

    for node in graph.node:
        w = _constant_weight(node, weights, numpy_helper)
        if w is None:
            nodes.append(node)
            continue
        p = f"{node.name or node.output[0]}/pt_"
        w_scale = np.abs(w).max(axis=-2, keepdims=w.ndim == 3) / 127  # per output channel (of each group)
        w_scale[w_scale == 0] = 1
        added += [numpy_helper.from_array(np.clip(np.round(w / w_scale), -127, 127).astype(np.int8), p + "w_int8"),
                  numpy_helper.from_array((w_scale / 127).astype(np.float32), p + "w_scale")]
        x_uint8, m = quantize(node.input[0])
        y = node.output[0] if node.op_type == "MatMul" or len(node.input) < 3 else p + "y"
        nodes.append(helper.make_node("MatMulIntegerToFloat", [x_uint8, p + "w_int8", m, p + "w_scale", "pt_zero_point"],
                                      [y], domain=CONTRIB))
        if y != node.output[0]:
            nodes.append(helper.make_node("Add", [y, node.input[2]], [node.output[0]]))
        rewritten += 1
    if rewritten:
        added += [numpy_helper.from_array(np.asarray(v), k) for k, v in constants.items()]
        if all(o.domain != CONTRIB for o in model.opset_import):
            model.opset_import.append(helper.make_opsetid(CONTRIB, 1))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(added)
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    kept = [i for i in graph.initializer if i.name in used]  # the float weights that were replaced go
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return rewritten


def _constant_weight(node, weights: dict, numpy_helper) -> np.ndarray | None:
    """W as [K, N] when `node` is x @ W (+ bias) with W an initializer, or [g, K, N] for a batched MatMul (the
    mobile graph's groups="batched"); None for anything else."""
    if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2 or node.input[1] not in weights:
        return None
    w = numpy_helper.to_array(weights[node.input[1]])
    if w.ndim not in (2, 3 if node.op_type == "MatMul" else 2) or w.dtype != np.float32:
        return None
    if node.op_type == "Gemm":
        attrs = {a.name: a for a in node.attribute}
        if attrs.get("transA") and attrs["transA"].i or any(k in attrs and attrs[k].f != 1 for k in ("alpha", "beta")):
            return None
        if attrs.get("transB") and attrs["transB"].i:
            w = w.T
    return w


def census(model) -> dict:
    """Integer ops vs float matmuls/convs that still have constant (initializer) weights."""
    import onnx

    graph = model.graph
    ops = Counter(n.op_type for n in graph.node)
    initializers = {i.name for i in graph.initializer}
    float_weighted = Counter(n.op_type for n in graph.node
                             if n.op_type in ("MatMul", "Gemm", "Conv", "Gather") and any(i in initializers for i in n.input[:2]))
    # Gathers on a quantized table read uint8 data; count tables by their dtype instead.
    int8_types = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
    quantized_tables = sum(1 for i in graph.initializer if i.data_type in int8_types and len(i.dims) == 2)
    return {"quantized": {op: ops.get(op, 0) for op in ("MatMulIntegerToFloat", "MatMulInteger", "ConvInteger")} | {
                          "int8 weight tensors": quantized_tables},
            "float": {k: v for k, v in float_weighted.items() if k != "Gather"},
            "float_by_design": "LayerNorm, softmax and the attention matmuls (activation x activation) stay float"}
