"""SavedModel (from onnx2tf) -> .tflite with a named `serving_default` signature. Run as a subprocess:

    python -m export.tflite.signature SAVED_MODEL OUT.tflite --outputs last_hidden_state,pooler_output [--int8]

onnx2tf's own .tflite has no SignatureDef and names its outputs Identity, Identity_1; an app should call a
signature runner by name instead. So we wrap onnx2tf's SavedModel signature in a function whose outputs
carry the model's output names and convert that with the stock TFLiteConverter, builtin ops only (a Flex op
fails here, at conversion time). `--int8` adds dynamic-range quantization (int8 weights, float activations).
Kept out of the exporter's process: TensorFlow is heavy, noisy, and best not mixed with torch in one process.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def convert(saved_model: str, out: str, *, outputs: list[str], int8: bool) -> None:
    import tensorflow as tf

    loaded = tf.saved_model.load(saved_model)
    signature = loaded.signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    names = sorted(specs)

    @tf.function(input_signature=[specs[n] for n in names])
    @tf.autograph.experimental.do_not_convert
    def serving_default(*args):
        result = signature(**dict(zip(names, args)))
        # onnx2tf names SavedModel outputs output_0, output_1, ... in the ONNX output order.
        return {name: result[f"output_{i}"] for i, name in enumerate(outputs)}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([serving_default.get_concrete_function()], loaded)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if int8:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # no representative data: dynamic range
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(converter.convert())
    os.replace(tmp, out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("saved_model")
    p.add_argument("out")
    p.add_argument("--outputs", required=True, help="comma-separated output names in ONNX output order")
    p.add_argument("--int8", action="store_true", help="dynamic-range quantization")
    args = p.parse_args(argv)
    convert(args.saved_model, args.out, outputs=args.outputs.split(","), int8=args.int8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
