"""The int8 recipe of each format, registered with export (entry point `squeezebert_mobile.recipes`).

Chosen by measurement (android_bench.studies.precision and the issue notes). Every recipe runs on the mobile graph
(models/mobile.py), where SqueezeBERT's grouped 1x1 convolutions are per-group nn.Linear or batched matmuls with
constant weights: that is what makes the quantizers cover them at all. Each starts from a product of the fp32 conversion (its `stage`), so int8
never converts a model a second time. Importing this module loads no torch: the apply functions do.
"""
from __future__ import annotations

from export import Recipe, Scheme, register_recipe

NAME = "int8-dynamic"
PER_CHANNEL = Scheme("int8", "per-channel")
TARGETS = "every Linear / MatMul with a constant weight, and the embedding tables"


def _torchscript(loaded, products, path, *, options):
    from export.torchscript import trace_and_save

    from .torchscript import quantize_module

    module, layers = quantize_module(products.module)
    converted = trace_and_save(module, products, path)
    converted.layers = layers
    return converted


def _onnx(loaded, products, path, *, options):
    from export import Converted

    from .onnx import quantize_file

    layers, ops = quantize_file(products.onnx, path)
    # the int8 file's own ops (the fp32 artifact's graph may differ: SqueezeBERT's is grouped Conv)
    sections = {**products.sections, "onnx": {**products.sections["onnx"], **ops}}
    return Converted(files=[path], sections=sections, layers=layers)


def _tflite(loaded, products, path, *, options):
    from export.tflite.convert import saved_model_to_tflite

    from .tflite import census

    converted = saved_model_to_tflite(loaded, products, path, optimize=True)
    converted.layers = census(path)
    return converted


def _executorch(loaded, products, path, *, options):
    from export.executorch import lower_and_save

    from .executorch import census, quantize_program

    program, embeddings = quantize_program(products.exported_program, products)
    converted = lower_and_save(program, products, path)
    converted.layers = census(converted.sections["executorch"]["delegation"], embeddings)
    return converted


RECIPES = {r.format: register_recipe(r) for r in (
    Recipe(NAME, "torchscript", "pytorch-module", weights=PER_CHANNEL, activations=Scheme("int8", "per-token"),
           embeddings=Scheme("int8", "per-row"), layers=TARGETS,
           tool="quantize.torchscript.PerTokenInt8Linear (torch._int_mm) for every nn.Linear; "
                "quantize.embedding.Int8Embedding",
           why="quantize_dynamic left all 72 grouped Conv1d of the reference graph in fp32, and its per-tensor 7-bit "
               "activations gave cosine 0.957 on real BERT weights (per token: 0.997)",
           apply=_torchscript),
    Recipe(NAME, "onnx", "onnx-graph", weights=PER_CHANNEL, activations=Scheme("uint8", "per-token", zero_point=128),
           embeddings=Scheme("int8", "per-tensor"), layers=TARGETS,
           tool="quantize.onnx.per_token_int8_matmuls on the batched form (ORT's MatMulIntegerToFloat, one a "
                "grouped layer; each activation quantized once per token by standard ops); "
                "onnxruntime.quantization.quantize_dynamic for Gather",
           why="ORT's default on the reference graph turns Conv into ConvInteger, 3x slower than fp32; its per-tensor "
               "activations gave cosine 0.986 on real BERT weights (per token: 0.996); u8s8 is ORT's fast x86 kernel",
           apply=_onnx),
    Recipe(NAME, "tflite", "converter", weights=PER_CHANNEL, activations=Scheme("int8", "per-token", False),
           embeddings=PER_CHANNEL,
           layers="FULLY_CONNECTED, BATCH_MATMUL (constant weight) and GATHER weights of 1024 elements or more",
           tool="TFLiteConverter Optimize.DEFAULT without representative data (dynamic range), on the fp32 "
                "conversion's SavedModel; activations stay float in the file and the hybrid kernels quantize "
                "each row (token) at run time",
           why="the converter's dynamic-range mode is what XNNPACK runs as int8 GEMMs with hybrid kernels",
           apply=_tflite),
    Recipe(NAME, "executorch", "exported-program", weights=PER_CHANNEL, activations=Scheme("int8", "per-token", False),
           embeddings=Scheme("int8", "per-row"), layers=TARGETS,
           tool="XNNPACKQuantizer(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=True)) via PT2E "
                "on the fp32 exported program (lowers to XNNPACK qd8, one scale a row); embeddings: "
                "quantize.executorch.int8_embeddings_",
           why="XNNPACK's dynamic quantizer covers linear only: on the reference graph it changed nothing",
           apply=_executorch),
)}
