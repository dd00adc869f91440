"""`python -m android_bench.efficiency`: our artifacts against the peer paths, per FLOP (a benchmark, not a test).

For each model (SqueezeBERT and BERT-base by default) at one sequence length, batch 1, and each thread count:
our artifacts per format and precision, and two peer paths, timed in the desktop runtimes in one run:
- `peer-onnx`: a plain `torch.onnx.export` of the Hugging Face model run by ONNX Runtime (what an
  Optimum-style export gives: no graph rewrite, no quantization);
- `peer-litert-torch`: a plain `litert_torch.convert` of the Hugging Face model, when litert-torch is installed.
Every path of a (threads) group runs in a process of its own (android_bench.isolated, as `android_bench --device
local` runs each artifact) and all are timed in alternating turns (android_bench.timing) so drift hits all of them.
Printed and saved (JSON, after every group): median latency, load time, first inference and peak RSS per path, the
BERT/SqueezeBERT ratio per path, achieved GFLOP/s and its fraction of this machine's roofline, and our best
SqueezeBERT artifact against the best peer path.
"""
from __future__ import annotations

import argparse
import logging
import sys
from functools import partial
from pathlib import Path

import numpy as np

from export import ArgumentParser, run_main

from . import flags, timing

log = logging.getLogger("android_bench")
PEERS = ("peer-onnx", "peer-litert-torch")


def _peer_artifact(path_name: str, loaded, folder: Path, seq_len: int) -> Path | None:
    """The peer path's model file, converted once and reused; None when its converter is not installed."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    example = loaded.inputs(seq_len=seq_len, batch=1)
    args = tuple(torch.from_numpy(example[n]) for n in loaded.input_names)
    module = loaded.module.eval()
    if path_name == "peer-onnx":
        out = folder / "model.onnx"
        if not out.is_file():
            torch.onnx.export(module, args, str(out), input_names=loaded.input_names,
                              output_names=loaded.output_names, opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "sequence"} for n in loaded.input_names})
        return out
    try:
        import litert_torch
    except ImportError:
        return None
    out = folder / "model.tflite"
    if not out.is_file():
        litert_torch.convert(module, args).export(str(out))
    return out


class _LitertTorchPeer:
    """litert-torch names its inputs args_0, args_1, ... and makes them int32: feed by position."""

    def __init__(self, path: Path, input_names: list[str], threads: int):
        from ai_edge_litert.interpreter import Interpreter

        self.runner = Interpreter(model_path=str(path), num_threads=threads).get_signature_runner()
        self.input_names = input_names

    def run(self, inputs):
        return self.runner(**{f"args_{i}": inputs[n].astype(np.int32) for i, n in enumerate(self.input_names)})


def _open_peer(path: Path, input_names: list[str], output_names: list[str], threads: int):
    """A peer path's runtime (in its timing process: android_bench.isolated)."""
    from export.runtimes import open_runtime

    if path.suffix == ".tflite":
        return _LitertTorchPeer(path, input_names, threads)
    return open_runtime(path, input_names=input_names, output_names=output_names, threads=threads)


def _time_isolated(openers: dict, feeds: dict, *, runs: int, warmup: int, denormals: str) -> dict:
    """{key: {"samples_ms", "load_ms", "first_inference_ms", "peak_rss_mb"}}: every path in its own process
    (android_bench.isolated), opened one at a time so each load is timed alone, then timed in turns."""
    from .isolated import Isolated

    timers = {}
    try:
        for key, open_runtime in openers.items():
            timers[key] = Isolated(" ".join(key), open_runtime, feeds[key], denormals=denormals)
        times = timing.time_turns(timers, runs=runs, warmup=warmup)
        return {key: {"samples_ms": times[key], **timer.cold_start, **timer.stop()} for key, timer in timers.items()}
    finally:
        for timer in timers.values():
            timer.kill()


