"""ONNX Runtime on the CPU execution provider; with `profile=True` its own profiler (one event per node)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

from . import register_runtime


@register_runtime(".onnx")
class OnnxRuntime:
    name = "onnxruntime"

    def __init__(self, path, *, input_names, output_names, threads=None, profile=False):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        if _flushing_denormals():  # e.g. inside android_bench.measurement.timing.denormals("flush")
            opts.add_session_config_entry("session.set_denormal_as_zero", "1")
        self._profile_dir = None
        if profile:  # SessionOptions.enable_profiling: a JSON trace written by end_profiling (op_profile)
            self._profile_dir = tempfile.TemporaryDirectory(prefix="ort-profile-")
            opts.enable_profiling, opts.profile_file_prefix = True, str(Path(self._profile_dir.name) / "ort")
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

    def op_profile(self, skip: int = 0) -> list[dict]:
        """Per run since the session opened, after the first `skip`: {op type: ms, "<op>#count": nodes run}, from
        the kernel-time events of ORT's profiler (cat "Node", "*_kernel_time", args.op_name) inside each "model_run"
        span. Ends the profiling: call once, after the runs."""
        if self._profile_dir is None:
            raise RuntimeError("op_profile needs the runtime opened with profile=True")
        events = json.loads(Path(self._session.end_profiling()).read_text())
        self._profile_dir.cleanup()
        return _per_run(events, skip)


def _per_run(events: list[dict], skip: int) -> list[dict]:
    spans = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])[skip:]
    per_run = [{} for _ in spans]
    starts = np.array([s["ts"] for s in spans])
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time") or not len(spans):
            continue
        i = int(np.searchsorted(starts, e["ts"], side="right")) - 1  # the last run that started before it
        if i < 0 or e["ts"] > spans[i]["ts"] + spans[i]["dur"]:
            continue  # a skipped run's
        op, run = e["args"]["op_name"], per_run[i]
        run[op] = run.get(op, 0.0) + e["dur"] / 1e3  # µs -> ms
        run[f"{op}#count"] = run.get(f"{op}#count", 0) + 1
    return per_run


def _flushing_denormals() -> bool:
    """Whether this thread flushes denormals (FTZ/DAZ). Creating a session sets the flag from its options on the
    calling thread and ORT's own threads, so without this a session would silently turn flushing off."""
    return bool(np.float32(1e-39) * np.float32(0.5) == 0)


_NP = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32, "tensor(string)": object}
