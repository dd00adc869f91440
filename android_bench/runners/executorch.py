"""ExecuTorch: our et_bench_runner (android_bench/runners/native, executor_runner's output format) or upstream executor_runner."""
from __future__ import annotations

from android_bench.runners.parsers import Timing, parse_executor_runner
from android_bench.runners import Pushed, Runner, Settings, input_value_ranges


class ExecutorchRunner(Runner):
    name = "executorch-runner"
    tool = "et_bench_runner"
    formats = ("executorch",)
    where_to_get = ("python -m android_bench.runners.native.build --out DIR builds it for this machine's ABI, and with "
                    "--abi arm64-v8a a self-contained folder for an arm64 phone")

    def command(self, remote_dir: str, pushed: Pushed, settings: Settings) -> list[str]:
        # A .pte carries no input names: one range per input, in input order; and the job's sequence length
        # (the declared shape is the dynamic axis's upper bound, so without it the runner feeds that bound).
        ranges = input_value_ranges(pushed.manifest, settings)
        value_range = ":".join(f"{lo},{hi}" for lo, hi in ranges.values())
        shapes = ",".join(f"1x{settings.length(pushed.manifest)}" for _ in ranges)
        return [f"./tools/{self.tool}", "--model", pushed.model, "--warmup", str(settings.warmup),
                "--num-runs", str(settings.runs), "--threads", str(settings.threads),
                "--input-value-range", value_range, "--input-shapes", shapes]

    def prepare(self, device, remote_dir: str, abi: str) -> None:
        # The runner ships with the shared libraries it links ($ORIGIN rpath): push the whole folder.
        binary = self.tool_path(abi)
        for path in sorted(binary.parent.iterdir()):
            if path.is_file():
                device.push(path, f"{remote_dir}/tools/{path.name}")

    def parse(self, output: str, device, remote_dir: str) -> Timing:
        return parse_executor_runner(output)
