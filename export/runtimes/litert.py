"""LiteRT (TFLite) through ai_edge_litert's stock Interpreter (XNNPACK by default), via the named signature."""
from __future__ import annotations

import numpy as np

from . import register_runtime

SIGNATURE = "serving_default"


@register_runtime(".tflite")
class LiteRTRuntime:
    name = "litert"

    def __init__(self, path, *, input_names, output_names, threads=None):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=threads or None)
        signatures = self._interpreter.get_signature_list()
        if SIGNATURE not in signatures:
            raise ValueError(f"no '{SIGNATURE}' signature (found {sorted(signatures) or 'none'})")
        self._runner = self._interpreter.get_signature_runner(SIGNATURE)
        self._dtypes = {n: d["dtype"] for n, d in self._runner.get_input_details().items()}
        self.input_names = [n for n in input_names if n in self._dtypes] or sorted(self._dtypes)
        self.output_names = list(output_names) or sorted(self._runner.get_output_details())

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # The file's inputs are int32 (apps have no int64); token ids and masks fit, so the cast is exact.
        out = self._runner(**{n: np.asarray(inputs[n], dtype=self._dtypes[n]) for n in self._dtypes})
        return {n: out[n] for n in self.output_names}