def run(args) -> dict:
    import models
    from export import write_json_atomic

    from .artifacts import conversion_order, ensure_artifact
    from .results import COLD_START
    from .timing import DENORMALS
    from .flops import count_flops, roofline

    machine = roofline()
    report = {"seq_len": args.seq_len, "runs": args.runs, "weights": args.weights, "roofline": machine, "results": [],
              # int8 paths can pass 100%: VNNI/dot-product int8 instructions do 4 MACs per 32-bit lane
              "roofline_fraction_of": "fp32 peak of the threads used",
              "denormals": DENORMALS[args.denormals]}
    if args.weights == "random":  # latency does not depend on the values; say so anyway, as every manifest does
        report["warning"] = "random weights (seeded): latency only, outputs are meaningless"
    names = args.models
    flags.check_precisions(args.formats, args.precisions)
    loaded = {n: models.load(n, weights=args.weights) for n in names}
    flops = {n: count_flops(n, seq_len=args.seq_len)["flops"] for n in names}
    paths = {}  # (model, path name) -> model file or artifact folder
    for n in names:
        for fmt in args.formats:
            for precision in conversion_order(args.precisions):
                paths[(n, f"{fmt}-{precision}")] = ensure_artifact(args.out / "artifacts", n, fmt, precision,
                                                                    weights=args.weights, seq_len=args.seq_len)
        for peer in PEERS:
            file = _peer_artifact(peer, loaded[n], args.out / "peers" / n / peer, args.seq_len)
            if file is not None:
                paths[(n, peer)] = file
    from export.runtimes import load_artifact

    inputs = {n: timing.benchmark_inputs(loaded[n].tokenizer, args.seq_len) for n in names}
    report["protocol"] = timing.record(warmup=args.warmup, runs=args.runs, denormals=args.denormals)
    report["inputs"] = {n: timing.describe_inputs(feed) for n, feed in inputs.items()}
    for threads in args.threads:
        openers = {(n, path_name): partial(load_artifact, where, threads=threads) if where.is_dir()
                   else partial(_open_peer, where, loaded[n].input_names, loaded[n].output_names, threads)
                   for (n, path_name), where in paths.items()}
        # one round robin of turns over every path; inputs differ only by model
        measured = _time_isolated(openers, {key: inputs[key[0]] for key in openers}, runs=args.runs,
                                  warmup=args.warmup, denormals=args.denormals)
        peak = machine["peak_gflops"] * min(threads, machine["cores"]) / machine["cores"] if machine.get("peak_gflops") else None
        for (n, path_name), m in measured.items():
            samples = m["samples_ms"]
            median = float(np.median(samples))
            gflops = flops[n] / median / 1e6
            report["results"].append({"model": n, "path": path_name, "threads": threads, "median_ms": median,
                                      "p10_ms": float(np.percentile(samples, 10)),
                                      "p90_ms": float(np.percentile(samples, 90)),
                                      "gflop_per_s": gflops, "roofline_fraction": gflops / peak if peak else None,
                                      **{k: m[k] for k in COLD_START}})
        report = _with_ratios(report, names)
        write_json_atomic(args.out / "efficiency.json", report)  # saved after every thread count
    _print(report, names)
    return report


def _with_ratios(report: dict, names: list[str]) -> dict:
    """BERT/SqueezeBERT per path and threads, and per format with each model at its fastest precision; our
    best SqueezeBERT vs the best peer path."""
    if len(names) < 2:
        return report
    subject, baseline = names[0], names[1]
    rows = {(r["model"], r["path"], r["threads"]): r for r in report["results"]}
    ratios = [{"path": p, "threads": t, "ratio": rows[(baseline, p, t)]["median_ms"] / r["median_ms"]}
              for (m, p, t), r in rows.items() if m == subject and (baseline, p, t) in rows]
    best = _fastest_by(rows, lambda m, p, t: ("peer" if p in PEERS else "ours", t) if m == subject else None)
    versus = {t: {"ours": best[("ours", t)], "peer": best[("peer", t)],
                  "ours_over_peer": best[("ours", t)]["median_ms"] / best[("peer", t)]["median_ms"]}
              for kind, t in best if kind == "ours" and ("peer", t) in best}
    # (model, format, threads) -> that format's fastest precision of ours
    fastest = _fastest_by(rows, lambda m, p, t: None if p in PEERS else (m, p.rsplit("-", 1)[0], t))
    at_best = [{"format": f, "threads": t, "subject": s, "baseline": fastest[(baseline, f, t)],
                "ratio": fastest[(baseline, f, t)]["median_ms"] / s["median_ms"]}
               for (m, f, t), s in fastest.items() if m == subject and (baseline, f, t) in fastest]
    return {**report, "ratios": ratios, "ratios_at_best_precision": at_best, "best_ours_vs_best_peer": versus}


