"""TFLite `benchmark_model` (LiteRT's native benchmark binary): its command line and the parser of its output."""
from __future__ import annotations

import re

from android_bench.runners import Pushed, Runner, Settings, input_value_ranges
from android_bench.runners.timing_result import NUMBER, Timing, last_match, no_timing


class TfliteBenchmarkModelRunner(Runner):
    name = "tflite-benchmark_model"
    tool = "benchmark_model"
    formats = ("tflite",)
    where_to_get = ("prebuilt nightly android_aarch64_benchmark_model, or bazel build "
                    "//tensorflow/lite/tools/benchmark:benchmark_model; https://ai.google.dev/edge/litert/models/measurement")

    def command(self, remote_dir: str, pushed: Pushed, settings: Settings) -> list[str]:
        # A resizable file ([1, -1]) stores the shape [1, 1]: without --input_layer_shape benchmark_model runs it at
        # one token. --input_layer and --input_layer_shape name every input in the interpreter's order (the README
        # of tensorflow/lite/tools/benchmark: names are matched by position, shapes colon-separated); our converter
        # sorts the inputs by name, as the manifest's tflite.signature.inputs lists them.
        ranges = input_value_ranges(pushed.manifest, settings)
        order = pushed.manifest.get("tflite", {}).get("signature", {}).get("inputs") or list(ranges)
        value_range = ":".join(f"{name},{lo},{hi}" for name, (lo, hi) in ranges.items())
        length = settings.length(pushed.manifest)
        return [f"./tools/{self.tool}", f"--graph={pushed.model}", f"--num_threads={settings.threads}",
                f"--warmup_runs={settings.warmup}", f"--num_runs={settings.runs}", "--min_secs=0",
                "--use_xnnpack=true", f"--input_layer={','.join(order)}",
                f"--input_layer_shape={':'.join(f'1,{length}' for _ in order)}",
                f"--input_layer_value_range={value_range}"]

    def parse(self, output: str, device, remote_dir: str) -> Timing:
        return parse_tflite_benchmark_model(output)


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
        _, count, first, curr, lo, hi, _avg, std, p5, median, p95 = stats.groups()
        if lo is None:  # all runs took the same time
            lo = hi = curr
            std = "0"
        extra.update(min_ms=float(lo) / 1e3, max_ms=float(hi) / 1e3, std_ms=float(std) / 1e3)
        if first is not None:
            extra["first_ms"] = float(first) / 1e3
        if median is not None:
            extra.update(p5_ms=float(p5) / 1e3, median_ms=float(median) / 1e3, p95_ms=float(p95) / 1e3)
    summary = last_match(r"Inference timings in us: Init: " + NUMBER + r", First inference: " + NUMBER
                    + r", Warmup \(avg\): " + NUMBER + r", Inference \(avg\): " + NUMBER, text)
    legacy = last_match(r"Average inference timings in us: Warmup: " + NUMBER + r", Init: " + NUMBER
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
        raise no_timing("TFLite benchmark_model", text)
    # "Memory footprint delta from the start of the tool (MB): init=.. overall=.." (older: "Peak memory footprint")
    memory = last_match(r"[Mm]emory footprint[^\n]*?\(MB\): init=" + NUMBER + r" overall=" + NUMBER, text)
    if memory:
        extra.update(memory_init_mb=float(memory[0]), memory_overall_mb=float(memory[1]))
    peak = last_match(r"Overall peak memory footprint \(MB\) via periodic monitoring: " + NUMBER, text)
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
