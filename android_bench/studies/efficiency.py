"""`python -m android_bench.studies.efficiency`: our artifacts against the peer paths, per FLOP (a benchmark, not a test).

For each model (SqueezeBERT and BERT-base by default) at each sequence length (`--seq-len 16,32,64,128`: one
artifact per path made at the longest and timed at every length, real tokens only), batch 1, and each thread count:
our artifacts per format and precision, and the peer paths (android_bench.studies.peers: a plain torch.onnx.export
of the Hugging Face model and its ORT dynamic int8, a plain litert_torch.convert and its dynamic int8 recipe).
Every path is timed exactly as `python -m android_bench --device local` times it (android_bench.harness.run): the
jobs of harness.protocol.plan in --rounds rounds (models alternating, lengths alternating), each job one process of
the Python runner on this machine, each result appended to OUT/results.jsonl as it arrives (`--resume` continues).
From those records (android_bench.measurement.results.summarize), printed and saved in efficiency.json: per path and
length the median latency (p10/p90), FLOPs, achieved GFLOP/s and its fraction of this machine's roofline, load
time, first inference and peak RSS; the BERT/SqueezeBERT latency and FLOP ratio per path and length; our best
SqueezeBERT artifact against the best peer path; with several lengths the latency expected under a length
distribution (android_bench.measurement.lengths) and latency_by_length.png; the change since the last run on
this kind of CPU.
"""
from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from export import ArgumentParser, run_main

from android_bench.harness import flags
from android_bench.measurement import timing
from android_bench.studies.peers import PEERS, ensure_peer

log = logging.getLogger("android_bench")


def run(args) -> dict:
    from android_bench.harness.run import failed, inputs_and_flops, run_local

    flags.check_seq_lens(args.models, args.seq_len)
    flags.check_precisions(args.formats, args.precisions)
    artifacts, lengths = _artifacts(args)
    inputs, flops, weights = inputs_and_flops(args.models, weights=args.weights, seq_lens=args.seq_len,
                                              folder=args.out / "inputs")
    jobs = _plan(args, artifacts, lengths)
    results = run_local(args, jobs, artifacts, inputs=inputs, length_weights=weights,
                        on_interrupt=lambda log_: _report(args, log_.records(), flops, weights, lengths))
    report, summary = _report(args, results.records(), flops, weights, lengths)
    failed(summary)
    return report


def _artifacts(args) -> tuple[dict, dict]:
    """{(model, format, precision, peer): folder} of our paths (peer None) and the peers' (harness.protocol.Job's
    artifact key), and {(format, precision, peer): the lengths it is timed at}."""
    import models

    from android_bench.harness.artifacts import ensure_artifacts

    longest, root = max(args.seq_len), args.out / "artifacts"
    # one artifact at the longest length, timed at every length (never re-exported per length)
    artifacts = ensure_artifacts(root, args.models, args.formats, args.precisions, weights=args.weights,
                                 seq_len=longest)
    lengths = {key[1:]: args.seq_len for key in artifacts}
    for n in args.models:
        loaded = models.load(n, weights=args.weights)
        for peer in PEERS.values():
            folder = ensure_peer(root, peer.name, loaded, weights=args.weights, seq_len=longest)
            if folder is not None:
                artifacts[(n, peer.format, peer.precision, peer.name)] = folder
                lengths[(peer.format, peer.precision, peer.name)] = [longest] if peer.static else args.seq_len
    return artifacts, lengths


def _plan(args, artifacts: dict, lengths: dict) -> list:
    """harness.protocol.plan over every path (ours and the peers'), one round at a time, so each round runs every
    path, thread count and length with the models alternating."""
    from android_bench.harness.protocol import plan

    paths = list(dict.fromkeys(key[1:] for key in artifacts))
    jobs = []
    for r in range(args.rounds):
        for fmt, precision, peer in paths:
            for job in plan(args.models, [fmt], [precision], args.threads, 1, lengths[(fmt, precision, peer)]):
                jobs.append(replace(job, round=r, order=len(jobs), peer=peer))
    return jobs


