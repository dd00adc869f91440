"""`python -m android_bench`: SqueezeBERT vs bert-base-uncased latency on phones, emulators and this machine.

    python -m android_bench --models squeezebert-mnli-headless,bert-base-uncased --formats tflite,onnx \
        --precisions fp32 --threads 1,2 --device local --weights random --out build/bench

Exports the artifacts it needs (or reuses them under OUT/artifacts), runs every job on every device with
one protocol, appends each measurement to OUT/results.jsonl as it arrives, and writes summary.json,
summary.csv and latency.png with the baseline/SqueezeBERT ratio, its bootstrap 95% interval and a verdict
on the paper's 4.3x.
"""
from __future__ import annotations

import argparse
import logging
import sys
import threading
from pathlib import Path

from export import ArgumentParser, run_main
from models.errors import UserError

from android_bench.harness import flags
from android_bench.measurement import timing

log = logging.getLogger("android_bench")


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m android_bench", description=__doc__.split("\n\n")[0])
    flags.add_shared(p, out="build/bench")
    p.add_argument("--baseline", default="bert-base-uncased", help="the model every other is compared against")
    p.add_argument("--device", "--devices", dest="device", default="local",
                   help="'local' (this machine), an adb serial, or 'all' (every attached adb device, concurrently)")
    p.add_argument("-H", dest="adb_host", default="127.0.0.1", help="adb server host (a remote server or device farm)")
    p.add_argument("-P", dest="adb_port", type=int, default=None,
                   help="adb server port (default: $ANDROID_ADB_SERVER_PORT or 5037)")
    p.add_argument("--runner", choices=("auto", "native", "python"), default="auto",
                   help="auto: the native tool per format on adb devices, Python on local; native: the native "
                        "tools everywhere (from --tools); python: the Python runner everywhere (devices with "
                        "Python, e.g. Linux boards)")
    p.add_argument("--tools", type=Path, default=None,
                   help="folder with the native tools by ABI: DIR/arm64-v8a/benchmark_model, ...")
    p.add_argument("--device-python", default="python3", help="Python on the device, for --runner python")
    p.add_argument("--cooldown-cap", type=float, default=120.0,
                   help="max seconds to wait for the device to cool back to its starting temperature between models")
    p.add_argument("--pin-big-cores", action="store_true", help="taskset to the cores with the highest max frequency")
    p.add_argument("--artifacts", type=Path, default=None,
                   help="where exported artifacts are kept and reused (default: OUT/artifacts)")
    p.add_argument("--counts", type=counts_file, default=None,
                   help="counts.json of `python -m android_bench.arm64 count`: its ARM64 instruction ratio (emulated, "
                        "not time) beside each measured ratio of the same format, precision and length")
    p.add_argument("--resume", action="store_true",
                   help="continue OUT/results.jsonl: jobs already measured there are skipped")
    return p


def main(args) -> None:
    flags.one_writer(_run)(args)  # one writer per --out: a second run refuses at once, naming this one


def _run(args) -> None:
    from android_bench.harness.artifacts import conversion_order, ensure_artifact
    from android_bench.devices import connect, identify
    from android_bench.harness.protocol import RunConfig, plan
    from android_bench.measurement.results import ResultLog
    from android_bench.runners import Settings, runner_for

    models, formats, precisions, threads, seq_lens = args.models, args.formats, args.precisions, args.threads, args.seq_len
    flags.check_seq_lens(models, seq_lens)
    flags.check_precisions(formats, precisions)
    if args.runs < 30:
        log.warning("--runs %d: fewer than 30 timed runs per invocation makes the intervals wide", args.runs)
    results = ResultLog(args.out / "results.jsonl")
    if results.records() and not args.resume:
        raise UserError(f"{results.path} already holds results; pass --resume to continue it or another --out")
    run_id = _run_id(results)
    devices = connect(args.device, host=args.adb_host, port=args.adb_port, workdir=args.out / "local-device")
    for device, facts in zip(devices, identify(devices)):  # a missing native tool is named before any export
        for fmt in formats:
            runner_for(fmt, kind=device.kind, tools=args.tools, python=args.device_python,
                       prefer=args.runner).preflight(facts["abi"])
    # one artifact per model, format and precision, at the longest length: every length runs on it
    artifacts = {(m, f, p): ensure_artifact(args.artifacts or args.out / "artifacts", m, f, p, weights=args.weights,
                                            seq_len=max(seq_lens))
                 for m in models for f in formats for p in conversion_order(precisions)}
    inputs, flops, length_weights = _inputs_and_flops(models, weights=args.weights, seq_lens=seq_lens,
                                               folder=args.out / "inputs")
    config = RunConfig(run_id=run_id,
                       settings=Settings(threads=threads[0], warmup=args.warmup, runs=args.runs,
                                         denormals=args.denormals),
                       cooldown_cap_s=args.cooldown_cap, pin_big_cores=args.pin_big_cores, runner=args.runner,
                       tools=args.tools, device_python=args.device_python if args.device != "local" else sys.executable,
                       inputs=inputs, weights=args.weights, length_weights=length_weights)
    jobs = plan(models, formats, precisions, threads, args.rounds, seq_lens)
    failures = _run_devices(devices, jobs, artifacts, config, results, args, flops)
    try:
        summary = _report(results, args, config, flops)
    except OSError as exc:
        raise UserError(_write_failed(exc, results, "writing the summary")) from exc
    if failures:
        raise UserError(f"{failures[0]} (measurements so far are in {results.path})")
    if summary["errors"]:
        raise UserError(f"{len(summary['errors'])} job(s) failed, the first: {summary['errors'][0]['error']} "
                        f"(the others are measured; fix it and rerun with --resume)")


