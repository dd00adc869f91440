"""`python -m android_bench.studies.precision`: fp32 vs int8 latency per format, side by side in one run (not a test).

For each model and format: export fp32 and int8 in one conversion at the longest `--seq-len` (reused from
OUT/artifacts), then time both at every length and thread count exactly as `python -m android_bench --device local`
does (android_bench.harness.run: the jobs of harness.protocol.plan in --rounds rounds, models and lengths
alternating, each job one process of the Python runner, every result appended to OUT/results.jsonl as it arrives,
`--resume` continues), and print medians, p10/p90, the int8 speedup, the size ratio and each length's share of the
longest's latency. Written to OUT/bench.json; with several lengths also the latency under a length distribution
(android_bench.measurement.lengths) and OUT/latency_by_length.png.
"""
from __future__ import annotations

import argparse
import logging
import sys

from android_bench.harness import flags
from android_bench.measurement import timing

log = logging.getLogger("android_bench")
PRECISIONS = ("fp32", "int8")


def run(args) -> list[dict]:
    from android_bench.harness.artifacts import ensure_artifacts
    from android_bench.harness.protocol import plan
    from android_bench.harness.run import failed, inputs_and_flops, run_local

    flags.check_seq_lens(args.models, args.seq_len)
    flags.check_precisions(args.formats, list(PRECISIONS))
    # int8 first: a missing fp32 artifact is made in the same conversion (artifacts.conversion_order); one
    # artifact per precision at the longest length, timed at every length
    artifacts = ensure_artifacts(args.out / "artifacts", args.models, args.formats, list(PRECISIONS),
                                 weights=args.weights, seq_len=max(args.seq_len))
    inputs, _, weights = inputs_and_flops(args.models, weights=args.weights, seq_lens=args.seq_len,
                                          folder=args.out / "inputs")
    jobs = plan(args.models, args.formats, list(PRECISIONS), args.threads, args.rounds, args.seq_len)
    results = run_local(args, jobs, artifacts, inputs=inputs, length_weights=weights,
                        on_interrupt=lambda log_: _report(args, log_.records(), weights, artifacts))
    report, summary = _report(args, results.records(), weights, artifacts)
    failed(summary)
    return report["results"]


def _report(args, records: list[dict], weights: dict, artifacts: dict) -> tuple[dict, dict]:
    """bench.json (the plot, the history, the table) from the harness's records."""
    from export import write_json_atomic

    from android_bench.measurement import lengths as by_length
    from android_bench.measurement.history import save_run
    from android_bench.measurement.machine import describe
    from android_bench.measurement.results import inputs_fed, summarize

    summary = summarize(records, baseline=args.models[-1])
    results = _rows(args, records, summary["latency"], artifacts)
    report = {"machine": describe(), "denormals": timing.DENORMALS[args.denormals], "seq_lens": args.seq_len,
              "artifact_seq_len": max(args.seq_len), "rounds": args.rounds,
              "protocol": timing.record(warmup=args.warmup, runs=args.runs, denormals=args.denormals),
              "inputs": inputs_fed(records), "results": results, "errors": summary["errors"]}
    dist = by_length.at_length_distribution(summary["latency"], weights,
                                            key=("model", "format", "precision", "threads"))
    if dist:
        report["at_length_distribution"] = dist
    write_json_atomic(args.out / "bench.json", report)
    if len(args.seq_len) > 1:
        rows = [{"model": r["model"], "line": f"{r['format']}-{r['precision']} {r['threads']}t", **r}
                for r in summary["latency"]]
        plot = by_length.plot_latency_by_length(rows, args.out / by_length.PLOT, panel=lambda r: r["model"],
                                                line=lambda r: r["line"],
                                                title="android_bench.studies.precision: median latency against "
                                                      "length (one artifact per precision)")
        log.info("wrote %s", plot)
    log.info("saved to the history: %s", save_run("int8", report, args.out.parent / "history"))
    _table(results, dist or None, args.models, report["machine"])
    return report, summary


def _rows(args, records: list[dict], latency: list[dict], artifacts: dict) -> list[dict]:
    """Per model, format, threads and length: fp32 and int8 side by side, the speedup and the size ratio."""
    from export.runtimes import read_manifest

    from android_bench.measurement.results import samples_of

    stats = {(r["model"], r["format"], r["precision"], r["threads"], r["seq_len"]): r for r in latency}
    ok = [r for r in records if "error" not in r]
    rows, longest = [], max(args.seq_len)
    for m in args.models:
        for f in args.formats:
            size_ratio = read_manifest(artifacts[(m, f, "int8", None)])["quantization"]["size_bytes"]["ratio"]
            for t in args.threads:
                for n in args.seq_len:
                    got = {k: stats.get((m, f, k, t, n)) for k in PRECISIONS}
                    if not all(got.values()):
                        continue
                    times = {k: samples_of([r for r in ok if (r["model"], r["format"], r["precision"], r["threads"],
                                                              r["seq_len"]) == (m, f, k, t, n)])[0] for k in PRECISIONS}
                    row = {"model": m, "format": f, "seq_len": n, "artifact_seq_len": longest, "threads": t,
                           "runs": args.runs, "invocations": got["fp32"]["invocations"],
                           **{f"{k}_{s}_ms": got[k][f"{s}_ms"] for k in PRECISIONS for s in ("median", "p10", "p90")},
                           "int8_speedup": got["fp32"]["median_ms"] / got["int8"]["median_ms"],
                           "size_ratio": size_ratio,
                           "times_ms": {k: [round(float(x), 3) for x in v] for k, v in times.items()}}
                    base = {k: stats.get((m, f, k, t, longest)) for k in PRECISIONS}
                    if n != longest and all(base.values()):  # a short input costs its length, from one asset
                        for k in PRECISIONS:
                            row[f"{k}_over_longest"] = got[k]["median_ms"] / base[k]["median_ms"]
                    rows.append(row)
    return rows


def _table(results: list[dict], dist: dict | None, names: list[str], machine: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from android_bench.measurement import lengths as by_length
    from android_bench.measurement.machine import header

    table = Table(title=f"fp32 vs int8 (median ms, interleaved runs, real tokens only)\n{header(machine)}")
    for col in ("model", "format", "threads", "seq", "fp32", "int8", "speedup", "size", "fp32/int8 vs longest"):
        table.add_column(col)
    for r in results:
        share = (f"{r['fp32_over_longest']:.2f}x / {r['int8_over_longest']:.2f}x" if "fp32_over_longest" in r else "")
        table.add_row(r["model"], r["format"], str(r["threads"]), str(r["seq_len"]), f"{r['fp32_median_ms']:.1f}",
                      f"{r['int8_median_ms']:.1f}", f"{r['int8_speedup']:.2f}x", f"{r['size_ratio']:.2f}x", share)
    console = Console()
    console.print(table)
    by_length.print_distribution(console, dist, names, key=lambda r: (r["format"], r["precision"], r["threads"]),
                                 label=lambda r: f"{r['format']}-{r['precision']} {r['threads']}t")


def parser() -> argparse.ArgumentParser:
    from export import ArgumentParser

    p = ArgumentParser(prog="python -m android_bench.studies.precision",
                       description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    flags.add_shared(p, out="build/precision", omit=("precisions",))  # always fp32 against int8
    return p


def main(argv=None) -> int:
    from export import ensure_writable_dir, run_main

    def go(args):
        ensure_writable_dir(args.out)
        run(args)
    return run_main(flags.command(go), argv, parser=parser())


if __name__ == "__main__":
    sys.exit(main())
