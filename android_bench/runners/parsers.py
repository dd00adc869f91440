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


# One `Stat<>`/`StatWithPercentiles<>::OutputToStream` line (tsl/util/stats_calculator.h): all values in us.
#   "count=50 first=.. curr=.. min=.. max=.. avg=.. std=.. p5=.. median=.. p95=.."   (percentiles: newer releases)
#   "count=1 curr=3512391 [p5=.. median=.. p95=..]", "count=5 curr=100(all same) ..."   (every run took the same time)
# The profile summarizer prints its own `Stat` lines ("Timings (microseconds): ...", "Memory (bytes): count=0").
_TFLITE_STAT = re.compile(
    r"(Timings \(microseconds\): |Memory \(bytes\): )?count=(\d+)(?: first=" + NUMBER + r")? curr=" + NUMBER
    + r"(?:\(all same\))?(?: min=" + NUMBER + r" max=" + NUMBER + r" avg=" + NUMBER + r" std=" + NUMBER + r")?"
    + r"(?: p5=" + NUMBER + r" median=" + NUMBER + r" p95=" + NUMBER + r")?")
# BenchmarkModel::Run prints this before the warm-up and again before the timed runs.
_TFLITE_RUN_START = "Running benchmark for at least"
# tflite/core/subgraph.cc (ReplaceNodeSubsetsWithDelegateKernels), newest to oldest:
#   "Replacing N out of M node(s) with delegate (NAME) node, yielding K partitions for subgraph S (name)."
#   "... yielding K partitions for subgraph S." / "... for the whole graph."
#   "Replacing N node(s) with delegate (NAME) node, yielding K partitions."   (no total)
_TFLITE_DELEGATED = re.compile(
    r"Replacing (\d+)(?: out of (\d+))? node\(s\) with delegate \(([^)\n]*)\) node"
    r"(?:,\s*yielding (\d+) partitions?)?(?:\s*for (?:the whole graph|subgraph (\d+)))?")
# benchmark_tflite_model.cc, once per delegate the tool applied itself (--use_xnnpack, --use_gpu, ...).
_TFLITE_APPLIED = re.compile(
    r"Explicitly applied ([^,\n]+?) delegate, and the model graph will be (completely|partially) executed"
    r" by the delegate(?: w/ (\d+) delegate kernels)?|Though ([^,\n]+?) delegate is explicitly applied, the model"
    r" graph will not be executed by the delegate")


def _tflite_timed_stats(text: str):
    """The `Stat` line of the timed runs: the last one after the second "Running benchmark" (the first
    precedes the warm-up). Without those lines (a logcat excerpt) the last benchmark `Stat` line; with only
    one, the output stops after the warm-up and there is no timed run. The profiler's own lines are only a
    fallback (very old outputs printed nothing else)."""
    starts = [m.start() for m in re.finditer(re.escape(_TFLITE_RUN_START), text)]
    stats = [m for m in _TFLITE_STAT.finditer(text) if int(m.group(2)) > 0]
    own = [m for m in stats if m.group(1) is None]
    if len(starts) >= 2:
        own = [m for m in own if m.start() > starts[-1]]
        return own[-1] if own else None
    if len(starts) == 1:
        return None
    if own:
        return own[-1]
    timings = [m for m in stats if m.group(1) and m.group(1).startswith("Timings")]
    return timings[-1] if timings else None


def _tflite_delegation(text: str) -> tuple[dict | None, list[dict]]:
    """Delegate coverage from subgraph.cc's "Replacing N out of M node(s)" lines, summed per delegate over
    subgraphs (a repeated line for the same subgraph, e.g. after a resize, replaces the earlier one)."""
    per_subgraph: dict[tuple[str, str | None], tuple[int, int | None, int | None]] = {}
    for done, total, name, parts, subgraph in _TFLITE_DELEGATED.findall(text):
        per_subgraph[(name, subgraph or None)] = (int(done), int(total) if total else None,
                                                  int(parts) if parts else None)
    groups: dict[str, list] = {}
    for (name, _), value in per_subgraph.items():
        groups.setdefault(name, []).append(value)
    summaries = []
    for name, values in groups.items():
        done = sum(v[0] for v in values)
        total = None if any(v[1] is None for v in values) else sum(v[1] for v in values)
        parts = None if any(v[2] is None for v in values) else sum(v[2] for v in values)
        summaries.append({"delegate": name, "nodes_delegated": done, "nodes_total": total, "partitions": parts,
                          "coverage": done / total if total else None, "subgraphs": len(values)})
    return (summaries[0] if summaries else None), summaries


