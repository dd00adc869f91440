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
    Recipe("torchscript", "int8-dynamic", "int8 per-channel (Linear), uint8 per-row (Embedding)",
           "dynamically quantized int8 per tensor (Linear); float elsewhere",
           "torch.ao.quantization.quantize_dynamic {Linear, Embedding}",
           "quantize_dynamic replaces only nn.Linear/nn.Embedding: on the reference graph it left all 72 grouped "
           "Conv1d in fp32"),
    Recipe("onnx", "int8-dynamic", "int8 per-channel (MatMul), int8 (Gather)", "dynamic uint8 per tensor (MatMulInteger)",
           "onnxruntime.quantization.quantize_dynamic(op_types=MatMul, Gemm, Gather; weight_type=QInt8, per_channel)",
           "ORT's default on the reference graph turns Conv into ConvInteger, 3x slower than fp32; on the mobile "
           "graph int8 weights run u8s8 MatMulInteger, 1.3x faster than fp32 where uint8 weights were no faster"),
    Recipe("tflite", "int8-dynamic", "int8 per-channel (FULLY_CONNECTED, GATHER tables)", "float (dynamic range)",
           "TFLiteConverter Optimize.DEFAULT without representative data (dynamic range)",
           "the converter's dynamic-range mode is what XNNPACK runs as int8 GEMMs with hybrid kernels"),
    Recipe("executorch", "int8-dynamic", "int8 per-channel (linear), int8 per-row (embedding)",
           "dynamically quantized int8 per tensor (linear)",
           "XNNPACKQuantizer(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)) via PT2E; "
           "embeddings: quantize.embedding.Int8Embedding",
           "XNNPACK's dynamic quantizer covers linear only: on the reference graph it changed nothing"),
)}
SCHEMES = ("int8-dynamic",)
