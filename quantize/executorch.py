"""int8 for ExecuTorch: XNNPACK dynamically quantized linear (PT2E) + weight-only int8 embeddings."""
from __future__ import annotations

import copy
import warnings

from .embedding import quantize_embeddings_


def quantize_program(module, example: dict, *, input_names, max_seq_len: int):
    """The exported program of `module` with int8 embeddings and XNNPACK dynamic-quantized linears."""
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from export.executorch import export_program

    module = copy.deepcopy(module).eval()
    embeddings = quantize_embeddings_(module)
    args = [example[n] for n in input_names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_program(module, example, input_names=input_names, max_seq_len=max_seq_len).module()
        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True,
                                                                                    is_dynamic=True))
        prepared = prepare_pt2e(graph, quantizer)
        import torch

        prepared(*[torch.from_numpy(a) for a in args])  # dynamic quantization: one pass just to trace observers
        converted = convert_pt2e(prepared)
    program = export_program(converted, example, input_names=input_names, max_seq_len=max_seq_len)
    return program, {"int8 embeddings": embeddings}


def census(report: dict, extra: dict) -> dict:
    """From the delegation report: linears XNNPACK runs with int8 weights, and what is left float."""
    delegated = report["delegated_ops"]
    return {"quantized": {"linear (XNNPACK dynamic int8)": delegated.get("quantized_decomposed_dequantize_per_channel_default", 0),
                          **extra},
            "float": {k: v for k, v in {"linear": delegated.get("aten_linear_default", 0) - delegated.get(
                "quantized_decomposed_dequantize_per_channel_default", 0)}.items() if v},
            "float_by_design": "LayerNorm, softmax and the attention matmuls (activation x activation) stay float"}