def parse_tflite_benchmark_model(text: str) -> Timing:
    """TFLite/LiteRT `benchmark_model` (desktop, adb shell, or the benchmark APK's logcat); microseconds.

    mean_ms is "Inference (avg)"; extra holds the timed runs' min/max/std and, in newer releases, p5/median/p95
    (median_ms: prefer it to the mean), init, memory (MB), and delegate coverage ("delegation")."""
    extra: dict = {}
    stats = _tflite_timed_stats(text)
    if stats:
        _, count, first, curr, lo, hi, avg, std, p5, median, p95 = stats.groups()
        if lo is None:  # all runs took the same time
            lo = hi = avg = curr
            std = "0"
        extra.update(min_ms=float(lo) / 1e3, max_ms=float(hi) / 1e3, std_ms=float(std) / 1e3)
        if first is not None:
            extra["first_ms"] = float(first) / 1e3
        if median is not None:
            extra.update(p5_ms=float(p5) / 1e3, median_ms=float(median) / 1e3, p95_ms=float(p95) / 1e3)
    summary = _last(r"Inference timings in us: Init: " + NUMBER + r", First inference: " + NUMBER
                    + r", Warmup \(avg\): " + NUMBER + r", Inference \(avg\): " + NUMBER, text)
    legacy = _last(r"Average inference timings in us: Warmup: " + NUMBER + r", Init: " + NUMBER
                   + r", (?:Inference|no stats): " + NUMBER, text)
    if summary:
        init, first, warmup, mean = summary
        extra.update(init_ms=float(init) / 1e3, first_ms=float(first) / 1e3, warmup_mean_ms=float(warmup) / 1e3)
    elif legacy:
        warmup, init, mean = legacy
        extra.update(init_ms=float(init) / 1e3, warmup_mean_ms=float(warmup) / 1e3)
    elif stats:
        mean = stats.group(7) if stats.group(7) is not None else stats.group(4)
    else:
        raise _fail("TFLite benchmark_model", text)
    # "Memory footprint delta from the start of the tool (MB): init=.. overall=.." (older: "Peak memory footprint")
    memory = _last(r"[Mm]emory footprint[^\n]*?\(MB\): init=" + NUMBER + r" overall=" + NUMBER, text)
    if memory:
        extra.update(memory_init_mb=float(memory[0]), memory_overall_mb=float(memory[1]))
    peak = _last(r"Overall peak memory footprint \(MB\) via periodic monitoring: " + NUMBER, text)
    if peak:  # the highest ru_maxrss the monitor saw (--report_peak_memory_footprint): absolute, not a delta
        extra["memory_peak_mb"] = float(peak)
    # The cold-start keys every runner reports (android_bench.measurement.results.COLD_START): Init covers loading the model,
    # building the interpreter and applying the delegates.
    if "init_ms" in extra:
        extra["load_ms"] = extra["init_ms"]
    if summary:  # without it, first_ms is only the first of the timed runs
        extra["first_inference_ms"] = extra["first_ms"]
    if "memory_peak_mb" in extra:
        extra["peak_rss_mb"] = extra["memory_peak_mb"]
    delegation, delegations = _tflite_delegation(text)
    if delegation:
        extra["delegation"] = delegation
    if len(delegations) > 1:
        extra["delegations"] = delegations
    applied = []
    for name, how, kernels, not_name in _TFLITE_APPLIED.findall(text):
        applied.append({"delegate": name or not_name, "executed": how or "not",
                        "delegate_kernels": int(kernels) if kernels else None})
    if applied:
        extra["delegates_applied"] = applied
    return Timing(mean_ms=float(mean) / 1e3, count=int(stats.group(2)) if stats else None, extra=extra)


