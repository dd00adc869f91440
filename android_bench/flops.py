"""`python -m android_bench.flops`: exact MACs/FLOPs of one forward pass, and this machine's fp32 roofline.

    python -m android_bench.flops --models squeezebert-mnli-headless,bert-base-uncased --seq-len 128 \
        --latency-ms squeezebert-mnli-headless=71,bert-base-uncased=163 --json build/flops.json

Counted: the multiply-accumulates of every matrix product, i.e. Linear layers (addmm), 1x1 convolutions
with their groups (a Conv1d with groups=g does in/g x out x length MACs), and attention's QK^T and PV
(bmm or fused SDPA). FLOPs = 2 x MACs. Counted by torch's FlopCounterMode on the real Hugging Face module
(random weights: FLOPs do not depend on values), split per module type, and checked against a formula
from the config. Not counted: bias and residual adds, softmax, layer norm, GELU and embedding lookups.
"""
from __future__ import annotations

import argparse
import platform
import re
import subprocess
import sys
from pathlib import Path

from export import ArgumentParser, run_main
from models.errors import UserError

from . import flags
from .machine import cpuinfo, describe, header, logical_cpus, physical_cores, save_run

COUNTED = ("matrix products only: Linear (addmm), grouped/dense Conv1d (convolution), attention QK^T and PV "
           "(bmm or fused SDPA); FLOPs = 2 x MACs")
NOT_COUNTED = "bias and residual adds, softmax, layer norm, GELU, embedding lookups (elementwise/gather work)"
# module path suffix -> category; first match wins (attention.output.dense before the FFN's output.dense)
CATEGORIES = (
    ("attention_projections", re.compile(r"\.(query|key|value)$|attention\.output\.dense$|post_attention\.conv1d$")),
    ("attention_scores", re.compile(r"\.attention(\.self|\.matmul_qkv?)?$")),
    ("ffn", re.compile(r"\.(intermediate|output)\.(dense|conv1d)$")),
    ("pooler", re.compile(r"\.pooler(\.dense)?$")),
    ("classifier", re.compile(r"\.classifier$")),
)


