"""ONNX Runtime on the CPU execution provider."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from . import register_runtime


@register_runtime(".onnx")
class OnnxRuntime:
    name = "onnxruntime"

    def __init__(self, path, *, input_names, output_names, threads=None):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        if _flushing_denormals():  # e.g. inside android_bench.measurement.timing.denormals("flush")
            opts.add_session_config_entry("session.set_denormal_as_zero", "1")
        try:
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # a string-in model (--inputs text): onnxruntime-extensions' ops, registered lazily
            if "ai.onnx.contrib" not in str(exc):
                raise
            from onnxruntime_extensions import get_library_path

            opts.register_custom_ops_library(get_library_path())
            self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self._session.get_inputs()]
        self.output_names = [o.name for o in self._session.get_outputs()]
        self._dtypes = {i.name: _NP[i.type] for i in self._session.get_inputs()}
        self.text_inputs = [n for n, dtype in self._dtypes.items() if dtype is object]  # a string-in model's

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {n: np.asarray(inputs[n], dtype=self._dtypes[n]) for n in self.input_names}
        return dict(zip(self.output_names, self._session.run(self.output_names, feed)))


def _flushing_denormals() -> bool:
    """Whether this thread flushes denormals (FTZ/DAZ). Creating a session sets the flag from its options on the
    calling thread and ORT's own threads, so without this a session would silently turn flushing off."""
    return bool(np.float32(1e-39) * np.float32(0.5) == 0)


_NP = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32, "tensor(string)": object}