def _report(args, records: list[dict], flops: dict, weights: dict, lengths: dict) -> tuple[dict, dict]:
    """efficiency.json (and the plot, the history, the tables) from the harness's records."""
    from export import write_json_atomic

    from android_bench.measurement import lengths as by_length
    from android_bench.measurement.machine import describe, roofline
    from android_bench.measurement.results import inputs_fed, summarize

    names, seq_lens = args.models, args.seq_len
    summary, machine = summarize(records, baseline=names[-1], flops=flops), roofline()
    report = {"machine": describe(), "seq_lens": seq_lens, "artifact_seq_len": max(seq_lens), "runs": args.runs,
              "rounds": args.rounds, "weights": args.weights, "roofline": machine,
              # int8 paths can pass 100%: VNNI/dot-product int8 instructions do 4 MACs per 32-bit lane
              "roofline_fraction_of": "fp32 peak of the threads used", "denormals": timing.DENORMALS[args.denormals],
              "protocol": {**timing.record(warmup=args.warmup, runs=args.runs, denormals=args.denormals),
                           "scheduler": "android_bench.harness.run: the jobs of harness.protocol.plan on the local "
                                        "device, each one process of the Python runner (as android_bench --device "
                                        "local)"},
              "inputs": inputs_fed(records), "results": _rows(summary["latency"], machine), "errors": summary["errors"]}
    if args.weights == "random":  # latency does not depend on the values; say so anyway, as every manifest does
        report["warning"] = "random weights (seeded): latency only, outputs are meaningless"
    if any(len(v) < len(seq_lens) for v in lengths.values()):
        static = ", ".join(p.name for p in PEERS.values() if p.static)
        report["static_peers"] = (f"{static}: litert_torch.convert makes a static [1, {max(seq_lens)}] file, timed "
                                  f"at {max(seq_lens)} tokens only")
    report = _with_ratios(report, names, flops)
    found = by_length.at_length_distribution(report["results"], weights, key=("model", "path", "threads"))
    if found:
        report["at_length_distribution"] = found
    if len(seq_lens) > 1:
        report["plot"] = str(by_length.plot_latency_by_length(
            report["results"], args.out / by_length.PLOT, panel=lambda r: f"{r['model']}, {r['threads']} thread(s)",
            line=lambda r: r["path"], title="android_bench.studies.efficiency: median latency against length "
                                            "(one artifact per path, real tokens only)"))
    report = _with_history(report, args.out.parent / "history")
    write_json_atomic(args.out / "efficiency.json", report)
    _print(report, names)
    return report, summary


def _rows(latency: list[dict], machine: dict) -> list[dict]:
    """One efficiency row per model, path, threads and length from measurement.results.summarize's latency rows."""
    from android_bench.harness.protocol import path_name

    rows = []
    for r in latency:
        peak = (machine["peak_gflops"] * min(r["threads"], machine["cores"]) / machine["cores"]
                if machine.get("peak_gflops") else None)
        rows.append({"model": r["model"], "path": path_name(r["format"], r["precision"], r["peer"]),
                     "threads": r["threads"], "seq_len": r["seq_len"], "median_ms": r["median_ms"],
                     "p10_ms": r["p10_ms"], "p90_ms": r["p90_ms"], "flops": r["flops"], "gflop_per_s": r["gflop_per_s"],
                     "roofline_fraction": r["gflop_per_s"] / peak if peak else None,
                     "load_ms": r["load_ms"], "first_inference_ms": r["first_inference_ms"],
                     "peak_rss_mb": r["peak_rss_mb"], "invocations": r["invocations"], "timed_runs": r["n"],
                     "cold_start_seq_len": r["seq_len"]})  # each invocation's own load and first run, at its length
    return rows


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
    p = ArgumentParser(prog="python -m android_bench.studies.efficiency", description=__doc__.split("\n\n")[0])
    flags.add_shared(p, out="build/efficiency")
    return p


def main(argv=None) -> int:
    return run_main(flags.command(run), argv, parser=parser())


if __name__ == "__main__":
    sys.exit(main())
