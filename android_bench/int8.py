"""`python -m android_bench.int8`: fp32 vs int8 latency per format, side by side in one run (not a test).

For each model and format: export fp32 and int8 in one conversion (reused when `<out>/<model>/<format>-fp32`
and `-int8` already hold them), then time both in the desktop runtime, interleaved (fp32, int8, fp32, ...) so drift hits
both, and print medians, p10/p90 and the int8 speedup. Results are written to `<out>/bench.json` after every
pair, so an interrupted run keeps what it measured.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from . import flags, timing
from .timing import DENORMALS, denormals, time_interleaved

log = logging.getLogger("android_bench")


def run(args) -> list[dict]:
    import models
    from export import write_json_atomic
    from export.runtimes import load_artifact, read_manifest

    from .artifacts import ensure_artifact

    results, path = [], args.out / "bench.json"
    flags.check_precisions(args.formats, ["fp32", "int8"])
    for name in args.models:
        loaded = models.load(name, weights=args.weights)
        inputs = timing.benchmark_inputs(loaded.tokenizer, args.seq_len)
        for fmt in args.formats:
            # int8 first: a missing fp32 artifact is made in the same conversion (artifacts.conversion_order)
            int8_dir, fp32_dir = (ensure_artifact(args.out, name, fmt, precision, weights=args.weights,
                                                  seq_len=args.seq_len, threads=args.threads)
                                  for precision in ("int8", "fp32"))
            with denormals(args.denormals):
                runtimes = {"fp32": load_artifact(fp32_dir, threads=args.threads),
                            "int8": load_artifact(int8_dir, threads=args.threads)}
                times = time_interleaved(runtimes, dict.fromkeys(runtimes, inputs), runs=args.runs,
                                         warmup=args.warmup)
            row = {"model": name, "format": fmt, "seq_len": args.seq_len, "threads": args.threads, "runs": args.runs,
                   **{f"{k}_median_ms": float(np.median(v)) for k, v in times.items()},
                   **{f"{k}_p10_ms": float(np.percentile(v, 10)) for k, v in times.items()},
                   **{f"{k}_p90_ms": float(np.percentile(v, 90)) for k, v in times.items()},
                   "int8_speedup": float(np.median(times["fp32"]) / np.median(times["int8"])),
                   "size_ratio": read_manifest(int8_dir)["quantization"]["size_bytes"]["ratio"],
                   "times_ms": {k: [round(t, 3) for t in v] for k, v in times.items()}}
            results.append(row)
            log.info("%-26s %-12s fp32 %7.1f ms  int8 %7.1f ms  speedup %.2fx  size %.2fx", name, fmt,
                     row["fp32_median_ms"], row["int8_median_ms"], row["int8_speedup"], row["size_ratio"])
            write_json_atomic(path, {"machine": _machine(), "denormals": DENORMALS[args.denormals],
                                     "protocol": timing.record(warmup=args.warmup, runs=args.runs,
                                                               denormals=args.denormals),
                                     "inputs": timing.describe_inputs(inputs), "results": results})
    _table(results)
    return results


def _machine() -> dict:
    import os
    import platform

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()}


def _table(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="fp32 vs int8 (median ms, interleaved runs)")
    for col in ("model", "format", "fp32", "int8", "speedup", "size"):
        table.add_column(col)
    for r in results:
        table.add_row(r["model"], r["format"], f"{r['fp32_median_ms']:.1f}", f"{r['int8_median_ms']:.1f}",
                      f"{r['int8_speedup']:.2f}x", f"{r['size_ratio']:.2f}x")
    Console().print(table)


def main(argv=None) -> int:
    from export import ArgumentParser, available_formats, ensure_writable_dir, run_main

    p = ArgumentParser(prog="python -m android_bench.int8", description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("--models", type=flags.model_names, default="squeezebert-mnli-headless,bert-base-uncased",
                   help="comma-separated")
    p.add_argument("--formats", type=flags.names(available_formats(), what="format"),
                   default="torchscript,onnx,tflite,executorch", help="comma-separated")
    p.add_argument("--weights", default="random", help="hub, random or a checkpoint folder")
    p.add_argument("--seq-len", type=int, default=128, help="sequence length")
    p.add_argument("--threads", type=flags.positive_int, default=1, help="runtime threads")
    p.add_argument("--runs", type=flags.positive_int, default=timing.RUNS, help="timed runs per precision")
    p.add_argument("--warmup", type=flags.non_negative_int, default=timing.WARMUP, help="untimed runs first")
    p.add_argument("--denormals", choices=list(DENORMALS), default="flush", help="see android_bench.timing.denormals")
    p.add_argument("--out", type=Path, default=Path("build/qbench"), help="artifacts and bench.json")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")

    def go(args):
        ensure_writable_dir(args.out)
        run(args)
    return run_main(go, argv, parser=p)


if __name__ == "__main__":
    sys.exit(main())
