"""Runners: one module per benchmark tool. Each pushes what it needs, builds the command line, parses the output.

A runner's `run` executes one invocation (warm-up + timed runs) on a device and returns a `Timing`. The shell
command ends with an exit marker: an interrupted `adb shell` can exit 0 (adb 29) or 255 (adb 36), so the
marker, not adb's exit code, says whether the tool finished.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import UserError

from android_bench.devices import DeviceError
from android_bench.runners.parsers import Timing

EXIT_MARKER = "BENCH-EXIT="
HWM_MARKER = "BENCH-VMHWM="


class RunnerError(UserError):
    """The benchmark tool ran and failed (non-zero exit, or output without a timing)."""


@dataclass
class Settings:
    threads: int
    warmup: int = 5
    runs: int = 30
    denormals: str = "flush"  # the Python runner's denormal policy (android_bench.measurement.timing.denormals)
    id_range: tuple[int, int] = (1000, 2000)  # native tools: generated token ids inside every uncased vocabulary
    taskset: str | None = None  # hex CPU mask for big-core pinning
    timeout: float = 1800
    seq_len: int | None = None  # the length fed; None: the artifact's (its manifest's seq_len)

    def length(self, manifest: dict) -> int:
        """The sequence length to feed: the job's, else the artifact's."""
        return self.seq_len or int(manifest["seq_len"])


@dataclass
class Pushed:
    """Where an artifact's files live on the device."""
    model: str  # the model file's device path
    folder: str
    manifest: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # every model file, e.g. the .pt and its lite .ptl
    inputs: dict[int, str] | None = None  # length -> the .npz of timing.benchmark_inputs (the Python runner feeds it)


class Runner:
    name: str = ""
    tool: str | None = None  # binary name in --tools DIR/<abi>/, None for the Python runner
    formats: tuple[str, ...] = ()
    where_to_get: str = ""

    def __init__(self, tools: Path | None = None, python: str = "python3"):
        self.tools = Path(tools) if tools else None
        self.python = python

    def tool_path(self, abi: str) -> Path:
        if self.tools is None:
            raise UserError(f"{self.name} needs the {self.tool} binary: pass --tools DIR with DIR/{abi}/{self.tool} "
                            f"({self.where_to_get}), or --runner python on devices with Python")
        path = self.tools / abi / self.tool
        if not path.is_file():
            raise UserError(f"missing {path}: {self.name} needs {self.tool} built for {abi} ({self.where_to_get})")
        return path

    def preflight(self, abi: str) -> None:
        """Fail now, naming the file and where to get it, when the tool for `abi` is missing."""
        if self.tool:
            self.tool_path(abi)

    def prepare(self, device, remote_dir: str, abi: str) -> None:
        """Push the tool (once per run directory)."""
        if self.tool:
            device.push(self.tool_path(abi), f"{remote_dir}/tools/{self.tool}")

    def command(self, remote_dir: str, pushed: Pushed, settings: Settings) -> list[str]:
        """The tool's argv, run from `remote_dir`; quoted once, by `run` (paths and names never reach the shell raw)."""
        raise NotImplementedError

    def parse(self, output: str, device, remote_dir: str) -> Timing:
        raise NotImplementedError

    def run(self, device, remote_dir: str, pushed: Pushed, settings: Settings) -> Timing:
        argv = self.command(remote_dir, pushed, settings)
        if settings.taskset:
            argv = ["taskset", settings.taskset, *argv]
        cmd = shlex.join(argv)
        # The tool runs in the background so its peak resident memory can be read while it lives (VmHWM only
        # grows, so the last reading is the peak): the fallback for tools that print none.
        script = (f"cd {shlex.quote(remote_dir)} && {{ {cmd} > run.log 2>&1 & pid=$!; hwm=; "
                  f"while kill -0 $pid 2>/dev/null; do h=$(grep VmHWM /proc/$pid/status 2>/dev/null) && hwm=$h; "
                  f"sleep 0.05; done; wait $pid; code=$?; cat run.log; echo \"{HWM_MARKER}$hwm\"; "
                  f"echo {EXIT_MARKER}$code; }}")
        result = device.shell(script, timeout=settings.timeout, what=f"the {self.name} run")
        output, marker, code = result.output.rpartition(EXIT_MARKER)
        if not marker:
            raise DeviceError(f"{self.name} on {device.serial} was interrupted (no exit marker); rerun with --resume")
        output, _, hwm = output.rpartition(HWM_MARKER)
        if code.strip() != "0":
            lines = [l for l in output.strip().splitlines() if l.strip()] or ["no output"]
            raise RunnerError(f"{self.name} exited {code.strip()} on {device.serial}: {lines[-1].strip()[:200]}")
        timing = self.parse(output, device, remote_dir)
        if timing.extra.get("peak_rss_mb") is not None:
            timing.extra["peak_rss_source"] = f"{self.name} output"
        elif (kb := re.search(r"VmHWM:\s*(\d+)\s*kB", hwm)) is not None:
            timing.extra.update(peak_rss_mb=int(kb.group(1)) / 1024, peak_rss_source="/proc/PID/status VmHWM")
        return timing


def input_value_ranges(manifest: dict, settings: Settings) -> dict[str, tuple[int, int]]:
    """Per-input [low, high] values the native tools should feed: ids in the vocabulary, mask 1, types 0."""
    low, high = settings.id_range
    ranges = {}
    for spec in manifest["inputs"]:
        name = spec["name"]
        ranges[name] = (low, high - 1) if name == "input_ids" else (1, 1) if name == "attention_mask" else (0, 0)
    return ranges


def runner_for(fmt: str, *, kind: str, tools: Path | None, python: str, prefer: str = "auto") -> Runner:
    """The runner for an artifact format: `prefer` python or native, or auto (native on adb devices, Python on
    this machine)."""
    from android_bench.runners.executorch import ExecutorchRunner
    from android_bench.runners.onnxruntime import OrtPerfTestRunner
    from android_bench.runners.python import PythonRunner
    from android_bench.runners.tflite import TfliteBenchmarkModelRunner
    from android_bench.runners.torch_lite import SpeedBenchmarkTorchRunner

    if prefer == "python" or (prefer == "auto" and kind == "local"):
        return PythonRunner(tools, python)
    for cls in (TfliteBenchmarkModelRunner, OrtPerfTestRunner, ExecutorchRunner, SpeedBenchmarkTorchRunner):
        if fmt in cls.formats:
            return cls(tools, python)
    raise UserError(f"no native runner for format {fmt!r}; use --runner python")
