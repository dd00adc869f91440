"""Running planned jobs on devices: the one code path of `python -m android_bench` and of the desktop studies.

`python -m android_bench --device local` and `android_bench.studies.{efficiency,precision,op_profile}` all time a
path on this machine the same way: the jobs of harness.protocol.plan (rounds, models alternating, lengths
alternating), each one process of the Python runner (runners/pyrunner.py: load, first inference, warm-up, timed
runs in android_bench.measurement.timing's turns) on devices.local.LocalDevice, through `run_devices` and
harness.protocol.run_device, every result appended to OUT/results.jsonl as it arrives (`--resume` continues it).
"""
from __future__ import annotations

import logging
import sys
import threading
from dataclasses import replace
from pathlib import Path

from models.errors import UserError

from android_bench.harness.protocol import RUN_ID, RunConfig, new_run_id, run_device
from android_bench.measurement import timing
from android_bench.measurement.results import ResultLog
from android_bench.runners import Settings

log = logging.getLogger("android_bench")


def open_log(out: Path, *, resume: bool) -> tuple[ResultLog, str]:
    """OUT/results.jsonl and the run id: a new run, or with `resume` the run it holds (continued)."""
    results = ResultLog(out / "results.jsonl")
    if results.records() and not resume:
        raise UserError(f"{results.path} already holds results; pass --resume to continue it or another --out")
    return results, _run_id(results)


def _run_id(results: ResultLog) -> str:
    """The run continued (the last one in results.jsonl), else a new one. It names a folder on the device, so
    only a run id this harness makes is taken from the file."""
    previous = [r["run_id"] for r in results.records() if "run_id" in r]
    if not previous:
        return new_run_id()
    if not isinstance(previous[-1], str) or not RUN_ID.fullmatch(previous[-1]):
        raise UserError(f"{results.path}: run_id {str(previous[-1])[:40]!r} is not one this harness writes "
                        "(run-YYYYMMDD-HHMMSS-xxxxxx); pass another --out")
    return previous[-1]


def settings_of(args) -> Settings:
    """The runner settings of the shared flags (threads and length are set per job)."""
    return Settings(threads=args.threads[0], warmup=args.warmup, runs=args.runs, denormals=args.denormals)


def local_config(args, run_id: str, *, inputs: dict, length_weights: dict | None, profile: bool = False) -> RunConfig:
    """The configuration of `python -m android_bench --device local --runner python`, for the studies."""
    return RunConfig(run_id=run_id, settings=replace(settings_of(args), profile=profile), runner="python",
                     device_python=sys.executable, inputs=inputs, weights=args.weights, length_weights=length_weights)


def run_local(args, jobs: list, artifacts: dict, *, inputs: dict, length_weights: dict | None,
              on_interrupt=None, profile: bool = False) -> ResultLog:
    """The jobs on this machine with the Python runner, as `python -m android_bench --device local` runs them;
    results in OUT/results.jsonl (continued with args.resume). A failed job is recorded and raised at the end
    by the caller (`failed`). `profile`: the runtimes' per-op profilers on (Timing.extra["op_profile"])."""
    from android_bench.devices import connect

    results, run_id = open_log(args.out, resume=args.resume)
    devices = connect("local", workdir=args.out / "local-device")
    config = local_config(args, run_id, inputs=inputs, length_weights=length_weights, profile=profile)
    failures = run_devices(devices, jobs, artifacts, config, results,
                           on_interrupt=on_interrupt and (lambda: on_interrupt(results)))
    if failures:
        raise UserError(f"{failures[0]} (measurements so far are in {results.path})")
    return results


def failed(summary: dict) -> None:
    """One line for jobs that failed (the others are measured and reported)."""
    if summary["errors"]:
        raise UserError(f"{len(summary['errors'])} job(s) failed, the first: {summary['errors'][0]['error']} "
                        f"(the others are measured; fix it and rerun with --resume)")


