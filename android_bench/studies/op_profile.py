"""`python -m android_bench.studies.op_profile`: where the time goes, per op type, at each thread count (a benchmark).

    python -m android_bench.studies.op_profile --threads 1,2 --formats onnx,executorch --precisions fp32,int8 --runs 20

For each model, format and precision (the artifacts android_bench.studies.efficiency times, made at --seq-len, fed that
many real tokens: android_bench.measurement.timing.benchmark_inputs) and each thread count, the runtime's own profiler over
--runs runs after --warmup: ONNX Runtime's (SessionOptions.enable_profiling: one event per node) and ExecuTorch's
ETDump (per op, inside the XNNPACK delegate too; the OPERATOR_CALL and DELEGATE_CALL wrappers are not counted
again). Per op type: the median per-run time and count, and its gain from the fewest threads to each other count;
the top ops by time are printed, all of them saved in op_profile.json (after every artifact) with the CPU.
TFLite has no per-op profiler on the desktop (ai_edge_litert's Interpreter exposes none; benchmark_model is not on
PyPI), so `--formats tflite` is refused. Each profile runs in a process of its own (spawned: its own thread pool).
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from export import ArgumentParser, run_main
from models.errors import UserError

from android_bench.harness import flags
from android_bench.measurement import timing

log = logging.getLogger("android_bench")
PROFILED = ("onnx", "executorch")
TOP = 8


def _onnx_events(path: Path, feed: dict, threads: int, runs: int, warmup: int) -> tuple[list[dict], list[float]]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    with tempfile.TemporaryDirectory() as tmp:
        opts.enable_profiling, opts.profile_file_prefix = True, str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        for _ in range(warmup + runs):
            session.run(None, {n: feed[n] for n in names})
        events = json.loads(Path(session.end_profiling()).read_text())
    spans = [e for e in events if e.get("name") == "model_run"][warmup:]
    per_run = [{} for _ in spans]
    for e in events:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        for i, run in enumerate(spans):
            if run["ts"] <= e["ts"] <= run["ts"] + run["dur"]:
                op = e["args"]["op_name"]
                per_run[i][op] = per_run[i].get(op, 0.0) + e["dur"] / 1e3  # µs -> ms
                per_run[i][f"{op}#count"] = per_run[i].get(f"{op}#count", 0) + 1
                break
    return per_run, [r["dur"] / 1e3 for r in spans]


def _executorch_op(name: str) -> str | None:
    """ETDump event -> op type: XNNPACK ops without their '#k', portable kernels as 'portable <op>'; wrappers None."""
    if name in ("OPERATOR_CALL", "DELEGATE_CALL") or name.startswith("Method::"):
        return None
    if name.startswith("native_call_"):
        return "portable " + re.sub(r"\.(out|Tensor_out|\w+_out)$", "", name[len("native_call_"):])
    return re.sub(r"\s*#\d+$", "", name)


def _executorch_events(path: Path, feed: dict, threads: int, runs: int, warmup: int, input_names: list[str]):
    import time

    import torch
    from executorch.devtools import Inspector
    from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
    from executorch.runtime import Runtime, Verification

    _unsafe_reset_threadpool(threads)
    torch.set_num_threads(threads)
    program = Runtime.get().load_program(path, verification=Verification.Minimal, enable_etdump=True)
    method = program.load_method("forward")
    args = [torch.from_numpy(np.ascontiguousarray(feed[n], dtype=np.int64)) for n in input_names]
    wall = []
    for _ in range(warmup + runs):
        start = time.perf_counter()
        method.execute(args)
        wall.append((time.perf_counter() - start) * 1e3)
    with tempfile.TemporaryDirectory() as tmp:
        etdump = Path(tmp) / "run.etdp"
        program.write_etdump_result_to_file(str(etdump), str(Path(tmp) / "debug.bin"))  # no debug buffer: unused
        frame = Inspector(etdump_path=str(etdump)).to_dataframe()
    per_run = [{} for _ in range(runs)]
    for name, block, raw in zip(frame["event_name"], frame["event_block_name"], frame["raw"]):
        op = _executorch_op(name)
        if op is None or block != "Execute" or len(raw) != warmup + runs:
            continue
        for i, ms in enumerate(raw[warmup:]):
            per_run[i][op] = per_run[i].get(op, 0.0) + float(ms)
            per_run[i][f"{op}#count"] = per_run[i].get(f"{op}#count", 0) + 1
    return per_run, wall[warmup:]


def profile(fmt: str, path: Path, feed: dict, input_names: list[str], threads: int, runs: int, warmup: int) -> dict:
    """One artifact at one thread count (call in a process of its own): {"run_ms", "ops": {op: {"ms", "count"}}},
    medians over the runs."""
    with timing.denormals("flush"):
        if fmt == "onnx":
            per_run, wall = _onnx_events(path, feed, threads, runs, warmup)
        else:
            per_run, wall = _executorch_events(path, feed, threads, runs, warmup, input_names)
    ops = sorted({k for run in per_run for k in run if not k.endswith("#count")})
    return {"run_ms": float(np.median(wall)),
            "ops": {op: {"ms": float(np.median([run.get(op, 0.0) for run in per_run])),
                         "count": int(np.median([run.get(f"{op}#count", 0) for run in per_run]))} for op in ops}}


def run(args) -> dict:
    import models
    from export import write_json_atomic
    from export.runtimes import read_verified

    from android_bench.harness.artifacts import conversion_order, ensure_artifact
    from android_bench.measurement.history import save_run
    from android_bench.measurement.machine import describe

    refused = [f for f in args.formats if f not in PROFILED]
    if refused:
        raise UserError(f"--formats {','.join(refused)}: no per-op profiler on the desktop for it; profile one of "
                        f"{', '.join(PROFILED)} (TFLite: ai_edge_litert has no op profiler)")
    flags.check_seq_lens(args.models, [args.seq_len])
    flags.check_precisions(args.formats, args.precisions)
    report = {"machine": describe(), "seq_len": args.seq_len, "runs": args.runs, "warmup": args.warmup,
              "weights": args.weights, "threads": args.threads, "denormals": timing.DENORMALS["flush"],
              "results": []}
    out = args.out / "op_profile.json"
    spawn = get_context("spawn")
    for name in args.models:
        loaded = models.load(name, weights=args.weights)
        loaded.check_seq_len(args.seq_len)
        feed = timing.benchmark_inputs(loaded.tokenizer, args.seq_len)
        report.setdefault("inputs", {})[name] = timing.describe_inputs(feed)
        for fmt in args.formats:
            for precision in conversion_order(args.precisions):
                folder = ensure_artifact(args.out / "artifacts", name, fmt, precision, weights=args.weights,
                                         seq_len=args.seq_len)
                manifest = read_verified(folder)
                file = folder / manifest["file"]["name"]
                inputs = [i["name"] for i in manifest["inputs"]]
                by_threads = {}
                for threads in args.threads:
                    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                        by_threads[threads] = pool.submit(profile, fmt, file, feed, inputs, threads, args.runs,
                                                          args.warmup).result()
                    log.info("%s %s-%s %dt: %.1f ms a run", name, fmt, precision, threads,
                             by_threads[threads]["run_ms"])
                report["results"].append(_row(name, f"{fmt}-{precision}", by_threads))
                write_json_atomic(out, report)  # saved as it arrives
    report["history"] = str(save_run("op_profile", report, args.out.parent / "history"))
    write_json_atomic(out, report)
    _print(report)
    return report


def _row(model: str, path: str, by_threads: dict) -> dict:
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
    return {"model": model, "path": path, "run_ms": {str(t): v for t, v in run_ms.items()},
            "gain": {str(t): run_ms[base] / v for t, v in run_ms.items() if t != base},
            "ops_ms": {str(t): sum(o["ms"] for o in p["ops"].values()) for t, p in by_threads.items()}, "ops": ops}


def _print(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from android_bench.measurement.machine import header

    console = Console(width=None if sys.stdout.isatty() else 150)
    threads = [str(t) for t in sorted(report["threads"])]
    for r in report["results"]:
        gains = ", ".join(f"{t}t {g:.2f}x" for t, g in r["gain"].items())
        table = Table(title=f"{r['model']} {r['path']}, seq {report['seq_len']}: a run "
                            + " / ".join(f"{r['run_ms'][t]:.1f}" for t in threads) + f" ms at {'/'.join(threads)} "
                            f"threads{f' (gain {gains})' if gains else ''}; top ops by time\n{header(report['machine'])}")
        for col in ("op", "count", *(f"{t}t ms" for t in threads), *(f"{t}t gain" for t in threads[1:])):
            table.add_column(col)
        for o in r["ops"][:TOP]:
            table.add_row(o["op"], str(o["count"]), *(f"{o['ms'][t]:.2f}" for t in threads),
                          *(f"{o['gain'][t]:.2f}x" if o["gain"][t] else "-" for t in threads[1:]))
        console.print(table)
    console.print(f"saved to the history: {report['history']}")


def parser() -> argparse.ArgumentParser:
    from export import available_formats

    p = ArgumentParser(prog="python -m android_bench.studies.op_profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=flags.model_names, default="squeezebert-mnli-headless,bert-base-uncased")
    p.add_argument("--formats", type=flags.names(available_formats(), what="format"), default="onnx,executorch",
                   help=f"comma-separated, profiled: {', '.join(PROFILED)}")
    p.add_argument("--precisions", type=flags.names(flags.all_precisions(), what="precision"), default="fp32,int8")
    p.add_argument("--threads", type=flags.positive_ints("thread counts"), default="1,2",
                   help="comma-separated thread counts; gains are from the fewest")
    p.add_argument("--seq-len", type=flags.positive_int, default=128, help="tokens fed (all real) and exported at")
    p.add_argument("--runs", type=flags.positive_int, default=20, help="profiled runs per artifact and thread count")
    p.add_argument("--warmup", type=flags.non_negative_int, default=timing.WARMUP, help="unprofiled runs first")
    p.add_argument("--weights", default="random", help="hub, a checkpoint folder, or random (recorded)")
    p.add_argument("--out", type=Path, default=Path("build/op_profile"), help="artifacts and op_profile.json")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")
    return p


def main(argv=None) -> int:
    return run_main(flags.one_writer(run), argv, parser=parser())


if __name__ == "__main__":
    sys.exit(main())
