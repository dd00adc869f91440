"""PyTorch `speed_benchmark_torch` on the lite-interpreter `.ptl` (what the SqueezeBERT paper's PyTorch Mobile ran):
its command line and the parser of its output."""
from __future__ import annotations

import json
import re

from models.errors import UserError

from android_bench.runners import Pushed, Runner, Settings
from android_bench.runners.timing_result import NUMBER, ParseError, Timing, last_match, no_timing


class SpeedBenchmarkTorchRunner(Runner):
    name = "speed_benchmark_torch"
    tool = "speed_benchmark_torch"
    formats = ("torchscript",)
    where_to_get = ("pytorch binaries/speed_benchmark_torch.cc, built with scripts/build_android.sh "
                    "-DBUILD_BINARY=ON; https://pytorch.org/tutorials/recipes/mobile_perf.html")

    def command(self, remote_dir: str, pushed: Pushed, settings: Settings) -> list[str]:
        seq = settings.length(pushed.manifest)  # the job's length (the .ptl is traced with a dynamic sequence)
        n = len(pushed.manifest["inputs"])
        # The tool feeds ones: valid ids, a full mask, and token type 1 (bert's vocabulary of 2 types).
        lite = next((f for f in pushed.files if f.endswith(".ptl")), None)
        if lite is None:
            raise UserError(f"{pushed.folder} has no lite-interpreter .ptl; export it with python -m export.torchscript")
        return [f"./tools/{self.tool}", f"--model={lite}", f"--input_dims={';'.join(['1,%d' % seq] * n)}",
                f"--input_type={';'.join(['int64'] * n)}",
                f"--input_memory_format={';'.join(['contiguous_format'] * n)}",
                f"--warmup={settings.warmup}", f"--iter={settings.runs}", "--report_pep=true",
                "--use_bundled_input=-1"]

    def parse(self, output: str, device, remote_dir: str) -> Timing:
        return parse_speed_benchmark_torch(output)


def parse_speed_benchmark_torch(text: str) -> Timing:
    """PyTorch `speed_benchmark_torch` (lite interpreter): PyTorchObserver JSON lines per run, then a summary."""
    samples = []
    for blob in re.findall(r"PyTorchObserver (\{.*?\})", text):
        record = json.loads(blob)
        if record.get("metric") == "latency":
            scale = {"us": 1e-3, "ms": 1.0}.get(record.get("unit"), None)
            if scale is None:
                raise ParseError(f"speed_benchmark_torch reported latency in unknown unit {record.get('unit')!r}")
            samples.append(float(record["value"]) * scale)
    per_iter = last_match(r"Microseconds per iter: " + NUMBER, text)
    if per_iter is None:
        raise no_timing("speed_benchmark_torch", text)
    return Timing(mean_ms=float(per_iter) / 1e3, count=len(samples) or None, samples_ms=samples)
