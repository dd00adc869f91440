"""`python -m android_bench.studies.op_profile`: where the time goes, per op type, at each thread count (a benchmark).

    python -m android_bench.studies.op_profile --threads 1,2 --formats onnx,executorch --precisions fp32,int8

Every artifact (per model, format and precision, made at the longest --seq-len in OUT/artifacts, as
android_bench.studies.efficiency makes them) is timed exactly as `python -m android_bench --device local` times it
(android_bench.harness.run: the jobs of harness.protocol.plan in --rounds rounds, models and lengths alternating,
each job one process of the Python runner, every result appended to OUT/results.jsonl as it arrives, `--resume`
continues), with the runtime's own per-op profiler on (export.runtimes, profile=True): ONNX Runtime's
(SessionOptions.enable_profiling: one event per node) and ExecuTorch's ETDump (per op, inside the XNNPACK delegate
too; the OPERATOR_CALL and DELEGATE_CALL wrappers are not counted again). Per artifact, length and thread count:
the median run time, and per op type its median time and count over the timed runs, with its gain from the fewest
threads to each other count; the top ops by time are printed, all of them saved in OUT/op_profile.json with the
CPU and in the history. TFLite has no per-op profiler on the desktop (ai_edge_litert's Interpreter exposes none;
benchmark_model is not on PyPI), so `--formats tflite` is refused.
"""
from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from export import ArgumentParser, run_main

from android_bench.harness import flags
from android_bench.measurement import timing

log = logging.getLogger("android_bench")
PROFILED = ("onnx", "executorch")
TOP = 8


def run(args) -> dict:
    from android_bench.harness.artifacts import ensure_artifacts
    from android_bench.harness.protocol import plan
    from android_bench.harness.run import failed, inputs_and_flops, run_local

    flags.check_seq_lens(args.models, args.seq_len)
    flags.check_precisions(args.formats, args.precisions)
    # one artifact per model, format and precision at the longest length, profiled at every length
    artifacts = ensure_artifacts(args.out / "artifacts", args.models, args.formats, args.precisions,
                                 weights=args.weights, seq_len=max(args.seq_len))
    inputs, _, weights = inputs_and_flops(args.models, weights=args.weights, seq_lens=args.seq_len,
                                          folder=args.out / "inputs")
    jobs = plan(args.models, args.formats, args.precisions, args.threads, args.rounds, args.seq_len)
    results = run_local(args, jobs, artifacts, inputs=inputs, length_weights=weights, profile=True,
                        on_interrupt=lambda log_: _report(args, log_.records()))
    report = _report(args, results.records())
    failed(report)
    return report


def _report(args, records: list[dict]) -> dict:
    """op_profile.json (and the history, the tables) from the harness's records."""
    from export import write_json_atomic

    from android_bench.measurement.history import save_run
    from android_bench.measurement.machine import describe
    from android_bench.measurement.results import inputs_fed

    report = {"machine": describe(), "seq_len": args.seq_len, "artifact_seq_len": max(args.seq_len),
              "runs": args.runs, "warmup": args.warmup, "rounds": args.rounds, "weights": args.weights,
              "threads": args.threads, "denormals": timing.DENORMALS[args.denormals],
              "protocol": {**timing.record(warmup=args.warmup, runs=args.runs, denormals=args.denormals),
                           "scheduler": "android_bench.harness.run: the jobs of harness.protocol.plan on the local "
                                        "device, each one process of the Python runner (as android_bench --device "
                                        "local), the runtime's per-op profiler on"},
              "inputs": {m: fed[-1] for m, fed in inputs_fed(records).items()}, "results": _rows(records),
              "errors": [{k: r.get(k) for k in ("model", "format", "precision", "threads", "seq_len", "error")}
                         for r in records if "error" in r]}
    report["history"] = str(save_run("op_profile", report, args.out.parent / "history"))
    write_json_atomic(args.out / "op_profile.json", report)
    _print(report)
    return report


