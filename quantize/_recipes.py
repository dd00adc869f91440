"""The int8 scheme of each format, chosen by measurement (see quantize/bench.py and the issue notes)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Recipe:
    format: str
    code: str  # CLI name
    weights: str
    activations: str
    tool: str
    why: str

    def record(self) -> dict:
        return asdict(self)


# Every recipe runs on the mobile graph (models/mobile.py), where SqueezeBERT's grouped 1x1 convolutions are
# per-group nn.Linear: that is what makes the quantizers below cover them at all.
RECIPES = {r.format: r for r in (
    Recipe("torchscript", "int8-dynamic", "int8 per-channel (Linear), int8 per-row (Embedding)",
           "int8 scaled per token at run time (Linear, torch._int_mm); float elsewhere",
           "quantize.torchscript.PerTokenInt8Linear for every nn.Linear; quantize.embedding.Int8Embedding",
           "quantize_dynamic left all 72 grouped Conv1d of the reference graph in fp32, and its per-tensor 7-bit "
           "activations gave cosine 0.957 on real BERT weights (per token: 0.997)"),
    Recipe("onnx", "int8-dynamic", "int8 per-channel (MatMul, Gemm), int8 (Gather)",
           "uint8 scaled per token at run time (MatMulInteger)",
           "quantize.onnx.per_token_int8_matmuls (standard ops around MatMulInteger); "
           "onnxruntime.quantization.quantize_dynamic for Gather",
           "ORT's default on the reference graph turns Conv into ConvInteger, 3x slower than fp32; its per-tensor "
           "activations gave cosine 0.986 on real BERT weights (per token: 0.996); u8s8 is ORT's fast x86 kernel"),
    Recipe("tflite", "int8-dynamic", "int8 per-channel (FULLY_CONNECTED, GATHER tables)",
           "float in the file; the hybrid kernels quantize each row (token) to int8 at run time",
           "TFLiteConverter Optimize.DEFAULT without representative data (dynamic range)",
           "the converter's dynamic-range mode is what XNNPACK runs as int8 GEMMs with hybrid kernels"),
    Recipe("executorch", "int8-dynamic", "int8 per-channel (linear), int8 per-row (embedding)",
           "int8 per token at run time (linear; the dynamic quantization lowers to XNNPACK qd8, one scale a row)",
           "XNNPACKQuantizer(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)) via PT2E; "
           "embeddings: quantize.embedding.Int8Embedding",
           "XNNPACK's dynamic quantizer covers linear only: on the reference graph it changed nothing"),
)}
SCHEMES = ("int8-dynamic",)
