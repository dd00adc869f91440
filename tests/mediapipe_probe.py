"""A TFLite that shows what MediaPipe's tokenizer feeds a model. Run as a subprocess (TensorFlow):

    python -m tests.mediapipe_probe OUT.tflite

Three int32 [1, -1] inputs (input_ids, attention_mask, token_type_ids, resizable as our assets are), one float32
[1, 3 * length] output that is those inputs side by side. With our MediaPipe metadata on it (the same writer and
vocab.txt as an asset's), TextEmbedder's "embedding" of a string is exactly the ids, mask and segment ids that
MediaPipe's BertTokenizer made of it, at the length MediaPipe fed.
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build(out: str) -> None:
    import tensorflow as tf

    specs = [tf.TensorSpec([1, None], tf.int32, name=n) for n in ("input_ids", "attention_mask", "token_type_ids")]

    class Probe(tf.Module):
        @tf.function(input_signature=specs)
        def serving_default(self, input_ids, attention_mask, token_type_ids):
            return {"embedding": tf.cast(tf.concat([input_ids, attention_mask, token_type_ids], axis=1), tf.float32)}

    probe = Probe()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [probe.serving_default.get_concrete_function()], probe)
    with open(out, "wb") as f:
        f.write(converter.convert())


if __name__ == "__main__":
    build(sys.argv[1])