def _rows(records: list[dict]) -> list[dict]:
    """One row per model, path and length: the thread counts side by side (`_row`)."""
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for r in records:
        if "timing" in r and "op_profile" in r["timing"]["extra"]:
            key = (r["model"], f"{r['format']}-{r['precision']}", r["seq_len"])
            groups.setdefault(key, {}).setdefault(r["threads"], []).append(r)
    return [_row(model, path, seq_len, {t: _at_threads(rs) for t, rs in sorted(by_threads.items())})
            for (model, path, seq_len), by_threads in groups.items()]


def _at_threads(records: list[dict]) -> dict:
    """{"run_ms": the median timed run over every invocation, "ops": {op: {"ms", "count"}}: the median over the
    invocations of each one's per-op medians (pyrunner's op_profile)}."""
    profiles = [r["timing"]["extra"]["op_profile"] for r in records]
    ops = sorted({op for p in profiles for op in p})
    return {"run_ms": float(np.median([s for r in records for s in r["timing"]["samples_ms"]])),
            "invocations": len(records),
            "ops": {op: {"ms": float(np.median([p.get(op, {"ms": 0.0})["ms"] for p in profiles])),
                         "count": int(np.median([p.get(op, {"count": 0})["count"] for p in profiles]))} for op in ops}}


def _row(model: str, path: str, seq_len: int, by_threads: dict) -> dict:
    """Per op type, its time and count at each thread count and its gain from the fewest threads to each count."""
    base = min(by_threads)
    ops = []
    for op in sorted({op for p in by_threads.values() for op in p["ops"]},
                     key=lambda op: -by_threads[base]["ops"].get(op, {"ms": 0})["ms"]):
        ms = {t: p["ops"].get(op, {"ms": 0.0})["ms"] for t, p in by_threads.items()}
        ops.append({"op": op, "count": by_threads[base]["ops"].get(op, {"count": 0})["count"],
                    "ms": {str(t): v for t, v in ms.items()},
                    "gain": {str(t): ms[base] / v if v else None for t, v in ms.items() if t != base}})
    run_ms = {t: p["run_ms"] for t, p in by_threads.items()}
    return {"model": model, "path": path, "seq_len": seq_len, "run_ms": {str(t): v for t, v in run_ms.items()},
            "gain": {str(t): run_ms[base] / v for t, v in run_ms.items() if t != base},
            "ops_ms": {str(t): sum(o["ms"] for o in p["ops"].values()) for t, p in by_threads.items()},
            "invocations": {str(t): p["invocations"] for t, p in by_threads.items()}, "ops": ops}


def _print(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from android_bench.measurement.machine import header

    console = Console(width=None if sys.stdout.isatty() else 150)
    for r in report["results"]:
        threads = sorted(r["run_ms"], key=int)
        gains = ", ".join(f"{t}t {g:.2f}x" for t, g in r["gain"].items())
        runs = " / ".join(f"{r['run_ms'][t]:.1f}" for t in threads)
        table = Table(title=f"{r['model']} {r['path']}, seq {r['seq_len']}: a run {runs} ms at {'/'.join(threads)} "
                            f"threads{f' (gain {gains})' if gains else ''}; top ops by time\n{header(report['machine'])}")
        for col in ("op", "count", *(f"{t}t ms" for t in threads), *(f"{t}t gain" for t in threads[1:])):
            table.add_column(col)
        for o in r["ops"][:TOP]:
            table.add_row(o["op"], str(o["count"]), *(f"{o['ms'][t]:.2f}" for t in threads),
                          *(f"{o['gain'][t]:.2f}x" if o["gain"][t] else "-" for t in threads[1:]))
        console.print(table)
    console.print(f"saved to the history: {report['history']}")


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m android_bench.studies.op_profile", description=__doc__.split("\n\n")[0])
    flags.add_shared(p, out="build/op_profile", formats=PROFILED,
                     why_not_formats="no per-op profiler on the desktop for it (TFLite: ai_edge_litert has no op profiler)")
    return p


def main(argv=None) -> int:
    return run_main(flags.command(run), argv, parser=parser())


if __name__ == "__main__":
    sys.exit(main())
