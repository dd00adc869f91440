"""`onnxruntime_perf_test`, ONNX Runtime's native benchmark binary."""
from __future__ import annotations

from android_bench.runners.parsers import Timing, parse_onnxruntime_perf_test
from android_bench.runners import Pushed, Runner, Settings


class OrtPerfTestRunner(Runner):
    name = "onnxruntime_perf_test"
    tool = "onnxruntime_perf_test"
    formats = ("onnx",)
    where_to_get = ("built with onnxruntime's build.sh --android --build_shared_lib; source in "
                    "onnxruntime/test/perftest, https://onnxruntime.ai/docs/build/android.html")

    def command(self, remote_dir: str, pushed: Pushed, settings: Settings) -> list[str]:
        # -I: generated inputs (zeros, valid ids); -f pins the dynamic axes to the job's shape.
        seq = settings.length(pushed.manifest)
        # perf_test has no warm-up count; its first run is reported separately and excluded from the average.
        # -s: the percentile summary (P50 is the median the summary prefers).
        return [f"./tools/{self.tool}", "-e", "cpu", "-m", "times", "-r", str(settings.runs), "-x",
                str(settings.threads), "-I", "-s", "-f", "batch:1", "-f", f"sequence:{seq}", pushed.model]

    def parse(self, output: str, device, remote_dir: str) -> Timing:
        return parse_onnxruntime_perf_test(output)
