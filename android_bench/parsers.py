"""Parsers for the text the upstream benchmark tools print. Each returns a `Timing` in milliseconds.

Real outputs, older and newer formats, are in tests/fixtures/tools/ with their sources. Lines may carry
logcat prefixes (`... tflite  : `), so every pattern is searched, never anchored at the line start;
numbers may be in scientific notation (`avg=2.95034e+06`).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from models.errors import UserError

NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"


class ParseError(UserError):
    """A tool's output holds no timing we can trust (truncated, crashed, or an unknown format)."""


@dataclass
class Timing:
    mean_ms: float
    count: int | None = None
    samples_ms: list[float] = field(default_factory=list)  # per-run latencies, when the tool prints them
    extra: dict = field(default_factory=dict)  # what else the tool reported: min, max, percentiles, init, memory

    def to_dict(self) -> dict:
        return {"mean_ms": self.mean_ms, "count": self.count, "samples_ms": self.samples_ms, "extra": self.extra}


def _last(pattern: str, text: str):
    found = re.findall(pattern, text)
    return found[-1] if found else None


def _fail(tool: str, text: str) -> ParseError:
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    tail = lines[-1][:160] if lines else "no output"
    return ParseError(f"no timing in the output of {tool} (truncated or failed run?); its last line: {tail!r}")


def parse_tflite_benchmark_model(text: str) -> Timing:
    """TFLite `benchmark_model` (desktop, adb shell, or the benchmark APK's logcat); microseconds."""
    extra = {}
    # The last `count=` line with an avg is the timed run (an earlier one is the warm-up).
    stats = _last(r"count=(\d+) first=" + NUMBER + r" curr=" + NUMBER + r" min=" + NUMBER + r" max=" + NUMBER
                  + r" avg=" + NUMBER + r" std=" + NUMBER, text)
    if stats:
        count, first, _, lo, hi, avg, std = stats
        extra.update(first_ms=float(first) / 1e3, min_ms=float(lo) / 1e3, max_ms=float(hi) / 1e3,
                     std_ms=float(std) / 1e3)
    summary = _last(r"Inference timings in us: Init: " + NUMBER + r", First inference: " + NUMBER
                    + r", Warmup \(avg\): " + NUMBER + r", Inference \(avg\): " + NUMBER, text)
    legacy = _last(r"Average inference timings in us: Warmup: " + NUMBER + r", Init: " + NUMBER
                   + r", Inference: " + NUMBER, text)
    if summary:
        init, first, _, mean = summary
        extra.update(init_ms=float(init) / 1e3, first_ms=float(first) / 1e3)
    elif legacy:
        _, init, mean = legacy
        extra.update(init_ms=float(init) / 1e3)
    elif stats:
        mean = stats[5]
    else:
        raise _fail("TFLite benchmark_model", text)
    memory = _last(r"[Mm]emory footprint.*?\(MB\): init=" + NUMBER + r" overall=" + NUMBER, text)
    if memory:
        extra.update(memory_init_mb=float(memory[0]), memory_overall_mb=float(memory[1]))
    return Timing(mean_ms=float(mean) / 1e3, count=int(stats[0]) if stats else None, extra=extra)


def parse_onnxruntime_perf_test(text: str) -> Timing:
    """`onnxruntime_perf_test`: current (`Average inference time cost: X ms`) and old (`Average time cost:X ms`)."""
    mean = _last(r"Average (?:inference )?time cost:\s*" + NUMBER + r"\s*ms", text)
    if mean is None:
        raise _fail("onnxruntime_perf_test", text)
    count = _last(r"(?:Total inference requests|Total iterations|Runs):\s*(\d+)", text)
    extra = {}
    for key, value in re.findall(r"(Min|Max|P\d+) Latency(?::| is)\s*" + NUMBER + r"\s*s", text):
        extra[f"{key.lower()}_ms"] = float(value) * 1e3
    peak = _last(r"Peak working set size:\s*(\d+)", text)
    if peak:
        extra["peak_working_set_mb"] = int(peak) / 2**20
    return Timing(mean_ms=float(mean), count=int(count) if count else None, extra=extra)


def parse_executor_runner(text: str) -> Timing:
    """ExecuTorch `executor_runner` (and android_bench/native/et_bench_runner.cpp, which prints the same)."""
    total = _last(r"Model executed successfully (\d+) time\(s\) in " + NUMBER + r" ms", text)
    if total is None:
        raise _fail("executor_runner", text)
    count, total_ms = int(total[0]), float(total[1])
    samples = [float(ms) for _, ms in re.findall(r"Iteration (\d+) of \d+: " + NUMBER + r" ms", text)]
    extra = {}
    loaded = _last(r"Model loaded in " + NUMBER + r" ms", text)
    if loaded:
        extra["load_ms"] = float(loaded)
    # Older runners print only the total: the mean over `count` runs is all there is.
    return Timing(mean_ms=total_ms / count, count=count, samples_ms=samples if len(samples) == count else [],
                  extra=extra)


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
    per_iter = _last(r"Microseconds per iter: " + NUMBER, text)
    if per_iter is None:
        raise _fail("speed_benchmark_torch", text)
    return Timing(mean_ms=float(per_iter) / 1e3, count=len(samples) or None, samples_ms=samples)
