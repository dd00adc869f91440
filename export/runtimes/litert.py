"""LiteRT (TFLite) through ai_edge_litert's stock Interpreter (XNNPACK by default), via the named signature.

Our TFLite files are resizable in the sequence ([1, -1] shape_signature): the signature runner resizes the inputs
to what it is fed at every call, as MediaPipe does. The lengths a file takes are its manifest's `seq_len_range`;
a length outside it (or another batch, or any other shape for a fixed-shape file) fails here in one line instead
of in the interpreter's reshape ("failed to prepare").
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import InputShapeError, register_runtime

SIGNATURE = "serving_default"


def _shape_text(signature) -> str:
    return "[" + ", ".join("any" if d == -1 else str(d) for d in signature) + "]"


@register_runtime(".tflite")
class LiteRTRuntime:
    name = "litert"

    def __init__(self, path, *, input_names, output_names, threads=None, seq_len_range=None):
        from ai_edge_litert.interpreter import Interpreter

        self._file = Path(path).name
        self._interpreter = Interpreter(model_path=str(path), num_threads=threads or None)
        signatures = self._interpreter.get_signature_list()
        if SIGNATURE not in signatures:
            raise ValueError(f"no '{SIGNATURE}' signature (found {sorted(signatures) or 'none'})")
        self._runner = self._interpreter.get_signature_runner(SIGNATURE)
        details = self._runner.get_input_details()
        self._dtypes = {n: d["dtype"] for n, d in details.items()}
        # -1 where the file resizes (the sequence), else the size it is fixed to
        self.shape_signature = {n: tuple(int(x) for x in d["shape_signature"]) for n, d in details.items()}
        self.seq_len_range = tuple(seq_len_range) if seq_len_range else None
        self.input_names = [n for n in input_names if n in self._dtypes] or sorted(self._dtypes)
        self.output_names = list(output_names) or sorted(self._runner.get_output_details())
        self._errors = ""  # what the interpreter has reported so far

    def check_shapes(self, inputs: dict[str, np.ndarray]) -> None:
        """One line (InputShapeError) for inputs the file does not take."""
        for name, signature in self.shape_signature.items():
            shape = tuple(np.shape(inputs[name]))
            if len(shape) != len(signature) or any(s not in (-1, d) for s, d in zip(signature, shape)):
                raise InputShapeError(f"{self._file} takes {name} of shape {_shape_text(signature)}, got "
                                      f"{list(shape)}: feed that shape")
        if self.seq_len_range:
            low, high = self.seq_len_range
            length = int(np.shape(inputs[self.input_names[0]])[-1])
            if length > high:
                raise InputShapeError(f"{self._file} takes {low}..{high} tokens (seq_len_range in its manifest), got "
                                      f"{length}: truncate the input to {high} tokens or export with --seq-len {length}")
            if length < low:
                raise InputShapeError(f"{self._file} takes {low}..{high} tokens (seq_len_range in its manifest), got "
                                      f"{length}: every text tokenizes to at least [CLS] [SEP]")

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.check_shapes(inputs)
        # The file's inputs are int32 (apps have no int64); token ids and masks fit, so the cast is exact.
        try:
            out = self._runner(**{n: np.asarray(inputs[n], dtype=self._dtypes[n]) for n in self._dtypes})
        except RuntimeError as exc:  # the interpreter's error text keeps every earlier error: report the new one
            text = str(exc)
            new = text[len(self._errors):] if self._errors and text.startswith(self._errors) else text
            self._errors = text
            raise RuntimeError(new.strip() or text) from None
        return {n: out[n] for n in self.output_names}
