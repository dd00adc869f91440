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
from pathlib import Path

from export import ArgumentParser, run_main
from models.errors import UserError

from android_bench.harness import flags

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
                   help="auto: on adb devices the native tool where --tools has it, else the runtime bundle (no "
                        "build: Python, the runtimes and the ExecuTorch runner, pushed once), Python on local; "
                        "native: the native tools everywhere (from --tools); python: --device-python everywhere "
                        "(devices with Python, e.g. Linux boards)")
    p.add_argument("--tools", type=Path, default=None,
                   help="folder with native tools by ABI (DIR/arm64-v8a/et_bench_runner, ...), used where present")
    p.add_argument("--remove-bundle", action="store_true",
                   help="remove the runtime bundle from each device after the run (by default it stays, so the "
                        "next run pushes nothing)")
    p.add_argument("--device-python", default="python3", help="Python on the device, for --runner python")
    p.add_argument("--cooldown-cap", type=float, default=120.0,
                   help="max seconds to wait for the device to cool back to its starting temperature between models")
    p.add_argument("--pin-big-cores", action="store_true", help="taskset to the cores with the highest max frequency")
    p.add_argument("--keep-device-files", action="store_true",
                   help="leave the run's folder (artifacts, tools, inputs) on each device; by default it is removed "
                        "when the device's jobs end")
    p.add_argument("--artifacts", type=Path, default=None,
                   help="where exported artifacts are kept and reused (default: OUT/artifacts)")
    p.add_argument("--counts", type=counts_file, default=None,
                   help="counts.json of `python -m android_bench.arm64 count`: its ARM64 instruction ratio (emulated, "
                        "not time) beside each measured ratio of the same format, precision and length")
    return p


def main(args) -> None:
    flags.command(_run)(args)  # one writer per --out: a second run refuses at once, naming this one


def _run(args) -> None:
    from android_bench.devices import connect
    from android_bench.harness import bundle
    from android_bench.harness.artifacts import ensure_artifacts
    from android_bench.harness.protocol import RunConfig, plan
    from android_bench.harness.run import failed, inputs_and_flops, open_log, run_devices, settings_of, write_failed

    models, formats, precisions, threads, seq_lens = args.models, args.formats, args.precisions, args.threads, args.seq_len
    flags.check_seq_lens(models, seq_lens)
    flags.check_precisions(formats, precisions)
    if args.runs < 30:
        log.warning("--runs %d: fewer than 30 timed runs per invocation makes the intervals wide", args.runs)
    results, run_id = open_log(args.out, resume=args.resume)
    devices = connect(args.device, host=args.adb_host, port=args.adb_port, workdir=args.out / "local-device")
    bundles = _prepare(devices, args)
    # one artifact per model, format and precision, at the longest length: every length runs on it
    root = args.artifacts or args.out / "artifacts"
    try:
        artifacts = ensure_artifacts(root, models, formats, precisions, weights=args.weights, seq_len=max(seq_lens))
        inputs, flops, length_weights = inputs_and_flops(models, weights=args.weights, seq_lens=seq_lens,
                                                         folder=args.out / "inputs")
    except OSError as exc:  # a full disk while exporting: the writers do not all name the file
        raise UserError(write_failed(exc, results, "exporting the artifacts", where=root)) from exc
    # the local device with the Python runner: the same RunConfig as the studies' (harness.run.local_config)
    config = RunConfig(run_id=run_id, settings=settings_of(args), cooldown_cap_s=args.cooldown_cap,
                       pin_big_cores=args.pin_big_cores, runner=args.runner, tools=args.tools,
                       device_python=args.device_python if args.device != "local" else sys.executable,
                       inputs=inputs, weights=args.weights, length_weights=length_weights,
                       keep_device_files=args.keep_device_files)
    jobs = plan(models, formats, precisions, threads, args.rounds, seq_lens)
    failures = run_devices(devices, jobs, artifacts, config, results,
                           on_interrupt=lambda: _report(results, args, config, flops))
    if args.remove_bundle:
        for device, abi, _ in bundles:
            bundle.remove_from_device(device, abi)
    try:
        summary = _report(results, args, config, flops)
    except OSError as exc:
        raise UserError(write_failed(exc, results, "writing the summary")) from exc
    if failures:
        raise UserError(f"{failures[0]} (measurements so far are in {results.path})")
    failed(summary)


def _prepare(devices, args) -> list[tuple]:
    """Each device checked before any export (its cores against --threads, the native tools its jobs need) and given
    the runtime bundle where no native tool times a format (pushed once: android_bench.harness.bundle); the
    (device, abi, parts) that have the bundle."""
    from android_bench.devices import identify
    from android_bench.harness import bundle
    from android_bench.runners import runner_for

    bundles = []
    for device, facts in zip(devices, identify(devices)):
        if device.kind != "local":  # this machine's were checked with the flags
            flags.check_threads(args.threads, facts.get("cores"), device.serial)
        chosen = [runner_for(fmt, kind=device.kind, tools=args.tools, python=args.device_python, prefer=args.runner,
                             abi=facts["abi"], flush=args.denormals == "flush") for fmt in args.formats]
        for runner in chosen:
            runner.preflight(facts["abi"])
        parts = bundle.parts_needed(chosen)
        if parts:
            bundles.append((device, facts["abi"], parts))
    for device, abi, parts in bundles:  # before the exports: a device without room says so at once
        bundle.ensure_on_device(device, bundle.build(abi, parts), parts)
    return bundles


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


if __name__ == "__main__":
    sys.exit(run_main(main, parser=parser()))
