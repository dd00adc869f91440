"""`python -m android_bench.studies.efficiency`: our artifacts against the peer paths, per FLOP (a benchmark, not a test).

For each model (SqueezeBERT and BERT-base by default) at each sequence length (`--seq-len 16,32,64,128`: one
artifact per path made at the longest and timed at every length, real tokens only), batch 1, and each thread count:
our artifacts per format and precision, and two peer paths, timed in the desktop runtimes in one run:
- `peer-onnx`: a plain `torch.onnx.export` of the Hugging Face model run by ONNX Runtime (what an
  Optimum-style export gives: no graph rewrite, no quantization);
- `peer-litert-torch`: a plain `litert_torch.convert` of the Hugging Face model, when litert-torch is installed.
Every path of a (threads) group runs in a process of its own (android_bench.measurement.isolated, as `android_bench --device
local` runs each artifact) and all are timed in alternating turns (android_bench.measurement.timing) so drift hits all of them.
Printed and saved (efficiency.json, after every group): per path and length the median latency, FLOPs, achieved
GFLOP/s and its fraction of this machine's roofline, load time, first inference and peak RSS; the BERT/SqueezeBERT
latency and FLOP ratio per path and length; our best SqueezeBERT artifact against the best peer path; with several
lengths the latency expected under a length distribution (android_bench.measurement.lengths) and latency_by_length.png.
"""
from __future__ import annotations

import argparse
import logging
import sys
from functools import partial
from pathlib import Path

import numpy as np

from export import ArgumentParser, run_main

from android_bench.harness import flags
from android_bench.measurement import timing

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
    """A peer path's runtime (in its timing process: android_bench.measurement.isolated)."""
    from export.runtimes import open_runtime

    if path.suffix == ".tflite":
        return _LitertTorchPeer(path, input_names, threads)
    return open_runtime(path, input_names=input_names, output_names=output_names, threads=threads)


def _time_isolated(openers: dict, feeds: dict, lengths: dict, *, runs: int, warmup: int, denormals: str) -> dict:
    """{(key, length): {"samples_ms", "load_ms", "first_inference_ms", "peak_rss_mb"}}: every path in its own
    process (android_bench.measurement.isolated), opened one at a time so each load is timed alone, then timed in turns.

    One worker per path holds every length (`feeds[model]`: {length: feed}); the round robin runs over (path,
    length, model), so the two models alternate at each path and length and drift hits every length alike.
    `lengths[key]`: the lengths that path is timed at."""
    from android_bench.measurement.isolated import Isolated

    workers = {}
    try:
        for key, open_runtime in openers.items():
            workers[key] = Isolated(" ".join(key), open_runtime, {n: feeds[key[0]][n] for n in lengths[key]},
                                    denormals=denormals)
        path_order = list(dict.fromkeys(path for _, path in openers))
        model_order = list(dict.fromkeys(model for model, _ in openers))
        all_lengths = list(dict.fromkeys(n for key in openers for n in lengths[key]))
        order = [((model, path), n) for path in path_order for n in all_lengths for model in model_order
                 if (model, path) in workers and n in lengths[(model, path)]]
        times = timing.time_turns({(key, n): workers[key].at(n) for key, n in order}, runs=runs, warmup=warmup)
        memory = {key: worker.stop() for key, worker in workers.items()}
        return {(key, n): {"samples_ms": times[(key, n)], **workers[key].cold_start, **memory[key],
                           "cold_start_seq_len": max(lengths[key])} for key, n in order}
    finally:
        for worker in workers.values():
            worker.kill()