def _run_id(results) -> str:
    """The run continued (the last one in results.jsonl), else a new one. It names a folder on the device, so
    only a run id this harness makes is taken from the file."""
    from android_bench.harness.protocol import RUN_ID, new_run_id

    previous = [r["run_id"] for r in results.records() if "run_id" in r]
    if not previous:
        return new_run_id()
    if not isinstance(previous[-1], str) or not RUN_ID.fullmatch(previous[-1]):
        raise UserError(f"{results.path}: run_id {str(previous[-1])[:40]!r} is not one this harness writes "
                        "(run-YYYYMMDD-HHMMSS-xxxxxx); pass another --out")
    return previous[-1]


def _run_devices(devices, jobs, artifacts, config, results, args, flops) -> list[str]:
    """Every device's jobs, concurrently; the lost devices' one-line errors. Any other failure in a device's thread
    stops the others before their next job and is raised here (one line, not a thread's traceback); one writing
    the output (a full disk) keeps what was measured and writes no summary, which could not be written either."""
    from rich.progress import Progress

    from android_bench.devices import DeviceError
    from android_bench.harness.protocol import run_device

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
            stop.set()
            for device in devices:
                device.cancel(device.remote_dir(config.run_id))
            for worker in workers:
                worker.join(timeout=5)
            _report(results, args, config, flops)
            raise
    if crashed and isinstance(crashed[0], OSError):
        raise UserError(_write_failed(crashed[0], results, "the benchmark")) from crashed[0]
    if crashed:
        raise crashed[0]
    return failures


def _write_failed(exc: OSError, results, what: str) -> str:
    """One line for an OSError that stopped `what`: ENOSPC named, what is kept, and how to go on."""
    import errno

    where = Path(exc.filename) if exc.filename else results.path.parent
    if exc.errno == errno.ENOSPC:
        cause, fix = "no space left on the disk (ENOSPC)", "free some space there"
    else:
        cause, fix = f"{exc.strerror or exc} ({errno.errorcode.get(exc.errno, 'OSError')})", "fix that"
    kept = len([r for r in results.records() if "timing" in r])
    kept_in = "it" if where == results.path else results.path
    return f"{what} stopped: {cause} at {where}; the {kept} measurement(s) made are kept in {kept_in}: {fix} and " \
           "rerun with --resume"


def _report(results, args, config, flops) -> dict:
    """summary.json, summary.csv, the plots and the tables, from every record so far."""
    from android_bench.measurement.report import print_tables, write_reports
    from android_bench.measurement.history import save_run
    from android_bench.measurement.machine import describe
    from android_bench.measurement.results import summarize, with_instruction_ratios

    summary = summarize(results.records(), baseline=args.baseline, flops=flops,
                        length_weights=config.length_weights)
    if args.counts is not None:
        summary = with_instruction_ratios(summary, args.counts)
    summary["run_id"] = config.run_id
    summary["machine"] = describe()  # the host driving the run (a phone's own CPU is in its device facts)
    paths = write_reports(summary, args.out)
    paths["history"] = save_run("android_bench", summary, args.out.parent / "history")
    print_tables(summary)
    print(f"wrote {results.path}, {', '.join(str(p) for p in paths.values())}")
    return summary

def counts_file(text: str) -> dict:
    """argparse `type=`: the counts.json of a finished `python -m android_bench.arm64 count` run, read before any
    work."""
    import argparse
    import json

    try:
        counts = json.loads(Path(text).read_text())
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text}: not a readable counts.json ({exc})") from None
    if not isinstance(counts, dict) or not isinstance(counts.get("ratios"), list):
        raise argparse.ArgumentTypeError(f"{text}: no ratios in it; pass the counts.json of a finished `python -m "
                                         "android_bench.arm64 count` run")
    return counts


def _inputs_and_flops(models: list[str], *, weights: str, seq_lens: list[int], folder: Path):
    """Per model and length: the benchmark inputs as an .npz for the Python runner (android_bench.measurement.timing), and
    the FLOPs of one forward pass (for the FLOP ratio beside the verdict); and the length distribution the summary
    weighs the lengths with (android_bench.measurement.lengths)."""
    import numpy as np

    import models as zoo

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
            inputs[model][n] = folder / f"{loaded.name}-{n}.npz"
            np.savez(inputs[model][n], **timing.benchmark_inputs(loaded.tokenizer, n))
        flops[model] = {n: c["flops"] for n, c in flops_by_length(model, seq_lens, task=loaded.task).items()}
        length_weights = length_weights or distribution(loaded.tokenizer)
    return inputs, flops, length_weights


if __name__ == "__main__":
    sys.exit(run_main(main, parser=parser()))
