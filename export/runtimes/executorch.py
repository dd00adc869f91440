"""ExecuTorch's Python runtime (executorch.runtime), running the .pte's `forward` method; with `profile=True` an
ETDump read by the devtools Inspector (per op, inside the XNNPACK delegate too)."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import torch

from . import register_runtime


@register_runtime(".pte")
class ExecuTorchRuntime:
    name = "executorch"

    def __init__(self, path, *, input_names, output_names, threads=None, profile=False):
        from executorch.runtime import Runtime, Verification

        # XNNPACK and the optimized kernels share one process-wide pthreadpool, sized from the cores it sees;
        # the pybindings' only handle on it is a reset (safe here: nothing is executing while a program loads).
        if threads:
            from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool

            _unsafe_reset_threadpool(threads)
            torch.set_num_threads(threads)
        self._program = Runtime.get().load_program(path, verification=Verification.Minimal,
                                                   enable_etdump=bool(profile))
        self._method = self._program.load_method("forward")
        self.input_names, self.output_names = input_names, output_names
        self._profile, self._runs = bool(profile), 0

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        args = [torch.from_numpy(np.ascontiguousarray(inputs[n], dtype=np.int64)) for n in self.input_names]
        out = self._method.execute(args)
        self._runs += 1
        return {n: t.numpy() for n, t in zip(self.output_names, out)}

    def op_profile(self, skip: int = 0) -> list[dict]:
        """Per run since the program loaded, after the first `skip`: {op type: ms, "<op>#count": n}, from the
        ETDump's Execute events (XNNPACK ops by name, portable kernels as "portable <op>"; the OPERATOR_CALL,
        DELEGATE_CALL and Method:: wrappers are not counted again)."""
        if not self._profile:
            raise RuntimeError("op_profile needs the runtime opened with profile=True")
        from executorch.devtools import Inspector

        with tempfile.TemporaryDirectory() as tmp:
            etdump = Path(tmp) / "run.etdp"
            self._program.write_etdump_result_to_file(str(etdump), str(Path(tmp) / "debug.bin"))  # no debug buffer
            frame = Inspector(etdump_path=str(etdump)).to_dataframe()
        per_run = [{} for _ in range(max(self._runs - skip, 0))]
        for name, block, raw in zip(frame["event_name"], frame["event_block_name"], frame["raw"]):
            op = op_type(name)
            if op is None or block != "Execute" or len(raw) != self._runs:
                continue
            for run, ms in zip(per_run, raw[skip:]):
                run[op] = run.get(op, 0.0) + float(ms)
                run[f"{op}#count"] = run.get(f"{op}#count", 0) + 1
        return per_run


def op_type(name: str) -> str | None:
    """ETDump event -> op type: XNNPACK ops without their '#k', portable kernels as 'portable <op>'; wrappers None."""
    if name in ("OPERATOR_CALL", "DELEGATE_CALL") or name.startswith("Method::"):
        return None
    if name.startswith("native_call_"):
        return "portable " + re.sub(r"\.(out|Tensor_out|\w+_out)$", "", name[len("native_call_"):])
    return re.sub(r"\s*#\d+$", "", name)
