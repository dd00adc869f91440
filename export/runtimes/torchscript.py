"""TorchScript: `.pt` through torch.jit, `.ptl` through the lite interpreter (what PyTorch Mobile runs)."""
from __future__ import annotations

import numpy as np
import torch

from . import register_runtime


@register_runtime(".pt", ".ptl")
class TorchScriptRuntime:
    name = "torch.jit"

    def __init__(self, path, *, input_names, output_names, threads=None):
        if threads:
            torch.set_num_threads(threads)
        if path.suffix == ".ptl":
            from torch.jit.mobile import _load_for_lite_interpreter

            self.name = "torch lite interpreter"
            self._module = _load_for_lite_interpreter(str(path))
        else:
            self._module = torch.jit.load(str(path), map_location="cpu")
        self.input_names, self.output_names = input_names, output_names

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = [torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in self.input_names]
        with torch.inference_mode():
            out = self._module(*args)
        out = out if isinstance(out, (tuple, list)) else (out,)
        return {n: t.detach().numpy() for n, t in zip(self.output_names, out)}
