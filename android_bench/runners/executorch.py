"""ExecuTorch: our et_bench_runner (android_bench/runners/native, executor_runner's output format) or upstream
executor_runner: the command line and the parser of their output."""
from __future__ import annotations

import re

from android_bench.runners import Pushed, Runner, Settings, input_value_ranges
from android_bench.runners.timing_result import NUMBER, Timing, last_match, no_timing


class ExecutorchRunner(Runner):
    name = "executorch-runner"
    tool = "et_bench_runner"
    formats = ("executorch",)
    in_bundle = True
    where_to_get = ("python -m android_bench.runners.native.build --out DIR builds it for this machine's ABI, and with "
                    "--abi arm64-v8a a self-contained folder for an arm64 phone")

    def command(self, remote_dir: str, pushed: Pushed, settings: Settings) -> list[str]:
        # A .pte carries no input names: one range per input, in input order; and the job's sequence length
        # (the declared shape is the dynamic axis's upper bound, so without it the runner feeds that bound).
        ranges = input_value_ranges(pushed.manifest, settings)
        value_range = ":".join(f"{lo},{hi}" for lo, hi in ranges.values())
        shapes = ",".join(f"1x{settings.length(pushed.manifest)}" for _ in ranges)
        return [f"{self.device_tools or './tools'}/{self.tool}", "--model", pushed.model, "--warmup", str(settings.warmup),
                "--num-runs", str(settings.runs), "--threads", str(settings.threads),
                "--input-value-range", value_range, "--input-shapes", shapes]

    def prepare(self, device, remote_dir: str, abi: str) -> None:
        # The runner ships with the shared libraries it links ($ORIGIN rpath): push the whole folder, unless the
        # device has it already (the runtime bundle's tools/).
        if self.device_tools:
            return
        binary = self.tool_path(abi)
        for path in sorted(binary.parent.iterdir()):
            if path.is_file():
                device.push(path, f"{remote_dir}/tools/{path.name}")

    def parse(self, output: str, device, remote_dir: str) -> Timing:
        return parse_executor_runner(output)


def parse_executor_runner(text: str) -> Timing:
    """ExecuTorch `executor_runner` (and android_bench/runners/native/et_bench_runner.cpp, which prints the same)."""
    total = last_match(r"Model executed successfully (\d+) time\(s\) in " + NUMBER + r" ms", text)
    if total is None:
        raise no_timing("executor_runner", text)
    count, total_ms = int(total[0]), float(total[1])
    if count == 0:  # --num_executions=0: nothing was timed
        raise no_timing("executor_runner", text)
    samples = [float(ms) for _, ms in re.findall(r"Iteration (\d+) of \d+: " + NUMBER + r" ms", text)]
    extra = {}
    loaded = last_match(r"Model loaded in " + NUMBER + r" ms", text)
    if loaded:
        extra["load_ms"] = float(loaded)
    first = re.search(r"Warm-up 1 of \d+: " + NUMBER + r" ms", text)  # et_bench_runner: the first run after load
    if first:
        extra["first_inference_ms"] = float(first.group(1))
    peak = last_match(r"Peak resident set size: (\d+) kB", text)  # et_bench_runner's getrusage high-water mark
    if peak:
        extra["peak_rss_mb"] = int(peak) / 1024
    # Older runners print only the total: the mean over `count` runs is all there is.
    return Timing(mean_ms=total_ms / count, count=count, samples_ms=samples if len(samples) == count else [],
                  extra=extra)