def run_devices(devices, jobs, artifacts, config, results, *, on_interrupt=None) -> list[str]:
    """Every device's jobs, concurrently; the lost devices' one-line errors. Any other failure in a device's thread
    stops the others before their next job and is raised here (one line, not a thread's traceback); one writing
    the output (a full disk) keeps what was measured and writes no summary, which could not be written either.
    On Ctrl-C the devices' commands are stopped and `on_interrupt()` (the report of what finished) runs."""
    from rich.progress import Progress

    from android_bench.devices import DeviceError

    failures, crashed = [], []
    stop = threading.Event()
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("benchmarking", total=len(jobs) * len(devices))

        def on_device(device):
            try:
                run_device(device, jobs, artifacts, config, results, progress=lambda: progress.advance(task),
                           stop=stop)
            except DeviceError as exc:  # the others go on; this one's measurements are saved
                if not stop.is_set():
                    failures.append(str(exc))
            except BaseException as exc:
                crashed.append(exc)
                stop.set()

        # daemon threads: Ctrl-C reaches the main thread, which stops the devices' commands and writes the
        # summary of what finished instead of waiting for every remaining job
        workers = [threading.Thread(target=on_device, args=(d,), daemon=True) for d in devices]
        for worker in workers:
            worker.start()
        try:
            while any(w.is_alive() for w in workers):
                for worker in workers:
                    worker.join(timeout=0.2)
        except KeyboardInterrupt:
            _interrupted(stop, devices, workers, config, on_interrupt)
            raise
    if crashed and isinstance(crashed[0], OSError):
        raise UserError(write_failed(crashed[0], results, "the benchmark")) from crashed[0]
    if crashed:
        raise crashed[0]
    return failures


def _interrupted(stop, devices, workers, config, on_interrupt) -> None:
    stop.set()
    for device in devices:
        device.cancel(device.remote_dir(config.run_id))
    for worker in workers:
        worker.join(timeout=5)
    if on_interrupt is not None:
        on_interrupt()


def write_failed(exc: OSError, results, what: str, *, where: Path | None = None) -> str:
    """One line for an OSError that stopped `what`: the cause (ENOSPC named) at the path written (`exc.filename`,
    else `where`, else the output folder), what is kept, and how to go on."""
    import errno

    where = Path(exc.filename) if exc.filename else where or results.path.parent
    if exc.errno == errno.ENOSPC:
        cause, fix = "no space left on the disk (ENOSPC)", "free some space there"
    else:
        cause, fix = f"{exc.strerror or exc} ({errno.errorcode.get(exc.errno, 'OSError')})", "fix that"
    kept = len([r for r in results.records() if "timing" in r])
    if not kept:
        return f"{what} stopped: {cause} at {where}; nothing was measured yet: {fix} and rerun"
    kept_in = "it" if where == results.path else results.path
    return f"{what} stopped: {cause} at {where}; the {kept} measurement(s) made are kept in {kept_in}: {fix} and " \
           "rerun with --resume"


def inputs_and_flops(models: list[str], *, weights: str, seq_lens: list[int], folder: Path):
    """Per model and length: the benchmark inputs as an .npz for the Python runner (android_bench.measurement.timing),
    and the FLOPs of one forward pass (for the FLOP ratio beside the verdict); and the length distribution the
    summary weighs the lengths with (android_bench.measurement.lengths)."""
    import numpy as np

    import models as zoo

    from android_bench.harness.artifacts import cache_name
    from android_bench.measurement.flops import flops_by_length
    from android_bench.measurement.lengths import distribution

    folder.mkdir(parents=True, exist_ok=True)
    inputs, flops, length_weights = {}, {}, None
    for model in models:
        loaded = zoo.load(model, weights=weights)
        for n in seq_lens:
            loaded.check_seq_len(n)
        inputs[model] = {}
        for n in seq_lens:
            inputs[model][n] = folder / f"{cache_name(model)}-{n}.npz"
            np.savez(inputs[model][n], **timing.benchmark_inputs(loaded.tokenizer, n))
        flops[model] = {n: c["flops"] for n, c in flops_by_length(model, seq_lens, task=loaded.task).items()}
        length_weights = length_weights or distribution(loaded.tokenizer)
    return inputs, flops, length_weights
