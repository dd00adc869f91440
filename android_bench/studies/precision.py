"""`python -m android_bench.studies.precision`: fp32 vs int8 latency per format, side by side in one run (not a test).

For each model and format: export fp32 and int8 in one conversion at the longest `--seq-len` (reused when
`<out>/<model>/<format>-fp32-seq<N>` and `-int8-seq<N>` already hold them), then time both in the desktop runtime at
every length, interleaved (fp32, int8, fp32, ... over the lengths) so drift hits both and every length, and print
medians, p10/p90, the int8 speedup and each length's share of the longest's latency per length. Results are written
to `<out>/bench.json` after every pair, so an interrupted run keeps what it measured; with several lengths also the
latency under a length distribution (android_bench.measurement.lengths) and `<out>/latency_by_length.png`.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from android_bench.harness import flags
from android_bench.measurement import timing
from android_bench.measurement.timing import DENORMALS, denormals, time_turns

log = logging.getLogger("android_bench")


def run(args) -> list[dict]:
    import models
    from export import write_json_atomic
    from export.runtimes import load_artifact, read_manifest

    from android_bench.measurement import lengths as by_length
    from android_bench.harness.artifacts import ensure_artifact
    from android_bench.measurement.machine import describe
    from android_bench.measurement.timing import InProcess

    results, path, seq_lens = [], args.out / "bench.json", args.seq_len
    longest = max(seq_lens)
    flags.check_seq_lens(args.models, seq_lens)
    flags.check_precisions(args.formats, ["fp32", "int8"])
    described, weights = {}, None
    for name in args.models:
        loaded = models.load(name, weights=args.weights)
        for length in seq_lens:
            loaded.check_seq_len(length)
        weights = weights or by_length.distribution(loaded.tokenizer)
        inputs = {length: timing.benchmark_inputs(loaded.tokenizer, length) for length in seq_lens}
        described[name] = [timing.describe_inputs(feed) for feed in inputs.values()]
        for fmt in args.formats:
            # int8 first: a missing fp32 artifact is made in the same conversion (artifacts.conversion_order); one
            # artifact per precision at the longest length, timed at every length
            int8_dir, fp32_dir = (ensure_artifact(args.out, name, fmt, precision, weights=args.weights,
                                                  seq_len=longest, threads=args.threads)
                                  for precision in ("int8", "fp32"))
            with denormals(args.denormals):
                runtimes = {"fp32": InProcess(load_artifact(fp32_dir, threads=args.threads), inputs),
                            "int8": InProcess(load_artifact(int8_dir, threads=args.threads), inputs)}
                # fp32 and int8 alternate at each length; the lengths join the round robin
                timers = {(precision, length): timer.at(length) for length in seq_lens
                          for precision, timer in runtimes.items()}
                times = time_turns(timers, runs=args.runs, warmup=args.warmup)
            size_ratio = read_manifest(int8_dir)["quantization"]["size_bytes"]["ratio"]
            for length in seq_lens:
                t = {precision: times[(precision, length)] for precision in runtimes}
                row = {"model": name, "format": fmt, "seq_len": length, "artifact_seq_len": longest,
                       "threads": args.threads, "runs": args.runs,
                       **{f"{k}_median_ms": float(np.median(v)) for k, v in t.items()},
                       **{f"{k}_p10_ms": float(np.percentile(v, 10)) for k, v in t.items()},
                       **{f"{k}_p90_ms": float(np.percentile(v, 90)) for k, v in t.items()},
                       "int8_speedup": float(np.median(t["fp32"]) / np.median(t["int8"])),
                       "size_ratio": size_ratio, "times_ms": {k: [round(x, 3) for x in v] for k, v in t.items()}}
                if length != longest:  # the acceptance check: a short input costs its length, from one asset
                    for k in t:
                        row[f"{k}_over_longest"] = float(np.median(t[k]) / np.median(times[(k, longest)]))
                results.append(row)
                log.info("%-26s %-12s seq %4d  fp32 %7.1f ms  int8 %7.1f ms  speedup %.2fx  size %.2fx", name, fmt,
                         length, row["fp32_median_ms"], row["int8_median_ms"], row["int8_speedup"], row["size_ratio"])
            report = {"machine": describe(), "denormals": DENORMALS[args.denormals], "seq_lens": seq_lens,
                      "artifact_seq_len": longest,
                      "protocol": timing.record(warmup=args.warmup, runs=args.runs, denormals=args.denormals),
                      "inputs": described, "results": results}
            if len(seq_lens) > 1:
                report["at_length_distribution"] = _distribution(results, weights)
            write_json_atomic(path, report)
    if len(seq_lens) > 1:
        rows = [{"model": r["model"], "line": f"{r['format']}-{k}", "seq_len": r["seq_len"],
                 "median_ms": r[f"{k}_median_ms"], "p10_ms": r[f"{k}_p10_ms"], "p90_ms": r[f"{k}_p90_ms"]}
                for r in results for k in ("fp32", "int8")]
        plot = by_length.plot_latency_by_length(rows, args.out / by_length.PLOT, panel=lambda r: r["model"],
                                                line=lambda r: r["line"],
                                                title=f"android_bench.studies.precision: median latency against length, "
                                                      f"{args.threads} thread(s) (one artifact per precision)")
        log.info("wrote %s", plot)
    from android_bench.measurement.history import save_run

    log.info("saved to the history: %s", save_run("int8", report, args.out.parent / "history"))
    _table(results, report.get("at_length_distribution"), args.models, report["machine"])
    return results


def _distribution(results: list[dict], weights: dict[int, float]) -> dict:
    """Per model, format and precision, the latency expected under android_bench.measurement.lengths.DISTRIBUTION."""
    from android_bench.measurement import lengths as by_length

    series: dict[tuple, dict[int, float]] = {}
    for r in results:
        for k in ("fp32", "int8"):
            series.setdefault((r["model"], r["format"], k), {})[r["seq_len"]] = r[f"{k}_median_ms"]
    rows = [{"model": m, "format": f, "precision": k, "expected_ms": by_length.expected_latency(medians, weights),
             "measured_lengths": sorted(medians)} for (m, f, k), medians in series.items()]
    return {**by_length.summary(weights, sorted({r["seq_len"] for r in results})), "results": rows}


def _table(results: list[dict], dist: dict | None, names: list[str], machine: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from android_bench.measurement import lengths as by_length
    from android_bench.measurement.machine import header

    table = Table(title=f"fp32 vs int8 (median ms, interleaved runs, real tokens only)\n{header(machine)}")
    for col in ("model", "format", "seq", "fp32", "int8", "speedup", "size", "fp32/int8 vs longest"):
        table.add_column(col)
    for r in results:
        share = (f"{r['fp32_over_longest']:.2f}x / {r['int8_over_longest']:.2f}x" if "fp32_over_longest" in r else "")
        table.add_row(r["model"], r["format"], str(r["seq_len"]), f"{r['fp32_median_ms']:.1f}",
                      f"{r['int8_median_ms']:.1f}", f"{r['int8_speedup']:.2f}x", f"{r['size_ratio']:.2f}x", share)
    console = Console()
    console.print(table)
    by_length.print_distribution(console, dist, names, key=lambda r: (r["format"], r["precision"]),
                                 label=lambda r: f"{r['format']}-{r['precision']}")


def main(argv=None) -> int:
    from export import ArgumentParser, available_formats, ensure_writable_dir, run_main

    p = ArgumentParser(prog="python -m android_bench.studies.precision", description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("--models", type=flags.model_names, default="squeezebert-mnli-headless,bert-base-uncased",
                   help="comma-separated")
    p.add_argument("--formats", type=flags.names(available_formats(), what="format"),
                   default="torchscript,onnx,tflite,executorch", help="comma-separated")
    p.add_argument("--weights", default="random", help="hub, random or a checkpoint folder")
    p.add_argument("--seq-len", type=flags.seq_lens, default="128",
                   help="comma-separated sequence lengths, e.g. 16,32,64,128: one artifact per precision made at the "
                        "longest, timed at every length with that many real tokens (no padding), lengths interleaved")
    p.add_argument("--threads", type=flags.positive_int, default=1, help="runtime threads")
    p.add_argument("--runs", type=flags.positive_int, default=timing.RUNS, help="timed runs per precision")
    p.add_argument("--warmup", type=flags.non_negative_int, default=timing.WARMUP, help="untimed runs first")
    p.add_argument("--denormals", choices=list(DENORMALS), default="flush", help="see android_bench.measurement.timing.denormals")
    p.add_argument("--out", type=Path, default=Path("build/qbench"), help="artifacts and bench.json")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")

    def go(args):
        ensure_writable_dir(args.out)
        run(args)
    return run_main(flags.one_writer(go), argv, parser=p)


if __name__ == "__main__":
    sys.exit(main())
