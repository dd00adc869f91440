"""ONNX -> TensorFlow SavedModel with onnx2tf, and nothing more. Run as a subprocess:

    python -m export.tflite.onnx2tf_savedmodel MODEL.onnx SAVED_MODEL_DIR

onnx2tf always goes on to convert its SavedModel to float32 AND float16 .tflite files, which we throw away
(export/tflite/signature.py makes the shipped file, with a named signature). Those two conversions are
most of its time, and on BERT-base its Keras-model conversion was OOM-killed at 22 GB RSS on a 24 GiB
machine. onnx2tf has no flag to stop after the SavedModel, so we stop it at its first TFLite converter.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# -rtpo Erf: otherwise GELU's Erf becomes FlexErf, which the stock interpreter refuses.
# -b 1: the batch is 1; without it onnx2tf takes the ONNX shapes' batch for unknown, finds them unlike TensorFlow's
# (1, None, H) and "transposes" LayerNorm's axis onto the (dynamic) sequence: the conversion fails.
# -n: errors only. onnxsim stays on: without it onnx2tf fails on the attention scale's constant Div.
ONNX2TF_FLAGS = ["-rtpo", "Erf", "-b", "1", "-n"]


class _SavedModelWritten(Exception):
    pass


def _stop(*args, **kwargs):
    raise _SavedModelWritten


def convert(onnx_path: str, saved_model: str) -> None:
    import onnx2tf
    import tensorflow as tf

    # onnx2tf builds its first TFLite converter right after writing the SavedModel.
    tf.lite.TFLiteConverter.from_keras_model = staticmethod(_stop)
    tf.lite.TFLiteConverter.from_concrete_functions = staticmethod(_stop)
    try:
        sys.argv = ["onnx2tf", "-i", onnx_path, "-o", saved_model, *ONNX2TF_FLAGS]
        onnx2tf.main()
    except _SavedModelWritten:
        pass
    if not os.path.exists(os.path.join(saved_model, "saved_model.pb")):
        raise SystemExit(f"error: onnx2tf wrote no SavedModel to {saved_model}")


if __name__ == "__main__":
    convert(*sys.argv[1:3])
