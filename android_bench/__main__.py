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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from export import run_main
from models import model_choices
from models.errors import UserError

log = logging.getLogger("android_bench")
FORMATS = ("tflite", "onnx", "executorch", "torchscript")


def _csv(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m android_bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--models", default="squeezebert-mnli-headless,bert-base-uncased",
                   help=f"comma-separated models ({model_choices()})")
    p.add_argument("--baseline", default="bert-base-uncased", help="the model every other is compared against")
    p.add_argument("--formats", default="tflite,onnx", help=f"comma-separated artifact formats ({', '.join(FORMATS)})")
    p.add_argument("--precisions", default="fp32", help="comma-separated: fp32, int8")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--device", "--devices", dest="device", default="local",
                   help="'local' (this machine), an adb serial, or 'all' (every attached adb device, concurrently)")
    p.add_argument("-H", dest="adb_host", default="127.0.0.1", help="adb server host (a remote server or device farm)")
    p.add_argument("-P", dest="adb_port", type=int, default=None,
                   help="adb server port (default: $ANDROID_ADB_SERVER_PORT or 5037)")
    p.add_argument("--weights", default="hub",
                   help="'hub', a checkpoint folder, or 'random' (latency does not depend on the values; recorded)")
    p.add_argument("--seq-len", type=int, default=128, help="sequence length of the benchmarked inputs")
    p.add_argument("--rounds", type=int, default=3, help="rounds of A B model alternation")
    p.add_argument("--runs", type=int, default=30, help="timed runs per invocation (at least 30 for the statistics)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up runs per invocation")
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
    p.add_argument("--out", type=Path, default=Path("build/bench"), help="output folder")
    p.add_argument("--artifacts", type=Path, default=None,
                   help="where exported artifacts are kept and reused (default: OUT/artifacts)")
    p.add_argument("--resume", action="store_true",
                   help="continue OUT/results.jsonl: jobs already measured there are skipped")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")
    return p


def main(args) -> None:
    from .artifacts import ensure_artifact
    from .devices import DeviceError, connect
    from .protocol import RunConfig, new_run_id, plan, run_device
    from .report import print_tables, write_reports
    from .results import ResultLog, summarize
    from .runners import Settings

    models, formats, precisions = _csv(args.models), _csv(args.formats), _csv(args.precisions)
    threads = [int(t) for t in _csv(args.threads)]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UserError(f"unknown format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}")
    if args.runs < 30:
        log.warning("--runs %d: fewer than 30 timed runs per invocation makes the intervals wide", args.runs)
    results = ResultLog(args.out / "results.jsonl")
    if results.records() and not args.resume:
        raise UserError(f"{results.path} already holds results; pass --resume to continue it or another --out")
    devices = connect(args.device, host=args.adb_host, port=args.adb_port, workdir=args.out / "local-device")
    artifacts = {(m, f, p): ensure_artifact(args.artifacts or args.out / "artifacts", m, f, p, weights=args.weights, seq_len=args.seq_len)
                 for m in models for f in formats for p in precisions}
    previous = [r for r in results.records() if "run_id" in r]
    config = RunConfig(run_id=previous[-1]["run_id"] if previous else new_run_id(),
                       settings=Settings(threads=threads[0], warmup=args.warmup, runs=args.runs),
                       cooldown_cap_s=args.cooldown_cap, pin_big_cores=args.pin_big_cores, runner=args.runner,
                       tools=args.tools, device_python=args.device_python if args.device != "local" else sys.executable)
    jobs = plan(models, formats, precisions, threads, args.rounds)

    failures = []

    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("benchmarking", total=len(jobs) * len(devices))

        def on_device(device):
            try:
                run_device(device, jobs, artifacts, config, results, progress=lambda: progress.advance(task))
            except DeviceError as exc:  # the others go on; this one's measurements are saved
                failures.append(str(exc))

        with ThreadPoolExecutor(max_workers=len(devices)) as pool:
            list(pool.map(on_device, devices))
    summary = summarize(results.records(), baseline=args.baseline)
    summary["run_id"] = config.run_id
    paths = write_reports(summary, args.out)
    print_tables(summary)
    print(f"wrote {results.path}, {', '.join(str(p) for p in paths.values())}")
    if failures:
        raise UserError(f"{failures[0]} (measurements so far are in {results.path})")
    if summary["errors"]:
        raise UserError(f"{len(summary['errors'])} job(s) failed, the first: {summary['errors'][0]['error']} "
                        f"(the others are measured; fix it and rerun with --resume)")


if __name__ == "__main__":
    sys.exit(run_main(main, parser=parser()))
