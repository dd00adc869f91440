"""The Python runner, for devices with Python (this machine, Linux boards): android_bench/runners/pyrunner.py there."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from models.errors import UserError

from android_bench.runners.timing_result import ParseError, Timing
from android_bench.runners.pyrunner import DONE_MARKER
from android_bench.runners import Pushed, Runner, Settings

ROOT = Path(__file__).resolve().parents[2]
# What pyrunner.py imports, pushed beside it: importing models/ and export/ loads neither torch nor TensorFlow,
# so the device needs only Python, numpy and the runtime libraries.
SOURCES = ["android_bench/__init__.py", "android_bench/measurement/__init__.py", "android_bench/measurement/timing.py",
           *sorted(str(p.relative_to(ROOT)) for pkg in ("models", "export") for p in (ROOT / pkg).rglob("*.py"))]


class PythonRunner(Runner):
    name = "python"
    tool = None
    formats = ("torchscript", "onnx", "tflite", "executorch")

    def prepare(self, device, remote_dir: str, abi: str) -> None:
        device.push(ROOT / "android_bench" / "runners" / "pyrunner.py", f"{remote_dir}/py/pyrunner.py")
        for rel in SOURCES:
            device.push(ROOT / rel, f"{remote_dir}/py/{rel}")

    def command(self, remote_dir: str, pushed: Pushed, settings: Settings) -> list[str]:
        length = settings.length(pushed.manifest)
        if not pushed.inputs or length not in pushed.inputs:
            raise UserError(f"the Python runner feeds the benchmark inputs file; none at {length} tokens was pushed "
                            "with the artifact")
        return [self.python, "py/pyrunner.py", "--artifact", pushed.folder, "--inputs", pushed.inputs[length],
                "--threads", str(settings.threads), "--warmup", str(settings.warmup), "--runs", str(settings.runs),
                "--denormals", settings.denormals, *(["--profile"] if settings.profile else []), "--out", "result.json"]

    def parse(self, output: str, device, remote_dir: str) -> Timing:
        if DONE_MARKER not in output:
            raise ParseError(f"the Python runner did not finish; its output: {output.strip()[-200:]!r}")
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "result.json"
            device.pull(f"{remote_dir}/result.json", local)
            result = json.loads(local.read_text())
        samples = result["samples_ms"]
        return Timing(mean_ms=sum(samples) / len(samples), count=len(samples), samples_ms=samples,
                      extra={key: result[key] for key in ("load_ms", "first_inference_ms", "peak_rss_mb", "runtime",
                                                          "protocol", "inputs", "python", "op_profile")
                             if key in result})