def run(args) -> dict:
    import models
    from export import write_json_atomic

    from android_bench.measurement import lengths as by_length
    from android_bench.harness.artifacts import conversion_order, ensure_artifact
    from android_bench.measurement.results import COLD_START
    from android_bench.measurement.timing import DENORMALS
    from android_bench.measurement.flops import flops_by_length
    from android_bench.measurement.machine import roofline
    from android_bench.measurement.machine import describe

    names, seq_lens = args.models, args.seq_len
    longest = max(seq_lens)
    flags.check_seq_lens(names, seq_lens)
    flags.check_precisions(args.formats, args.precisions)
    machine = roofline()
    report = {"machine": describe(), "seq_lens": seq_lens, "artifact_seq_len": longest, "runs": args.runs,
              "weights": args.weights, "roofline": machine, "results": [],
              # int8 paths can pass 100%: VNNI/dot-product int8 instructions do 4 MACs per 32-bit lane
              "roofline_fraction_of": "fp32 peak of the threads used",
              "denormals": DENORMALS[args.denormals]}
    if args.weights == "random":  # latency does not depend on the values; say so anyway, as every manifest does
        report["warning"] = "random weights (seeded): latency only, outputs are meaningless"
    loaded = {n: models.load(n, weights=args.weights) for n in names}
    for n in names:
        for length in seq_lens:
            loaded[n].check_seq_len(length)
    flops = {n: {length: c["flops"] for length, c in flops_by_length(n, seq_lens).items()} for n in names}
    paths = {}  # (model, path name) -> model file or artifact folder
    timed_at = {}  # (model, path name) -> the lengths it is timed at
    for n in names:
        for fmt in args.formats:
            for precision in conversion_order(args.precisions):
                # one artifact at the longest length, timed at every length (never re-exported per length)
                paths[(n, f"{fmt}-{precision}")] = ensure_artifact(args.out / "artifacts", n, fmt, precision,
                                                                    weights=args.weights, seq_len=longest)
                timed_at[(n, f"{fmt}-{precision}")] = seq_lens
        for peer in PEERS:
            file = _peer_artifact(peer, loaded[n], args.out / "peers" / n / peer, longest)
            if file is not None:
                paths[(n, peer)] = file
                # litert_torch.convert traces static shapes: its file takes the longest length only
                timed_at[(n, peer)] = [longest] if peer == "peer-litert-torch" else seq_lens
    if any(len(v) < len(seq_lens) for v in timed_at.values()):
        report["static_peers"] = ("peer-litert-torch: litert_torch.convert makes a static [1, "
                                  f"{longest}] file, timed at {longest} tokens only")
    from export.runtimes import load_artifact

    inputs = {n: {length: timing.benchmark_inputs(loaded[n].tokenizer, length) for length in seq_lens} for n in names}
    report["protocol"] = timing.record(warmup=args.warmup, runs=args.runs, denormals=args.denormals)
    report["inputs"] = {n: [timing.describe_inputs(feed) for feed in feeds.values()] for n, feeds in inputs.items()}
    weights = by_length.distribution(loaded[names[0]].tokenizer)
    for threads in args.threads:
        openers = {(n, path_name): partial(load_artifact, where, threads=threads) if where.is_dir()
                   else partial(_open_peer, where, loaded[n].input_names, loaded[n].output_names, threads)
                   for (n, path_name), where in paths.items()}
        # one round robin of turns over every path and length; inputs differ only by model and length
        measured = _time_isolated(openers, inputs, timed_at, runs=args.runs, warmup=args.warmup,
                                  denormals=args.denormals)
        peak = machine["peak_gflops"] * min(threads, machine["cores"]) / machine["cores"] if machine.get("peak_gflops") else None
        for ((n, path_name), length), m in measured.items():
            samples = m["samples_ms"]
            median = float(np.median(samples))
            gflops = flops[n][length] / median / 1e6
            report["results"].append({"model": n, "path": path_name, "threads": threads, "seq_len": length,
                                      "median_ms": median,
                                      "p10_ms": float(np.percentile(samples, 10)),
                                      "p90_ms": float(np.percentile(samples, 90)),
                                      "flops": flops[n][length], "gflop_per_s": gflops,
                                      "roofline_fraction": gflops / peak if peak else None,
                                      **{k: m[k] for k in COLD_START}, "cold_start_seq_len": m["cold_start_seq_len"]})
        report = _with_ratios(report, names, flops)
        report = _with_distribution(report, weights)
        write_json_atomic(args.out / "efficiency.json", report)  # saved after every thread count
        if len(seq_lens) > 1:
            report["plot"] = str(by_length.plot_latency_by_length(
                report["results"], args.out / by_length.PLOT, panel=lambda r: f"{r['model']}, {r['threads']} thread(s)",
                line=lambda r: r["path"], title="android_bench.studies.efficiency: median latency against length "
                                                "(one artifact per path, real tokens only)"))
            write_json_atomic(args.out / "efficiency.json", report)
    report = _with_history(report, args.out.parent / "history")
    write_json_atomic(args.out / "efficiency.json", report)
    _print(report, names)
    return report


def _with_history(report: dict, history: Path) -> dict:
    """Save this run to the history (android_bench.measurement.machine) and compare each median with the last run on the
    same kind of CPU: {"this_run", "previous_run", "changes": [{model, path, threads, seq_len, previous_ms,
    median_ms, ratio}]}."""
    from android_bench.measurement.history import previous_run, save_run

    saved = save_run("efficiency", report, history)
    previous = previous_run("efficiency", report["machine"], history, before=saved)
    entry = {"this_run": str(saved), "previous_run": previous and previous["path"], "changes": []}
    if previous:
        key = lambda r: (r["model"], r["path"], r["threads"], r["seq_len"])  # noqa: E731
        before = {key(r): r["median_ms"] for r in previous["report"].get("results", [])}
        entry["changes"] = [{"model": r["model"], "path": r["path"], "threads": r["threads"], "seq_len": r["seq_len"],
                             "previous_ms": before[key(r)], "median_ms": r["median_ms"],
                             "ratio": r["median_ms"] / before[key(r)]} for r in report["results"] if key(r) in before]
    return {**report, "history": entry}


