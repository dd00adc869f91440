"""Results: a JSONL file appended the moment each measurement arrives, and the statistics over it.

One line per runner invocation (warm-up + timed runs of one model). A run that is killed keeps every line
already written; `--resume` skips the jobs whose line is there. Statistics: median, p10/p90 and a 10%
trimmed mean per model, and the baseline/model latency ratio with a bootstrap 95% confidence interval.
"""
from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import numpy as np

from models.errors import UserError

CLAIM = 4.3  # SqueezeBERT paper: 4.3x faster than bert-base-uncased on a Pixel 3
JOB_KEYS = ("device", "model", "format", "precision", "peer", "threads", "round")
# Cold start and memory, as every runner reports them in its timing's extra (missing where a tool prints none)
COLD_START = ("load_ms", "first_inference_ms", "peak_rss_mb")


class ResultLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one file shared by the per-device jobs

    def records(self) -> list[dict]:
        if not self.path.is_file():
            return []
        records = []
        for n, line in enumerate(self.path.read_text(errors="replace").splitlines(), 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn line (the run was killed mid-write): append() cuts it off before the next record
            problem = _malformed(record)
            if problem:
                raise UserError(f"{self.path} line {n}: {problem}, which this harness never writes; the file was edited "
                                "or damaged: delete that line (--resume measures its job again) or choose another --out")
            records.append(record)
        return records

    def append(self, record: dict) -> None:
        """One whole line, fsync'd, or none (a full disk raises ENOSPC, naming the file). A torn last line left by a
        kill is cut off first, so the new record never glues onto it."""
        line = (json.dumps(record) + "\n").encode()
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    tail = os.pread(fd, min(size, 1 << 20), max(0, size - (1 << 20)))
                    size -= len(tail) - tail.rfind(b"\n") - 1
                    os.ftruncate(fd, size)
                try:
                    rest = memoryview(line)
                    while rest:  # a nearly full disk takes part of the line: the next write raises ENOSPC
                        rest = rest[os.write(fd, rest):]
                    os.fsync(fd)
                except OSError as exc:
                    os.ftruncate(fd, size)  # no torn line left behind
                    raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
            finally:
                os.close(fd)

    def done(self) -> set[tuple]:
        return {job_key(r) for r in self.records() if "error" not in r}


_TYPES = {"run_id": str, "device": str, "serial": str, "model": str, "format": str, "precision": str, "runner": str,
          "threads": int, "round": int, "seq_len": int, "artifact_sha256": str, "error": str}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _malformed(record) -> str | None:
    """What in a results.jsonl record has a type or value the summary cannot use, or None."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__} instead of a record"
    for key, kind in _TYPES.items():
        value = record.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            return f"{key} {str(value)[:40]!r} (not a {kind.__name__})"
    if "timing" not in record and "error" not in record:
        return None  # not a job's row
    missing = [k for k in _TYPES if k in JOB_KEYS and record.get(k) is None]
    if missing:
        return f"a job's row without {', '.join(missing)}"
    if "timing" not in record:
        return None
    timing = record["timing"]
    samples = timing.get("samples_ms") if isinstance(timing, dict) else None
    if not isinstance(samples, list) or not all(_number(s) and s >= 0 for s in samples):
        return "timing.samples_ms that is not a list of latencies in ms"
    if not (_number(timing.get("mean_ms")) and timing["mean_ms"] >= 0):
        return f"timing.mean_ms {str(timing.get('mean_ms'))[:40]!r} (not a latency in ms)"
    return None


def job_key(record: dict) -> tuple:
    """What identifies a measurement: the job and every setting that changes it (sequence length, runs, warm-up,
    weights, and the artifact itself), so --resume with a changed setting measures again instead of reusing."""
    settings = record.get("settings", {})
    return (*(record.get(k) for k in JOB_KEYS), record.get("seq_len"), settings.get("runs"), settings.get("warmup"),
            record.get("weights"), record.get("artifact_sha256"), bool(settings.get("profile")))


def inputs_fed(records: list[dict]) -> dict[str, list[dict]]:
    """{model: [what the Python runner fed, at each length, shortest first]}, from its records."""
    found: dict[str, dict] = {}
    for r in records:
        fed = r.get("timing", {}).get("extra", {}).get("inputs")
        if fed:
            found.setdefault(r["model"], {})[fed["seq_len"]] = fed
    return {m: [by_len[n] for n in sorted(by_len)] for m, by_len in found.items()}


def samples_of(records: list[dict]) -> tuple[np.ndarray, str]:
    """Per-run latencies when every tool printed them, else one mean per invocation."""
    if records and all(r["timing"]["samples_ms"] for r in records):
        return np.array([s for r in records for s in r["timing"]["samples_ms"]]), "per-run"
    return np.array([r["timing"]["mean_ms"] for r in records]), "per-invocation mean"


def describe(samples: np.ndarray) -> dict:
    from scipy.stats import trim_mean

    return {"n": int(samples.size), "median_ms": float(np.median(samples)),
            "p10_ms": float(np.percentile(samples, 10)), "p90_ms": float(np.percentile(samples, 90)),
            "trimmed_mean_ms": float(trim_mean(samples, 0.1))}


def ratio_with_ci(baseline: np.ndarray, model: np.ndarray, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """median(baseline) / median(model), with a percentile bootstrap 95% interval (each group resampled)."""
    rng = np.random.default_rng(seed)
    boot_b = np.median(rng.choice(baseline, size=(n_boot, baseline.size)), axis=1)
    boot_m = np.median(rng.choice(model, size=(n_boot, model.size)), axis=1)
    ratios = boot_b / boot_m
    return {"ratio": float(np.median(baseline) / np.median(model)),
            "ci95": [float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))], "bootstrap": n_boot}


def verdict(ratio: dict, *, claim: float = CLAIM, flop_ratio: float | None = None) -> str:
    """The measured ratio against the paper's claim and, when known, the FLOP ratio: the speed-up an equally
    efficient runtime would show, so a shortfall can be told to be the runtime's or the claim's."""
    lo, hi = ratio["ci95"]
    text = f"{ratio['ratio']:.2f}x (95% CI {lo:.2f}-{hi:.2f})"
    if lo > claim:
        text = f"{text}: faster than the paper's {claim}x"
    elif hi < claim:
        text = f"{text}: below the paper's {claim}x, claim not reproduced"
    else:
        text = f"{text}: consistent with the paper's {claim}x"
    return text if flop_ratio is None else f"{text}; FLOP ratio {flop_ratio:.2f}x"


def cold_start(records: list[dict]) -> dict:
    """Median load time, first inference and peak resident memory over invocations (None: not reported)."""
    found = {}
    for key in COLD_START:
        values = [r["timing"]["extra"][key] for r in records if r["timing"].get("extra", {}).get(key) is not None]
        found[key] = float(np.median(values)) if values else None
    return found


EMULATED = "EMULATED ({how}): not phone speed"


def emulated_devices(records: list[dict]) -> dict[str, str]:
    """device -> how it is emulated, for the devices whose facts say so (their timings are not phone speed)."""
    return {r["device"]: r["device_facts"]["emulated"] for r in records
            if (r.get("device_facts") or {}).get("emulated")}


def _flops_at(flops: dict | None, model: str, seq_len) -> int | None:
    """FLOPs of `model` at `seq_len` from {model: {length: flops}} (or {model: flops}, one length)."""
    if not flops or model not in flops:
        return None
    value = flops[model]
    return value.get(seq_len) if isinstance(value, dict) else value


def summarize(records: list[dict], *, baseline: str, flops: dict | None = None,
              length_weights: dict[int, float] | None = None) -> dict:
    """Per-model statistics (latency, FLOPs and GFLOP/s, cold start, memory) and baseline/model ratios per device,
    format, precision, peer path (a record's `peer`; None: ours), threads and sequence length; with `flops`
    ({model: {length: FLOPs of one forward pass}}) the FLOP ratio beside each verdict. With `length_weights`
    ({length: weight}, android_bench.measurement.lengths) and two or more measured lengths, the latency expected
    under that distribution per device, format, precision, peer, threads and model (`at_length_distribution`).
    Rows and verdicts of an emulated device carry `emulated` and say so."""
    ok = [r for r in records if "error" not in r]
    emulated = emulated_devices(records)
    groups: dict[tuple, list[dict]] = {}
    for r in ok:
        groups.setdefault((r["device"], r["format"], r["precision"], r.get("peer"), r["threads"], r.get("seq_len"),
                           r["model"]), []).append(r)
    latency, ratios = [], []
    for key, rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        device, fmt, precision, peer, threads, seq_len, model = key
        samples, kind = samples_of(rs)
        stats = describe(samples)
        model_flops = _flops_at(flops, model, seq_len)
        latency.append({"device": device, "format": fmt, "precision": precision, "peer": peer, "threads": threads,
                        "model": model, "runner": rs[0]["runner"], "seq_len": seq_len, "samples": kind,
                        "artifact_sha256": rs[0].get("artifact_sha256"),
                        "invocations": len(rs), **stats, **cold_start(rs),
                        "flops": model_flops,
                        "gflop_per_s": model_flops / stats["median_ms"] / 1e6 if model_flops else None,
                        "emulated": emulated.get(device, False)})
        if model != baseline and (device, fmt, precision, peer, threads, seq_len, baseline) in groups:
            base, _ = samples_of(groups[(device, fmt, precision, peer, threads, seq_len, baseline)])
            ratio = ratio_with_ci(base, samples)
            base_flops = _flops_at(flops, baseline, seq_len)
            flop_ratio = base_flops / model_flops if base_flops and model_flops else None
            said = verdict(ratio, flop_ratio=flop_ratio)
            if device in emulated:  # a ratio measured under emulation says nothing about the claim
                lo, hi = ratio["ci95"]
                said = (f"{EMULATED.format(how=emulated[device])}; {ratio['ratio']:.2f}x (95% CI {lo:.2f}-{hi:.2f}), "
                        f"no verdict on the paper's {CLAIM}x")
            ratios.append({"device": device, "format": fmt, "precision": precision, "peer": peer, "threads": threads,
                           "seq_len": seq_len, "model": model, "baseline": baseline, **ratio, "flop_ratio": flop_ratio,
                           "verdict": said, "emulated": emulated.get(device, False)})
    measured = {job_key(r) for r in ok}
    failed = [r for r in records if "error" in r and job_key(r) not in measured]  # not since retried by --resume
    summary = {"latency": latency, "ratios": ratios, "errors": failed, "claim": CLAIM, "emulated": emulated}
    if length_weights:
        summary.update(_at_length_distribution(latency, length_weights))
    return summary


def with_instruction_ratios(summary: dict, counts: dict) -> dict:
    """Beside each measured ratio, the ARM64 instruction ratio of the same format, precision, length and models
    from `python -m android_bench.arm64 count`'s counts.json, per emulated CPU profile (`arm64_instruction_ratio`,
    labelled: instructions on the phone's kernels, counted under qemu, not time)."""
    counted: dict[tuple, dict[str, float]] = {}
    for r in counts.get("ratios", []):
        key = (r["format"], r["precision"], r["seq_len"], r["model"], r["baseline"])
        counted.setdefault(key, {})[r["profile"]] = r["instruction_ratio"]
    for row in summary["ratios"]:
        found = counted.get((row["format"], row["precision"], row["seq_len"], row["model"], row["baseline"]))
        if found:
            row["arm64_instruction_ratio"] = found
            row["arm64_instruction_label"] = "ARM64 instructions (emulated), not time"
    _instructions_per_ms(summary, counts)
    return summary


IPMS_LABEL = ("ARM64 instructions per inference (counted under qemu, same runtime builds) over the measured median: "
              "the device's effective instructions per ms, not a clock rate")


def _instructions_per_ms(summary: dict, counts: dict) -> None:
    """Beside each latency row, per CPU profile: the counted instructions per inference of the same model, format,
    precision and length over the row's median (`arm64_instructions_per_ms`), and whether the count was of this very
    artifact file (`arm64_same_artifact`: the same sha256)."""
    by_job: dict[tuple, list[dict]] = {}
    for c in counts.get("rows", []):
        by_job.setdefault((c["model"], c["format"], c["precision"], c["seq_len"]), []).append(c)
    for row in summary["latency"]:
        found = by_job.get((row["model"], row["format"], row["precision"], row["seq_len"]))
        if found and row["median_ms"] > 0:
            row["arm64_instructions_per_ms"] = {c["profile"]: c["instructions_per_inference"] / row["median_ms"]
                                                for c in found}
            row["arm64_same_artifact"] = all(c.get("artifact_sha256") == row.get("artifact_sha256") for c in found)
            row["arm64_instructions_per_ms_label"] = IPMS_LABEL


def _at_length_distribution(latency: list[dict], weights: dict[int, float]) -> dict:
    from android_bench.measurement.lengths import at_length_distribution

    found = at_length_distribution(latency, weights, key=("device", "format", "precision", "peer", "threads", "model"))
    return {"at_length_distribution": found} if found else {}