def analytic_macs(config, *, seq_len: int, batch: int = 1, task: str = "feature-extraction") -> dict[str, int] | None:
    """MACs per category from a BERT or SqueezeBERT config (None for other architectures)."""
    if config.model_type not in ("bert", "squeezebert"):
        return None
    h, i, s, n = config.hidden_size, config.intermediate_size, seq_len, config.num_hidden_layers * batch

    def g(key: str) -> int:  # SqueezeBERT's groups; BERT's Linear layers are dense
        return getattr(config, key) if config.model_type == "squeezebert" else 1

    macs = {
        "attention_projections": n * s * (h * h // g("q_groups") + h * h // g("k_groups") + h * h // g("v_groups")
                                          + h * h // g("post_attention_groups")),
        "attention_scores": n * 2 * s * s * h,  # QK^T and PV: heads x S x S x head_dim each
        "ffn": n * s * (h * i // g("intermediate_groups") + i * h // g("output_groups")),
        "pooler": batch * h * h,  # dense on the first token
    }
    if task == "sequence-classification":
        macs["classifier"] = batch * h * config.num_labels
    return macs


def count_module_flops(module, inputs: tuple) -> dict:
    """Run `module(*inputs)` under FlopCounterMode; FLOPs in total, per category and per aten op."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    aten = torch.ops.aten
    # the CPU's fused attention kernel is missing from torch's table: it would count 0
    extra = {aten._scaled_dot_product_flash_attention_for_cpu:
             lambda q, k, v, *args, out_shape=None, **kwargs: sdpa_flop_count(q, k, v)}
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=extra) as counter:
        module(*inputs)
    per_module = {k: sum(ops.values()) for k, ops in counter.get_flop_counts().items() if k != "Global"}
    categories: dict[str, int] = {}
    for name, own in _own_flops(per_module).items():
        if own:
            cat = next((c for c, pattern in CATEGORIES if pattern.search(name)), "other")
            categories[cat] = categories.get(cat, 0) + own
    by_op = {str(op): n for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return {"flops": counter.get_total_flops(), "categories": categories, "by_op": by_op}


def _own_flops(per_module: dict[str, int]) -> dict[str, int]:
    """FLOPs of each module minus those of its nearest tracked descendants (FlopCounterMode's are inclusive)."""
    own = {}
    for name, total in per_module.items():
        kids = [k for k in per_module if k.startswith(name + ".")]
        direct = [k for k in kids if not any(k.startswith(o + ".") for o in kids)]
        own[name] = total - sum(per_module[k] for k in direct)
    return own


def count_flops(model_name: str, seq_len: int = 128, batch: int = 1, task: str = "feature-extraction") -> dict:
    """MACs and FLOPs of one forward pass of a registered model (or HF id / folder), random weights."""
    return flops_by_length(model_name, [seq_len], batch=batch, task=task)[seq_len]


def flops_by_length(model_name: str, lengths: list[int], *, batch: int = 1, task: str = "feature-extraction"
                    ) -> dict[int, dict]:
    """{length: count_flops(...)} with the model loaded once."""
    import models

    loaded = models.load(model_name, weights="random", task=task)
    return {n: _count(model_name, loaded, seq_len=n, batch=batch) for n in lengths}


def _count(model_name: str, loaded, *, seq_len: int, batch: int) -> dict:
    import torch

    inputs = loaded.inputs(seq_len=seq_len, batch=batch)
    counted = count_module_flops(loaded.module, tuple(torch.from_numpy(inputs[n]) for n in loaded.input_names))
    analytic = analytic_macs(loaded.config, seq_len=seq_len, batch=batch, task=loaded.task)
    if analytic is not None:
        expected = {k: 2 * v for k, v in analytic.items()}
        if expected != counted["categories"]:
            raise RuntimeError(f"{model_name}: FlopCounterMode {counted['categories']} != formula {expected}")
    flops = counted["flops"]
    return {
        "model": loaded.name, "task": loaded.task, "seq_len": seq_len, "batch": batch,
        "macs": flops // 2, "flops": flops, "gmacs": flops / 2e9, "gflops": flops / 1e9,
        "breakdown_flops": counted["categories"], "by_op": counted["by_op"],
        "analytic_check": "equal per category" if analytic is not None else
                          f"no formula for model_type {loaded.config.model_type!r}",
        "counted": COUNTED, "not_counted": NOT_COUNTED,
    }


# ---------------------------------------------------------------------------------------------- roofline


def _cores() -> tuple[int, str]:
    cpus = logical_cpus()
    how = f"os.sched_getaffinity: {len(cpus)} logical CPUs"
    physical = physical_cores(cpus)  # SMT siblings share one core's FMA units
    if physical:
        return physical, f"{how} on {physical} physical cores (sysfs topology)"
    return len(cpus), f"{how}, counted as cores (no sysfs topology: SMT siblings not merged)"


def _simd_lanes(flags: set[str]) -> tuple[int | None, str]:
    for flag, lanes in (("avx512f", 16), ("avx2", 8), ("avx", 8), ("asimd", 4), ("neon", 4), ("sse2", 4)):
        if flag in flags:
            return lanes, f"cpu flag {flag}: {lanes * 32}-bit vectors = {lanes} fp32 lanes"
    if platform.machine() in ("aarch64", "arm64"):
        return 4, "aarch64: NEON (asimd) is mandatory, 128-bit = 4 fp32 lanes"
    return None, "no SIMD flag known to this tool in /proc/cpuinfo"


def _fma_units(info: dict[str, str], flags: set[str], lanes: int | None) -> tuple[int | None, str]:
    """FMA pipes per core at `lanes` width. An assumption by vendor/family, stated in the returned text."""
    vendor, family, model = info.get("vendor_id", ""), int(info.get("cpu family", "0")), int(info.get("model", "0"))
    if lanes is None:
        return None, "SIMD width unknown"
    if vendor.startswith("GenuineIntel") or vendor.startswith("AuthenticAMD"):
        if "fma" not in flags:
            return 1, "no FMA flag: one add + one multiply pipe per cycle, counted as one FMA-equivalent"
    if vendor.startswith("GenuineIntel"):
        if lanes == 16:
            return 2, ("ASSUMED 2: Xeon Scalable Gold 6xxx/Platinum (Skylake-SP and later) have two 512-bit FMA "
                       "units; Xeon Bronze/Silver, some Gold 5xxx and client cores (Ice/Tiger/Rocket Lake) have "
                       "one, which halves the peak")
        return 2, "Intel Haswell and later: two 256-bit FMA ports (0 and 1)"
    if vendor.startswith("AuthenticAMD"):
        if family == 0x17 and model < 0x30:
            return 1, "AMD Zen/Zen+ (family 17h, model < 30h): two 128-bit FMA pipes = one 256-bit FMA per cycle"
        if lanes == 16 and family == 0x19:
            return 1, "AMD Zen 4 (family 19h with AVX-512): 512-bit ops double-pumped on two 256-bit pipes = one"
        return 2, f"AMD family {family:#x} (Zen 2/3/5): two FMA pipes at full width (Zen 5 mobile double-pumps AVX-512)"
    if lanes == 4 and info.get("CPU implementer"):
        return 2, ("ASSUMED 2: Cortex-A76/A78/Neoverse N1 have two 128-bit FP pipes; Cortex-X1 and later have "
                   "four, little cores (A55) one")
    return None, f"unknown CPU vendor {vendor or platform.machine()!r}: FMA units per core not known"


def _frequency_ghz(cpus: list[int]) -> tuple[float | None, str]:
    khz = []
    for c in cpus:
        try:
            khz.append(int(Path(f"/sys/devices/system/cpu/cpu{c}/cpufreq/cpuinfo_max_freq").read_text()))
        except (OSError, ValueError):
            pass
    if khz:
        return max(khz) / 1e6, "sysfs cpufreq cpuinfo_max_freq (max boost the kernel knows)"
    try:
        mhz = [float(v) for k, v in (line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines()
                                     if line.startswith("cpu MHz"))]
    except OSError:
        mhz = []
    if mhz:
        return max(mhz) / 1e3, ("/proc/cpuinfo 'cpu MHz' (no cpufreq in sysfs, typical of a VM: the current or "
                                "nominal clock, not turbo; AVX-512 licence clocks may be lower)")
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"^CPU max MHz:\s*([\d.]+)", out, re.M) or re.search(r"^CPU MHz:\s*([\d.]+)", out, re.M)
        if m:
            return float(m.group(1)) / 1e3, f"lscpu '{m.group(0).split(':')[0]}'"
    except (OSError, subprocess.SubprocessError):
        pass
    return None, "no cpufreq in sysfs, no 'cpu MHz' in /proc/cpuinfo, nothing from lscpu"


def roofline() -> dict:
    """Peak fp32 FLOP/s = cores x FMA units x SIMD lanes x 2 x frequency; each factor with how it was read."""
    info = cpuinfo()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    cores, cores_how = _cores()
    lanes, lanes_how = _simd_lanes(flags)
    fma, fma_how = _fma_units(info, flags, lanes)
    ghz, ghz_how = _frequency_ghz(logical_cpus())
    factors = (cores, fma, lanes, ghz)
    peak = cores * fma * lanes * 2 * ghz if None not in factors else None
    return {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "cores": cores, "fma_units": fma, "simd_fp32_lanes": lanes, "frequency_ghz": ghz,
        "peak_gflops": peak,
        "formula": "cores x FMA units x SIMD fp32 lanes x 2 (mul+add) x GHz",
        "sources": {"cores": cores_how, "fma_units": fma_how, "simd_fp32_lanes": lanes_how, "frequency_ghz": ghz_how},
    }


# ---------------------------------------------------------------------------------------------- CLI


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
    from models import TASKS, model_choices

    p = ArgumentParser(prog="python -m android_bench.flops", description=__doc__.split("\n\n")[0],
                       epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--models", default="squeezebert-mnli-headless,bert-base-uncased",
                   help=f"comma-separated models ({model_choices()}, or HF ids/folders); ratios are to the first")
    p.add_argument("--seq-len", type=flags.seq_lens, default="128",
                   help="comma-separated sequence lengths of the counted forward pass, e.g. 16,32,64,128")
    p.add_argument("--batch", type=int, default=1, help="batch size of the counted forward pass")
    p.add_argument("--task", choices=TASKS, default="feature-extraction",
                   help="head: feature-extraction (encoder + pooler) or sequence-classification (+ classifier)")
    p.add_argument("--latency-ms", default=None,
                   help="measured latencies MODEL=MS,... to print achieved GFLOP/s and the fraction of the roofline")
    p.add_argument("--threads", type=int, default=None,
                   help="threads the latencies were measured with: the roofline is scaled to min(threads, cores) "
                        "(%(default)s: all cores)")
    p.add_argument("--json", type=Path, default=None, help="also write the counts and the roofline to this JSON file")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")
    return p


def main(args) -> dict:
    from models import check_model_name

    names = [check_model_name(n.strip()) for n in args.models.split(",") if n.strip()]
    if not names:
        raise UserError("--models is empty; name at least one model")
    seq_lens = args.seq_len
    flags.check_seq_lens(names, seq_lens)
    latency = _latencies(args.latency_ms, names)
    if latency and len(seq_lens) > 1:
        raise UserError(f"--latency-ms gives one latency per model, but --seq-len has {len(seq_lens)} lengths; "
                        "pass one length with it")
    machine = roofline()
    peak = machine["peak_gflops"]
    if peak and args.threads:
        peak *= min(args.threads, machine["cores"]) / machine["cores"]
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
              "roofline": machine, "roofline_peak_gflops_used": peak, "threads": args.threads,
              "machine": describe()}
    _print(report)
    if args.json:
        from export import write_json_atomic

        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(args.json, report)
        print(f"wrote {args.json}; saved to the history: {save_run('flops', report, args.json.parent / 'history')}")
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
    sys.exit(run_main(main, parser=parser()))