def _with_distribution(report: dict, weights: dict[int, float]) -> dict:
    """The latency expected under lengths.DISTRIBUTION per model, path and threads (from two or more measured
    lengths), and the BERT/SqueezeBERT ratio of those."""
    from android_bench.measurement import lengths as by_length

    series: dict[tuple, dict[int, float]] = {}
    for r in report["results"]:
        series.setdefault((r["model"], r["path"], r["threads"]), {})[r["seq_len"]] = r["median_ms"]
    rows = [{"model": m, "path": p, "threads": t, "expected_ms": by_length.expected_latency(medians, weights),
             "measured_lengths": sorted(medians)} for (m, p, t), medians in series.items() if len(medians) > 1]
    if not rows:
        return report
    measured = sorted({n for r in rows for n in r["measured_lengths"]})
    return {**report, "at_length_distribution": {**by_length.summary(weights, measured), "results": rows}}


def _with_ratios(report: dict, names: list[str], flops: dict) -> dict:
    """BERT/SqueezeBERT per path, threads and length (latency and FLOPs), and per format with each model at its
    fastest precision; our best SqueezeBERT vs the best peer path, per threads at the longest length (where
    every peer path ran)."""
    if len(names) < 2:
        return report
    subject, baseline = names[0], names[1]
    rows = {(r["model"], r["path"], r["threads"], r["seq_len"]): r for r in report["results"]}
    ratios = [{"path": p, "threads": t, "seq_len": n, "ratio": rows[(baseline, p, t, n)]["median_ms"] / r["median_ms"],
               "flop_ratio": flops[baseline][n] / flops[subject][n]}
              for (m, p, t, n), r in rows.items() if m == subject and (baseline, p, t, n) in rows]
    longest = report["artifact_seq_len"]
    best = _fastest_by(rows, lambda m, p, t, n: ("peer" if p in PEERS else "ours", t)
                       if m == subject and n == longest else None)
    versus = {t: {"seq_len": longest, "ours": best[("ours", t)], "peer": best[("peer", t)],
                  "ours_over_peer": best[("ours", t)]["median_ms"] / best[("peer", t)]["median_ms"]}
              for kind, t in best if kind == "ours" and ("peer", t) in best}
    # (model, format, threads, length) -> that format's fastest precision of ours
    fastest = _fastest_by(rows, lambda m, p, t, n: None if p in PEERS else (m, p.rsplit("-", 1)[0], t, n))
    at_best = [{"format": f, "threads": t, "seq_len": n, "subject": s, "baseline": fastest[(baseline, f, t, n)],
                "ratio": fastest[(baseline, f, t, n)]["median_ms"] / s["median_ms"],
                "flop_ratio": flops[baseline][n] / flops[subject][n]}
               for (m, f, t, n), s in fastest.items() if m == subject and (baseline, f, t, n) in fastest]
    return {**report, "ratios": ratios, "ratios_at_best_precision": at_best, "best_ours_vs_best_peer": versus}


def _fastest_by(rows: dict, group) -> dict:
    """The fastest row of each group: `group(model, path, threads, length)` names a row's group, or None to skip."""
    fastest = {}
    for (m, p, t, n), r in rows.items():
        key = group(m, p, t, n)
        if key is not None and (key not in fastest or r["median_ms"] < fastest[key]["median_ms"]):
            fastest[key] = {"path": p, "median_ms": r["median_ms"]}
    return fastest


