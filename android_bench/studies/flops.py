"""`python -m android_bench.studies.flops`: exact MACs/FLOPs of one forward pass, and this machine's fp32 roofline (android_bench.measurement.machine).

    python -m android_bench.studies.flops --models squeezebert-mnli-headless,bert-base-uncased --seq-len 128 \
        --latency-ms squeezebert-mnli-headless=71,bert-base-uncased=163 --json build/flops.json

Counted: the multiply-accumulates of every matrix product, i.e. Linear layers (addmm), 1x1 convolutions
with their groups (a Conv1d with groups=g does in/g x out x length MACs), and attention's QK^T and PV
(bmm or fused SDPA). FLOPs = 2 x MACs. Counted by torch's FlopCounterMode on the real Hugging Face module
(random weights: FLOPs do not depend on values), split per module type, and checked against a formula
from the config. Not counted: bias and residual adds, softmax, layer norm, GELU and embedding lookups.
"""
from __future__ import annotations

import argparse
import sys

from export import ArgumentParser, run_main
from models.errors import UserError

from android_bench.harness import flags
from android_bench.measurement.flops import COUNTED, NOT_COUNTED, flops_by_length
from android_bench.measurement.history import save_run
from android_bench.measurement.machine import describe, header, roofline

def _latencies(text: str | None, names: list[str]) -> dict[str, float]:
    out = {}
    for item in filter(None, (x.strip() for x in (text or "").split(","))):
        name, _, ms = (x.strip() for x in item.partition("="))
        try:
            value = float(ms)
        except ValueError:
            value = 0.0
        if name not in names or value <= 0:
            raise UserError(f"--latency-ms {item!r}: expected MODEL=MS with MODEL one of --models ({', '.join(names)}) "
                            "and MS > 0")
        out[name] = value
    return out


def parser() -> argparse.ArgumentParser:
    from models import TASKS

    p = ArgumentParser(prog="python -m android_bench.studies.flops", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 2)[2])
    flags.add_shared(p, out="build/flops", omit=("formats", "precisions", "weights", "runs", "warmup", "rounds",
                                                 "denormals", "resume"))
    p.add_argument("--batch", type=flags.positive_int, default=1, help="batch size of the counted forward pass")
    p.add_argument("--task", choices=TASKS, default="feature-extraction",
                   help="head: feature-extraction (encoder + pooler) or sequence-classification (+ classifier)")
    p.add_argument("--latency-ms", default=None,
                   help="measured latencies MODEL=MS,... (at one --seq-len and one --threads) to print achieved "
                        "GFLOP/s and the fraction of the roofline scaled to min(threads, cores)")
    return p


def main(args) -> dict:
    names = args.models
    seq_lens = args.seq_len
    flags.check_seq_lens(names, seq_lens)
    latency = _latencies(args.latency_ms, names)
    if latency and (len(seq_lens) > 1 or len(args.threads) > 1):
        raise UserError(f"--latency-ms gives one latency per model, but --seq-len/--threads give {len(seq_lens)} "
                        f"lengths and {len(args.threads)} thread counts; pass one of each with it")
    machine = roofline()
    threads = args.threads[0] if latency else None
    peak = machine["peak_gflops"]
    if peak and threads:
        peak *= min(threads, machine["cores"]) / machine["cores"]
    counted = {n: flops_by_length(n, seq_lens, batch=args.batch, task=args.task) for n in names}
    rows = []
    for length in seq_lens:  # per length, the models side by side
        for name in names:
            row = counted[name][length]
            row["ratio_to_first"] = row["flops"] / counted[names[0]][length]["flops"]
            if name in latency:
                row["latency_ms"] = latency[name]
                row["achieved_gflop_per_s"] = row["flops"] / latency[name] / 1e6
                row["roofline_fraction"] = row["achieved_gflop_per_s"] / peak if peak else None
            rows.append(row)
    report = {"seq_len": seq_lens[0] if len(seq_lens) == 1 else max(seq_lens), "seq_lens": seq_lens,
              "batch": args.batch, "task": args.task, "models": rows,
              "ratios_to_first": [{"seq_len": length, "first": names[0],
                                   **{n: counted[n][length]["flops"] / counted[names[0]][length]["flops"]
                                      for n in names[1:]}} for length in seq_lens],
              "roofline": machine, "roofline_peak_gflops_used": peak, "threads": threads,
              "machine": describe()}
    _print(report)
    from export import ensure_writable_dir, write_json_atomic

    ensure_writable_dir(args.out)
    write_json_atomic(args.out / "flops.json", report)
    print(f"wrote {args.out / 'flops.json'}; saved to the history: {save_run('flops', report, args.out.parent / 'history')}")
    return report


def _print(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    rows, machine = report["models"], report["roofline"]
    table = Table(title=f"one forward pass: seq {','.join(map(str, report['seq_lens']))}, batch {report['batch']}, "
                        f"{report['task']}\n{header(report['machine'])}")
    cols = ["model", "seq", "GMACs", "GFLOPs", "x first", "attn proj", "attn scores", "FFN", "pooler+head"]
    timed = any("latency_ms" in r for r in rows)
    cols += ["ms", "GFLOP/s", "of roofline"] if timed else []
    for col in cols:
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        b = r["breakdown_flops"]
        cells = [r["model"], str(r["seq_len"]), f"{r['gmacs']:.3f}", f"{r['gflops']:.3f}", f"{r['ratio_to_first']:.2f}"]
        cells += [f"{b.get(k, 0) / 1e9:.3f}" for k in ("attention_projections", "attention_scores", "ffn")]
        cells.append(f"{(b.get('pooler', 0) + b.get('classifier', 0) + b.get('other', 0)) / 1e9:.4f}")
        if timed:
            frac = r.get("roofline_fraction")
            cells += ([f"{r['latency_ms']:.1f}", f"{r['achieved_gflop_per_s']:.1f}",
                       f"{100 * frac:.1f}%" if frac is not None else "?"] if "latency_ms" in r else ["", "", ""])
        table.add_row(*cells)
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    console.print(f"counted: {COUNTED}; not counted: {NOT_COUNTED}")
    peak = machine["peak_gflops"]
    console.print(f"roofline of this machine ({machine['cpu']}): "
                  + (f"{peak:.1f} GFLOP/s fp32" if peak else "unknown")
                  + f" = {machine['cores']} cores x {machine['fma_units']} FMA x {machine['simd_fp32_lanes']} lanes"
                  f" x 2 x {machine['frequency_ghz']} GHz"
                  + (f"; {report['roofline_peak_gflops_used']:.1f} GFLOP/s for {report['threads']} thread(s)"
                     if report["threads"] and peak else ""))
    for factor, how in machine["sources"].items():
        console.print(f"  {factor}: {how}")


if __name__ == "__main__":
    sys.exit(run_main(flags.command(main), parser=parser()))
