"""int8 dynamic quantization of the PyTorch module that TorchScript traces."""
from __future__ import annotations

import copy
import warnings

import torch
from torch import nn


def quantize_module(module: nn.Module) -> tuple[nn.Module, dict]:
    """quantize_dynamic on Linear (int8 weights, dynamic activations) and Embedding (uint8 rows)."""
    from torch.ao.quantization import float_qparams_weight_only_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = quantize_dynamic(copy.deepcopy(module).eval(), {
            nn.Linear: per_channel_dynamic_qconfig, nn.Embedding: float_qparams_weight_only_qconfig})
    return quantized, census(quantized)


def census(module: nn.Module) -> dict:
    """Which layers are int8 and which stayed float, counted in the module that gets traced."""
    kinds = {"Linear (int8 dynamic)": torch.ao.nn.quantized.dynamic.Linear,
             "Embedding (uint8 rows)": torch.ao.nn.quantized.Embedding}
    quantized = {k: sum(isinstance(m, t) for m in module.modules()) for k, t in kinds.items()}
    float_left = {
        "Linear": sum(type(m) is nn.Linear for m in module.modules()),
        "Conv1d": sum(isinstance(m, nn.Conv1d) for m in module.modules()),
        "Embedding": sum(type(m) is nn.Embedding for m in module.modules()),
    }
    return {"quantized": quantized, "float": {k: v for k, v in float_left.items() if v},
            "float_by_design": "LayerNorm, softmax and the attention matmuls (activation x activation) stay float"}
