"""Runners: one module per benchmark tool. Each pushes what it needs, builds the command line, parses the output.

A runner is one module of this package defining a `Runner` subclass: defining the class registers it (by its
`name`), and `runner_for` imports every module of the package on first use, so a new module is all a new tool
needs (docs/benchmarking.md, "Adding a runner").

A runner's `run` executes one invocation (warm-up + timed runs) on a device and returns a `Timing`. The shell
command ends with an exit marker: an interrupted `adb shell` can exit 0 (adb 29) or 255 (adb 36), so the
marker, not adb's exit code, says whether the tool finished.
"""
from __future__ import annotations

import importlib
import pkgutil
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import UserError

from android_bench.devices import DeviceError
from android_bench.runners.timing_result import ParseError, Timing

__all__ = ["BUNDLE_ROOT", "EXIT_MARKER", "HWM_MARKER", "PYTHON_ONLY", "PYTHON_RUNNER", "ParseError", "Pushed", "Runner",
           "RunnerError", "Settings", "Timing", "bundle_dir", "input_value_ranges", "native_runners",
           "registered_runners", "runner_for"]

EXIT_MARKER = "BENCH-EXIT="
HWM_MARKER = "BENCH-VMHWM="
PYTHON_RUNNER = "python"  # the registered name of the runner `--runner python` (and the local device) picks
# Formats no native tool times, with why: only the Python runner measures them (none today).
PYTHON_ONLY: dict[str, str] = {}
# Where the runtime bundle (android_bench.runners.bundle) lives on a device, one folder per ABI holding its parts
# side by side (base/, torch/): under /data/local/tmp, the one place Android's shell user may execute files.
BUNDLE_ROOT = "/data/local/tmp/squeezebert-mobile"


def bundle_dir(abi: str) -> str:
    return f"{BUNDLE_ROOT}/{abi}"

_RUNNERS: dict[str, type[Runner]] = {}
_discovered = False


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
    profile: bool = False  # the Python runner: the runtime's per-op profiler on (op_profile in Timing.extra)

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
    """A benchmark tool. A subclass with a `name` registers itself when its module is imported; one with a `tool`
    is the native runner of its `formats` (one per format)."""
    name: str = ""
    tool: str | None = None  # binary name in --tools DIR/<abi>/, None for the Python runner
    formats: tuple[str, ...] = ()
    where_to_get: str = ""
    in_bundle: bool = False  # the runtime bundle (android_bench.runners.bundle) carries this native tool in tools/

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.name:
            _register(cls)

    def __init__(self, tools: Path | None = None, python: str = "python3", *, device_tools: str | None = None,
                 bundle_parts: tuple[str, ...] = ()):
        self.tools = Path(tools) if tools else None
        self.python = python
        self.device_tools = device_tools  # the device folder that already holds the tool (the bundle's tools/)
        self.bundle_parts = bundle_parts  # the runtime bundle's parts this runner needs on the device

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
        if self.tool and not self.device_tools:
            self.tool_path(abi)

    def prepare(self, device, remote_dir: str, abi: str) -> None:
        """Push the tool (once per run directory), unless the device has it already (the bundle's)."""
        if self.tool and not self.device_tools:
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


def _register(cls: type[Runner]) -> None:
    """Called for each Runner subclass with a name: a second class under the same name, or a second native runner
    for a format, is refused (the choice would then depend on the order of imports)."""
    where = f"{cls.__module__}.{cls.__qualname__}"
    known = _RUNNERS.get(cls.name)
    if known is not None and f"{known.__module__}.{known.__qualname__}" != where:
        raise ValueError(f"{where}: the runner name {cls.name!r} is taken by {known.__module__}.{known.__qualname__}")
    for other in _RUNNERS.values():
        shared = sorted(set(other.formats) & set(cls.formats)) if cls.tool and other.tool else []
        if other.name != cls.name and shared:
            raise ValueError(f"{where}: {', '.join(shared)} already has the native runner {other.name!r}")
    _RUNNERS[cls.name] = cls  # the same class again (its module reloaded) replaces itself


def _discover() -> None:
    """Import every module of this package (not its subpackages, e.g. native/): each registers its runners."""
    global _discovered
    if not _discovered:
        for module in pkgutil.iter_modules(__path__, f"{__name__}."):
            if not module.ispkg:
                importlib.import_module(module.name)
        _discovered = True


def registered_runners() -> dict[str, type[Runner]]:
    """Every runner, by name, in registration order."""
    _discover()
    return dict(_RUNNERS)


def native_runners() -> dict[str, type[Runner]]:
    """Format -> the runner of its native tool."""
    return {fmt: cls for cls in registered_runners().values() if cls.tool for fmt in cls.formats}


def runner_for(fmt: str, *, kind: str, tools: Path | None, python: str, prefer: str = "auto", abi: str | None = None,
               flush: bool = False) -> Runner:
    """The runner for an artifact format: `prefer` python (`python` on the device) or native (from `tools`), or
    auto: the Python runner on this machine; on a device, the native tool where `tools` has it for the device's
    `abi`, else the runtime bundle's runner, which needs no build (`bundled`). `flush`: the Python runner flushes
    denormals, which takes torch."""
    if prefer == "python" or (prefer == "auto" and kind == "local"):
        return registered_runners()[PYTHON_RUNNER](tools, python)
    native = native_runners().get(fmt)
    if prefer == "native":
        if native is None:
            why = f" ({PYTHON_ONLY[fmt]})" if fmt in PYTHON_ONLY else ""
            raise UserError(f"no native runner for format {fmt!r}{why}; use --runner python or auto")
        return native(tools, python)
    if native is not None and tools is not None and (abi is None or (Path(tools) / abi / native.tool).is_file()):
        return native(tools, python)
    return bundled(fmt, abi, flush=flush)


def bundled(fmt: str, abi: str | None, *, flush: bool = False) -> Runner:
    """The runner of the runtime bundle on a device (BUNDLE_ROOT): its ExecuTorch runner for .pte files, its Python
    (started through its own loader) for the others; TorchScript, and denormal flushing, need its torch part."""
    if abi is None:
        raise UserError("the device does not say its ABI (getprop ro.product.cpu.abi), so no runtime bundle can be "
                        "chosen for it; pass --tools with the native tools, or --runner python")
    root = f"{bundle_dir(abi)}/base"
    native = native_runners().get(fmt)
    if native is not None and native.in_bundle:
        return native(None, device_tools=f"{root}/tools", bundle_parts=("base",))
    torch = fmt == "torchscript" or flush
    return registered_runners()[PYTHON_RUNNER](None, f"{root}/bin/python",
                                                bundle_parts=("base", "torch") if torch else ("base",))