def parse_onnxruntime_perf_test(text: str) -> Timing:
    """`onnxruntime_perf_test` (onnxruntime/test/perftest/performance_runner.cc), every format:
    current "Average inference time cost total: X ms" (+ "... submission: X ms" with CUDA IO binding),
    2020-2025 "Average inference time cost: X ms", 2020 "Average inference time cost:X ms",
    oldest "Average time cost:X ms".

    The latency statistics ("Min/Max/P50/P90/P95/P99/P999 Latency: X s"; oldest "P50 Latency is Xsec") are
    printed only with `-s`; P50 goes to extra["median_ms"] (prefer it to the mean). With --data_shape the
    per-shape-group statistics follow the overall ones and are ignored here."""
    mean = _last(r"Average (?:inference )?time cost(?: total)?:\s*" + NUMBER + r"\s*ms", text)
    if mean is None:
        raise _fail("onnxruntime_perf_test", text)
    count = (_last(r"Total inference requests:\s*(\d+)", text) or _last(r"Total iterations:\s*(\d+)", text)
             or _last(r"Runs:\s*(\d+)", text))
    extra: dict = {}
    for key, value in re.findall(r"\b(Min|Max|P\d+) Latency(?::| is)\s*" + NUMBER + r"\s*s(?:ec?)?\b", text):
        extra.setdefault(f"{key.lower()}_ms", float(value) * 1e3)  # the first block is the overall one
    if "p50_ms" in extra:
        extra["median_ms"] = extra["p50_ms"]
    submission = _last(r"Average inference time cost submission:\s*" + NUMBER + r"\s*ms", text)
    if submission:
        extra["submission_mean_ms"] = float(submission)
    for key, pattern, scale in (
            ("session_creation_ms", r"Session creation time cost:\s*" + NUMBER + r"\s*s\b", 1e3),
            ("first_inference_ms", r"First inference time cost:\s*" + NUMBER + r"\s*ms", 1.0),
            ("total_run_time_s", r"Total (?:inference )?run time:\s*" + NUMBER + r"\s*s\b", 1.0),
            ("inferences_per_second", r"Number of inferences per second:\s*" + NUMBER, 1.0),
            ("cpu_usage_percent", r"(?:Avg|Total) CPU usage:\s*" + NUMBER, 1.0)):
        value = _last(pattern, text)
        if value is not None:
            extra[key] = float(value) * scale
    peak = _last(r"Peak working set size:\s*(\d+)", text)
    if peak:  # POSIX: ru_maxrss * 1024 (perftest/posix/utils.cc), i.e. the peak resident set
        extra.update(peak_memory_bytes=int(peak), peak_working_set_mb=int(peak) / 2**20, peak_rss_mb=int(peak) / 2**20)
    if "session_creation_ms" in extra:  # the cold-start key every runner reports (android_bench.measurement.results.COLD_START)
        extra["load_ms"] = extra["session_creation_ms"]
    return Timing(mean_ms=float(mean), count=int(count) if count else None, extra=extra)


def parse_executor_runner(text: str) -> Timing:
    """ExecuTorch `executor_runner` (and android_bench/runners/native/et_bench_runner.cpp, which prints the same)."""
    total = _last(r"Model executed successfully (\d+) time\(s\) in " + NUMBER + r" ms", text)
    if total is None:
        raise _fail("executor_runner", text)
    count, total_ms = int(total[0]), float(total[1])
    if count == 0:  # --num_executions=0: nothing was timed
        raise _fail("executor_runner", text)
    samples = [float(ms) for _, ms in re.findall(r"Iteration (\d+) of \d+: " + NUMBER + r" ms", text)]
    extra = {}
    loaded = _last(r"Model loaded in " + NUMBER + r" ms", text)
    if loaded:
        extra["load_ms"] = float(loaded)
    first = re.search(r"Warm-up 1 of \d+: " + NUMBER + r" ms", text)  # et_bench_runner: the first run after load
    if first:
        extra["first_inference_ms"] = float(first.group(1))
    peak = _last(r"Peak resident set size: (\d+) kB", text)  # et_bench_runner's getrusage high-water mark
    if peak:
        extra["peak_rss_mb"] = int(peak) / 1024
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
