"""ExecuTorch's Python runtime (executorch.runtime), running the .pte's `forward` method."""
from __future__ import annotations

import numpy as np
import torch

from . import register_runtime


@register_runtime(".pte")
class ExecuTorchRuntime:
    name = "executorch"

    def __init__(self, path, *, input_names, output_names, threads=None):
        from executorch.runtime import Runtime, Verification

        # XNNPACK and the optimized kernels share one process-wide pthreadpool, sized from the cores it sees;
        # the pybindings' only handle on it is a reset (safe here: nothing is executing while a program loads).
        if threads:
            from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

            _unsafe_reset_threadpool(threads)
            torch.set_num_threads(threads)
        program = Runtime.get().load_program(path, verification=Verification.Minimal)
        self._method = program.load_method("forward")
        self.input_names, self.output_names = input_names, output_names

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = [torch.from_numpy(np.ascontiguousarray(inputs[n], dtype=np.int64)) for n in self.input_names]
        out = self._method.execute(args)
        return {n: t.numpy() for n, t in zip(self.output_names, out)}
