"""`onnxruntime_perf_test`, ONNX Runtime's native benchmark binary: its command line and the parser of its output."""
from __future__ import annotations

import re

from android_bench.runners import Pushed, Runner, Settings
from android_bench.runners.timing_result import NUMBER, Timing, last_match, no_timing


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


def parse_onnxruntime_perf_test(text: str) -> Timing:
    """`onnxruntime_perf_test` (onnxruntime/test/perftest/performance_runner.cc), every format:
    current "Average inference time cost total: X ms" (+ "... submission: X ms" with CUDA IO binding),
    2020-2025 "Average inference time cost: X ms", 2020 "Average inference time cost:X ms",
    oldest "Average time cost:X ms".

    The latency statistics ("Min/Max/P50/P90/P95/P99/P999 Latency: X s"; oldest "P50 Latency is Xsec") are
    printed only with `-s`; P50 goes to extra["median_ms"] (prefer it to the mean). With --data_shape the
    per-shape-group statistics follow the overall ones and are ignored here."""
    mean = last_match(r"Average (?:inference )?time cost(?: total)?:\s*" + NUMBER + r"\s*ms", text)
    if mean is None:
        raise no_timing("onnxruntime_perf_test", text)
    count = (last_match(r"Total inference requests:\s*(\d+)", text) or last_match(r"Total iterations:\s*(\d+)", text)
             or last_match(r"Runs:\s*(\d+)", text))
    extra: dict = {}
    for key, value in re.findall(r"\b(Min|Max|P\d+) Latency(?::| is)\s*" + NUMBER + r"\s*s(?:ec?)?\b", text):
        extra.setdefault(f"{key.lower()}_ms", float(value) * 1e3)  # the first block is the overall one
    if "p50_ms" in extra:
        extra["median_ms"] = extra["p50_ms"]
    submission = last_match(r"Average inference time cost submission:\s*" + NUMBER + r"\s*ms", text)
    if submission:
        extra["submission_mean_ms"] = float(submission)
    for key, pattern, scale in (
            ("session_creation_ms", r"Session creation time cost:\s*" + NUMBER + r"\s*s\b", 1e3),
            ("first_inference_ms", r"First inference time cost:\s*" + NUMBER + r"\s*ms", 1.0),
            ("total_run_time_s", r"Total (?:inference )?run time:\s*" + NUMBER + r"\s*s\b", 1.0),
            ("inferences_per_second", r"Number of inferences per second:\s*" + NUMBER, 1.0),
            ("cpu_usage_percent", r"(?:Avg|Total) CPU usage:\s*" + NUMBER, 1.0)):
        value = last_match(pattern, text)
        if value is not None:
            extra[key] = float(value) * scale
    peak = last_match(r"Peak working set size:\s*(\d+)", text)
    if peak:  # POSIX: ru_maxrss * 1024 (perftest/posix/utils.cc), i.e. the peak resident set
        extra.update(peak_memory_bytes=int(peak), peak_working_set_mb=int(peak) / 2**20, peak_rss_mb=int(peak) / 2**20)
    if "session_creation_ms" in extra:  # the cold-start key every runner reports (android_bench.measurement.results.COLD_START)
        extra["load_ms"] = extra["session_creation_ms"]
    return Timing(mean_ms=float(mean), count=int(count) if count else None, extra=extra)