def _fastest_by(rows: dict, group) -> dict:
    """The fastest row of each group: `group(model, path, threads)` names a row's group, or None to skip it."""
    fastest = {}
    for (m, p, t), r in rows.items():
        key = group(m, p, t)
        if key is not None and (key not in fastest or r["median_ms"] < fastest[key]["median_ms"]):
            fastest[key] = {"path": p, "median_ms": r["median_ms"]}
    return fastest


def _print(report: dict, names: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"seq {report['seq_len']}, batch 1: median latency and efficiency")
    for col in ("model", "path", "threads", "median ms", "p10-p90", "GFLOP/s", "of fp32 peak", "load ms",
                "1st run ms", "peak RSS MB"):
        table.add_column(col)
    for r in report["results"]:
        frac = f"{100 * r['roofline_fraction']:.1f}%" if r["roofline_fraction"] is not None else "?"
        table.add_row(r["model"], r["path"], str(r["threads"]), f"{r['median_ms']:.1f}",
                      f"{r['p10_ms']:.1f}-{r['p90_ms']:.1f}", f"{r['gflop_per_s']:.1f}", frac, f"{r['load_ms']:.0f}",
                      f"{r['first_inference_ms']:.1f}", f"{r['peak_rss_mb']:.0f}")
    console = Console(width=None if sys.stdout.isatty() else 140)
    console.print(table)
    for r in report.get("ratios", []):
        console.print(f"{names[1]} / {names[0]}  {r['path']:<22} {r['threads']}t  {r['ratio']:.2f}x")
    for r in report.get("ratios_at_best_precision", []):
        b, s = r["baseline"], r["subject"]
        console.print(f"{names[1]} / {names[0]}  {r['format']:<22} {r['threads']}t  {r['ratio']:.2f}x at the fastest "
                      f"precisions ({b['path'].rsplit('-', 1)[1]} {b['median_ms']:.1f} / "
                      f"{s['path'].rsplit('-', 1)[1]} {s['median_ms']:.1f} ms)")
    for t, v in report.get("best_ours_vs_best_peer", {}).items():
        console.print(f"{t}t: ours {v['ours']['path']} {v['ours']['median_ms']:.1f} ms vs peer {v['peer']['path']} "
                      f"{v['peer']['median_ms']:.1f} ms = {v['ours_over_peer']:.2f}x")


def parser() -> argparse.ArgumentParser:
    from export import available_formats

    from .timing import DENORMALS

    p = ArgumentParser(prog="python -m android_bench.efficiency", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=flags.model_names, default="squeezebert-mnli-headless,bert-base-uncased",
                   help="the subject first, the baseline second")
    p.add_argument("--formats", type=flags.names(available_formats(), what="format"), default="onnx,tflite,executorch",
                   help=f"our artifact formats, comma-separated ({', '.join(available_formats())})")
    p.add_argument("--precisions", type=flags.names(flags.all_precisions(), what="precision"), default="fp32,int8",
                   help=f"our precisions, comma-separated ({', '.join(flags.all_precisions())})")
    p.add_argument("--threads", type=flags.positive_ints("thread counts"), default="1,2",
                   help="comma-separated thread counts")
    p.add_argument("--seq-len", type=int, default=128, help="sequence length")
    p.add_argument("--runs", type=flags.positive_int, default=timing.RUNS, help="timed runs per path (interleaved)")
    p.add_argument("--warmup", type=flags.non_negative_int, default=timing.WARMUP, help="untimed runs per path first")
    p.add_argument("--denormals", choices=list(DENORMALS), default="flush", help="see android_bench.timing.denormals")
    p.add_argument("--weights", default="random", help="hub, a checkpoint folder, or random (recorded)")
    p.add_argument("--out", type=Path, default=Path("build/efficiency"), help="artifacts and efficiency.json")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")
    return p


def main(argv=None) -> int:
    return run_main(run, argv, parser=parser())


if __name__ == "__main__":
    sys.exit(main())