def _print(report: dict, names: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from android_bench.measurement import lengths as by_length
    from android_bench.measurement.machine import header

    console = Console(width=None if sys.stdout.isatty() else 150)
    table = Table(title=f"batch 1, real tokens only, lengths {','.join(map(str, report['seq_lens']))} (one artifact "
                        f"per path, made at {report['artifact_seq_len']}): median latency and efficiency\n"
                        f"{header(report['machine'])}")
    for col in ("model", "path", "threads", "seq", "median ms", "p10-p90", "GFLOPs", "GFLOP/s", "of fp32 peak",
                "load ms", "1st run ms", "peak RSS MB"):
        table.add_column(col)
    for r in sorted(report["results"], key=lambda r: (r["threads"], r["path"], r["seq_len"], r["model"])):
        frac = f"{100 * r['roofline_fraction']:.1f}%" if r["roofline_fraction"] is not None else "?"
        table.add_row(r["model"], r["path"], str(r["threads"]), str(r["seq_len"]), f"{r['median_ms']:.1f}",
                      f"{r['p10_ms']:.1f}-{r['p90_ms']:.1f}", f"{r['flops'] / 1e9:.2f}", f"{r['gflop_per_s']:.1f}", frac,
                      f"{r['load_ms']:.0f}", f"{r['first_inference_ms']:.1f}", f"{r['peak_rss_mb']:.0f}")
    console.print(table)
    for r in sorted(report.get("ratios", []), key=lambda r: (r["threads"], r["path"], r["seq_len"])):
        console.print(f"{names[1]} / {names[0]}  {r['path']:<22} {r['threads']}t seq {r['seq_len']:<4} "
                      f"{r['ratio']:.2f}x (FLOP ratio {r['flop_ratio']:.2f}x)")
    for r in sorted(report.get("ratios_at_best_precision", []), key=lambda r: (r["threads"], r["format"], r["seq_len"])):
        b, s = r["baseline"], r["subject"]
        console.print(f"{names[1]} / {names[0]}  {r['format']:<22} {r['threads']}t seq {r['seq_len']:<4} "
                      f"{r['ratio']:.2f}x at the fastest precisions ({b['path'].rsplit('-', 1)[1]} {b['median_ms']:.1f} / "
                      f"{s['path'].rsplit('-', 1)[1]} {s['median_ms']:.1f} ms)")
    for t, v in report.get("best_ours_vs_best_peer", {}).items():
        console.print(f"{t}t seq {v['seq_len']}: ours {v['ours']['path']} {v['ours']['median_ms']:.1f} ms vs peer "
                      f"{v['peer']['path']} {v['peer']['median_ms']:.1f} ms = {v['ours_over_peer']:.2f}x")
    if "static_peers" in report:
        console.print(report["static_peers"])
    by_length.print_distribution(console, report.get("at_length_distribution"), names,
                        key=lambda r: (r["path"], r["threads"]), label=lambda r: f"{r['path']} {r['threads']}t")
    if "plot" in report:
        console.print(f"wrote {report['plot']}")
    history = report.get("history", {})
    if history.get("previous_run"):
        console.print(f"against the last run on this kind of CPU ({history['previous_run']}):")
        for c in sorted(history["changes"], key=lambda c: (c["threads"], c["path"], c["seq_len"], c["model"])):
            console.print(f"  {c['model']:<26} {c['path']:<18} {c['threads']}t seq {c['seq_len']:<4} "
                          f"{c['previous_ms']:.1f} -> {c['median_ms']:.1f} ms ({c['ratio']:.2f}x)")
    if history:
        console.print(f"saved to the history: {history['this_run']}")


def parser() -> argparse.ArgumentParser:
    from export import available_formats

    from android_bench.measurement.timing import DENORMALS

    p = ArgumentParser(prog="python -m android_bench.studies.efficiency", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=flags.model_names, default="squeezebert-mnli-headless,bert-base-uncased",
                   help="the subject first, the baseline second")
    p.add_argument("--formats", type=flags.names(available_formats(), what="format"), default="onnx,tflite,executorch",
                   help=f"our artifact formats, comma-separated ({', '.join(available_formats())})")
    p.add_argument("--precisions", type=flags.names(flags.all_precisions(), what="precision"), default="fp32,int8",
                   help=f"our precisions, comma-separated ({', '.join(flags.all_precisions())})")
    p.add_argument("--threads", type=flags.positive_ints("thread counts"), default="1,2",
                   help="comma-separated thread counts")
    p.add_argument("--seq-len", type=flags.seq_lens, default="128",
                   help="comma-separated sequence lengths, e.g. 16,32,64,128: one artifact per path made at the "
                        "longest, timed at every length with that many real tokens (no padding), lengths interleaved")
    p.add_argument("--runs", type=flags.positive_int, default=timing.RUNS, help="timed runs per path (interleaved)")
    p.add_argument("--warmup", type=flags.non_negative_int, default=timing.WARMUP, help="untimed runs per path first")
    p.add_argument("--denormals", choices=list(DENORMALS), default="flush", help="see android_bench.measurement.timing.denormals")
    p.add_argument("--weights", default="random", help="hub, a checkpoint folder, or random (recorded)")
    p.add_argument("--out", type=Path, default=Path("build/efficiency"), help="artifacts and efficiency.json")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")
    return p


def main(argv=None) -> int:
    return run_main(flags.one_writer(run), argv, parser=parser())


if __name__ == "__main__":
    sys.exit(main())
