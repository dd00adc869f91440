"""ExecuTorch: our et_bench_runner (android_bench/native, executor_runner's output format) or upstream executor_runner."""
from __future__ import annotations

from ..parsers import Timing, parse_executor_runner
from . import Pushed, Runner, Settings


class ExecutorchRunner(Runner):
    name = "executorch-runner"
    tool = "et_bench_runner"
    formats = ("executorch",)
    where_to_get = ("python -m android_bench.native.build --out DIR builds it for this machine's ABI; for a phone, "
                    "build android_bench/native/et_bench_runner.cpp with the Android NDK against ExecuTorch")

    def command(self, remote_dir: str, pushed: Pushed, settings: Settings) -> str:
        low, high = settings.id_range
        return (f"./tools/{self.tool} --model {pushed.model} --warmup {settings.warmup} --num-runs {settings.runs} "
                f"--threads {settings.threads} --input-value-range {low},{high - 1}")

    def prepare(self, device, remote_dir: str, abi: str) -> None:
        # The runner ships with the shared libraries it links ($ORIGIN rpath): push the whole folder.
        binary = self.tool_path(abi)
        for path in sorted(binary.parent.iterdir()):
            if path.is_file():
                device.push(path, f"{remote_dir}/tools/{path.name}")

    def parse(self, output: str, device, remote_dir: str) -> Timing:
        return parse_executor_runner(output)
