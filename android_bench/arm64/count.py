"""`python -m android_bench.arm64 count`: ARM64 instructions per inference of each artifact on the arm64 device
(android_bench.arm64.counter says how they are counted), per model, format, precision, length and CPU profile.

Writes OUT/counts.json as each count arrives (`rows`: model, format, precision, seq_len, profile,
instructions_per_inference, the two counts and their commands) and at the end `ratios` (baseline/model per
profile, format, precision and length, beside the FLOP ratio and the paper's 4.3x) and `int8_vs_fp32`; prints
the table and saves the run to the history beside OUT. Artifacts are made as the benchmarks make them (one per
model, format and precision at the longest length, under OUT/artifacts) and fed real tokens at each length.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from android_bench.measurement.results import CLAIM
from android_bench.arm64.counter import FORMATS, label

log = logging.getLogger("android_bench")
PRECISIONS = ("fp32", "int8")


def add_arguments(p) -> None:
    from android_bench.devices.arm64.profiles import DEFAULT_PROFILE, PROFILES
    from android_bench.harness.flags import add_shared, names, positive_int

    # at 1 thread, one inference counted: no timing flags
    add_shared(p, out="build/arm64-counts", formats=FORMATS, precisions=PRECISIONS,
               omit=("threads", "runs", "warmup", "rounds", "denormals", "resume", "verbose"))
    p.add_argument("--profile", type=names(PROFILES, what="CPU profiles"), default=DEFAULT_PROFILE,
                   help="comma-separated CPU profiles of the arm64 device")
    p.add_argument("--baseline", default="bert-base-uncased", help="the model every other is compared against")
    p.add_argument("--jobs", type=positive_int, default=len(os.sched_getaffinity(0)),
                   help="counts run at once (each one qemu process at 1 thread; the count does not depend on it)")


def run(args) -> dict:
    import export
    from android_bench.harness.flags import check_seq_lens, command
    from android_bench.arm64 import counter
    from android_bench.devices.arm64 import rootfs

    check_seq_lens(args.models, args.seq_len)
    problem = rootfs.built()
    if problem:
        raise counter.host.HostError(f"arm64 device not built ({problem}): run `python -m android_bench.arm64 setup`")
    counter.qemu(), counter.plugin()  # missing pieces fail before any export
    export.ensure_writable_dir(args.out)
    report = command(_count_all)(args)
    _print(report)
    return report


def _count_all(args) -> dict:
    """Every count, `--jobs` at a time (each a qemu process: a count is exact however busy the host is, so
    parallel counts only cut the wall time), saved to counts.json as each arrives and kept in plan order."""
    import threading
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from export import write_json_atomic
    from android_bench.devices.arm64.profiles import get_profile
    from android_bench.measurement.history import save_run
    from android_bench.measurement.machine import describe

    inputs, tools = _inputs(args), _tools() if "executorch" in args.formats else None
    report = {"label": "ARM64 instructions (emulated), not time", "machine": describe(), "jobs": args.jobs, "rows": []}
    plan = [(model, fmt, precision, seq_len, get_profile(name)) for name in args.profile for fmt in args.formats
            for precision in args.precisions for seq_len in args.seq_len for model in args.models]
    artifacts = {(m, f, p): _artifact(args, m, f, p) for m, f, p, _, _ in plan}  # made first, one at a time
    saving = threading.Lock()
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        pending = {pool.submit(_count_one, artifacts[m, f, p], m, f, p, n, profile, inputs[m][n], tools): i
                   for i, (m, f, p, n, profile) in enumerate(plan)}
        for done in as_completed(pending):
            row = {**done.result(), "order": pending[done]}
            with saving:
                report["rows"] = sorted([*report["rows"], row], key=lambda r: r["order"])
                write_json_atomic(args.out / "counts.json", report)  # saved as it arrives
            log.info("%s %s %s seq %d %s: %.4g instructions per inference (%.0f s)", row["model"], row["format"],
                     row["precision"], row["seq_len"], row["profile"], row["instructions_per_inference"],
                     row["seconds"])
    report.update(ratios=ratios(report["rows"], args.baseline, _flops(args)), int8_vs_fp32=int8_vs_fp32(report["rows"]))
    write_json_atomic(args.out / "counts.json", report)
    report["history"] = str(save_run("arm64-count", report, args.out.parent / "history"))
    return report


def _artifact(args, model, fmt, precision) -> Path:
    from android_bench.harness.artifacts import ensure_artifact

    return ensure_artifact(args.out / "artifacts", model, fmt, precision, weights=args.weights,
                           seq_len=max(args.seq_len))


def _count_one(artifact: Path, model, fmt, precision, seq_len, profile, inputs: Path, tools) -> dict:
    from export.runtimes import read_verified
    from android_bench.arm64 import counter

    manifest = read_verified(artifact)
    make = counter.guest_maker(fmt, artifact, manifest, inputs=inputs, seq_len=seq_len, tools=tools)
    counted = counter.per_inference(make, profile)
    return {"model": model, "format": fmt, "precision": precision, "seq_len": seq_len, "profile": profile.name,
            "qemu_cpu": profile.qemu_cpu, "artifact_sha256": manifest["file"]["sha256"], **counted}


def _inputs(args) -> dict:
    """{model: {length: .npz}} of the benchmark inputs (real tokens, android_bench.measurement.timing) under OUT/inputs."""
    import numpy as np

    import models
    from android_bench.harness.artifacts import cache_name
    from android_bench.measurement import timing

    made = {}
    for model in args.models:
        loaded = models.load(model, weights=args.weights)
        folder = args.out / "inputs" / cache_name(model)
        folder.mkdir(parents=True, exist_ok=True)
        made[model] = {}
        for n in args.seq_len:
            np.savez(folder / f"{n}.npz", **timing.benchmark_inputs(loaded.tokenizer, n))
            made[model][n] = folder / f"{n}.npz"
    return made


def _tools() -> Path:
    """et_bench_runner cross-built for arm64-v8a (android_bench.runners.native.build), cached beside the root."""
    from android_bench.runners.native import build
    from android_bench.devices.arm64 import rootfs

    tools = rootfs.home() / "tools"
    if not (tools / "arm64-v8a" / "et_bench_runner.bin").is_file():
        build.build_runner(tools, abi="arm64-v8a")
    return tools / "arm64-v8a"


def _flops(args) -> dict:
    from android_bench.measurement.flops import flops_by_length

    return {m: {n: c["flops"] for n, c in flops_by_length(m, args.seq_len).items()} for m in args.models}


def ratios(rows: list[dict], baseline: str, flops: dict) -> list[dict]:
    """baseline/model instructions per profile, format, precision and length, beside the FLOP ratio."""
    ipi = {(r["profile"], r["format"], r["precision"], r["seq_len"], r["model"]): r["instructions_per_inference"]
           for r in rows}
    out = []
    for (profile, fmt, precision, seq_len, model), count in ipi.items():
        base = ipi.get((profile, fmt, precision, seq_len, baseline))
        if model == baseline or base is None:
            continue
        out.append({"profile": profile, "format": fmt, "precision": precision, "seq_len": seq_len, "model": model,
                    "baseline": baseline, "instruction_ratio": base / count,
                    "flop_ratio": flops[baseline][seq_len] / flops[model][seq_len], "claim": CLAIM,
                    "label": label(profile)})
    return out


def int8_vs_fp32(rows: list[dict]) -> list[dict]:
    """fp32/int8 instructions per profile, format, model and length: what int8 saves on each CPU profile."""
    ipi = {(r["profile"], r["format"], r["model"], r["seq_len"], r["precision"]): r["instructions_per_inference"]
           for r in rows}
    return [{"profile": p, "format": f, "model": m, "seq_len": n, "fp32_over_int8": ipi[p, f, m, n, "fp32"] / v}
            for (p, f, m, n, precision), v in ipi.items() if precision == "int8" and (p, f, m, n, "fp32") in ipi]


def _print(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from android_bench.measurement.machine import header

    table = Table(title=f"{report['label']}; counted on {header(report['machine'])}")
    for column in ("profile", "format", "precision", "seq", "model", "instructions/inference", "runner"):
        table.add_column(column)
    for r in report["rows"]:
        table.add_row(r["profile"], r["format"], r["precision"], str(r["seq_len"]), r["model"],
                      f"{r['instructions_per_inference'] / 1e9:.4f} G", r["runner"])
    console = Console()
    console.print(table)
    for r in report["ratios"]:
        console.print(f"{r['label']}: {r['format']} {r['precision']} seq {r['seq_len']}: {r['baseline']}/{r['model']} "
                      f"{r['instruction_ratio']:.2f}x instructions, {r['flop_ratio']:.2f}x FLOPs, paper {r['claim']}x")
    for r in report["int8_vs_fp32"]:
        console.print(f"fp32/int8 instructions on {r['profile']}: {r['format']} {r['model']} seq {r['seq_len']}: "
                      f"{r['fp32_over_int8']:.2f}x")
