"""Reports of a summary: a terminal table, summary.csv, summary.json, latency.png, memory.png and, with two or more
sequence lengths, latency_by_length.png (written atomically)."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from export import write_json_atomic

from android_bench.measurement.results import COLD_START, EMULATED


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def print_tables(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    import sys

    console = Console(width=None if sys.stdout.isatty() else 160)  # logs and CI: no squeezed columns
    title = "latency (ms), cold start and memory, per sequence length (real tokens, no padding)"
    if "machine" in summary:
        from android_bench.measurement.machine import header

        title += f"\nhost: {header(summary['machine'])}"
    table = Table(title=title)
    numeric = ("threads", "seq", "n", "median", "p10", "p90", "trimmed mean", "GFLOP/s", "load", "1st run",
               "peak RSS MB")
    for col in ("device", "model", "format", "precision", "threads", "seq", "runner", "n", "median", "p10", "p90",
                "trimmed mean", "GFLOP/s", "load", "1st run", "peak RSS MB"):
        table.add_column(col, justify="right" if col in numeric else "left")
    for row in sorted(summary["latency"], key=lambda r: (r["device"], r["format"], r["precision"], r["threads"],
                                                         r["seq_len"] or 0, r["model"])):
        table.add_row(row["device"], row["model"], row["format"], row["precision"], str(row["threads"]),
                      str(row["seq_len"]), row["runner"], str(row["n"]), f"{row['median_ms']:.2f}",
                      f"{row['p10_ms']:.2f}", f"{row['p90_ms']:.2f}", f"{row['trimmed_mean_ms']:.2f}",
                      _or_missing(row.get("gflop_per_s")), *(_or_missing(row.get(k)) for k in COLD_START))
    console.print(table)
    for device, how in summary.get("emulated", {}).items():
        console.print(f"[bold]{device}: {EMULATED.format(how=how)}.[/bold] Its timings show that the artifacts run, "
                      "not how fast a phone runs them.")
    for r in sorted(summary["ratios"], key=lambda r: (r["device"], r["format"], r["precision"], r["threads"],
                                                      r["seq_len"] or 0)):
        counted = "".join(f"; {n:.2f}x ARM64 instructions (emulated {profile}), not time"
                          for profile, n in sorted(r.get("arm64_instruction_ratio", {}).items()))
        console.print(f"{r['device']} {r['format']} {r['precision']} {r['threads']}t seq {r['seq_len']}: "
                      f"{r['baseline']} / {r['model']} = {r['verdict']} (paper {summary['claim']}x){counted}")
    for r in summary["latency"]:
        for profile, rate in sorted(r.get("arm64_instructions_per_ms", {}).items()):
            same = "this artifact" if r.get("arm64_same_artifact") else "another export of it"
            console.print(f"{r['device']} {r['model']} {r['format']} {r['precision']} {r['threads']}t seq "
                          f"{r['seq_len']}: {rate / 1e6:.3g} M ARM64 instructions per ms (counted on {profile}, "
                          f"{same}; instructions over measured time, not a clock rate)")
    dist = summary.get("at_length_distribution")
    if dist:
        from android_bench.measurement.lengths import print_distribution

        baseline = next((r["baseline"] for r in summary["ratios"]), None)
        for subject in sorted({r["model"] for r in dist["results"]} - {baseline}):
            print_distribution(console, dist, [subject, baseline] if baseline else [subject],
                               key=lambda r: (r["device"], r["format"], r["precision"], r["threads"]),
                               label=lambda r: f"{r['device']} {r['format']} {r['precision']} {r['threads']}t")
    for e in summary["errors"]:
        console.print(f"[red]failed[/red] {e['device']} {e['model']} {e['format']} {e['precision']} "
                      f"{e['threads']}t seq {e.get('seq_len')} round {e['round']}: {e['error']}")


def _figure(size):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)


def _save_png(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    _write_atomic(path, buf.getvalue())


def _or_missing(value) -> str:
    return "missing" if value is None else f"{value:.1f}"


def write_csv(summary: dict, path: Path) -> None:
    buf = io.StringIO()
    fields = ["device", "model", "format", "precision", "threads", "runner", "seq_len", "samples", "invocations", "n",
              "median_ms", "p10_ms", "p90_ms", "trimmed_mean_ms", "flops", "gflop_per_s", *COLD_START, "ratio",
              "ci95_low", "ci95_high", "flop_ratio", "emulated"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    ratios = {(r["device"], r["format"], r["precision"], r["threads"], r["seq_len"], r["model"]): r
              for r in summary["ratios"]}
    for row in summary["latency"]:
        ratio = ratios.get((row["device"], row["format"], row["precision"], row["threads"], row["seq_len"], row["model"]))
        extra = {"ratio": ratio["ratio"], "ci95_low": ratio["ci95"][0], "ci95_high": ratio["ci95"][1],
                 "flop_ratio": ratio["flop_ratio"]} if ratio else {}
        writer.writerow({k: _cell(v) for k, v in {**row, **extra}.items()})
    _write_atomic(path, buf.getvalue().encode())


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection list)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """A CSV cell that a spreadsheet shows as text: a string (a model folder, a device serial) that would start a
    formula gets a leading apostrophe; numbers stay numbers."""
    return f"'{value}" if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def plot(summary: dict, path: Path) -> None:
    """Median latency per model x runtime x precision (x threads, x device, x length), p10-p90 as error bars."""
    rows = summary["latency"]
    labels = sorted({(r["device"], r["format"], r["precision"], r["threads"], r["seq_len"] or 0) for r in rows})
    models = sorted({r["model"] for r in rows})
    by_key = {(r["device"], r["format"], r["precision"], r["threads"], r["seq_len"] or 0, r["model"]): r for r in rows}
    fig, ax = _figure((max(6, 1.4 * len(labels) * len(models)), 4.5))
    width = 0.8 / max(len(models), 1)
    for i, model in enumerate(models):
        xs, medians, low, high = [], [], [], []
        for j, label in enumerate(labels):
            r = by_key.get((*label, model))
            if r:
                xs.append(j + i * width)
                medians.append(r["median_ms"])
                low.append(r["median_ms"] - r["p10_ms"])
                high.append(r["p90_ms"] - r["median_ms"])
        ax.bar(xs, medians, width, yerr=[low, high], capsize=3, label=model)
    ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(labels))])
    emulated = summary.get("emulated", {})
    ax.set_xticklabels([f"{d}{' [EMULATED]' if d in emulated else ''}\n{f} {p} {t}t\nseq {n}"
                        for d, f, p, t, n in labels], fontsize=8)
    ax.set_ylabel("median latency (ms), bars p10-p90")
    ax.set_title("latency per model, runtime and precision"
                 + ("\nEMULATED devices (qemu): not phone speed" if emulated else ""))
    ax.legend()
    _save_png(fig, path)


def plot_memory(summary: dict, path: Path) -> None:
    """Median latency against peak resident memory, one point per artifact x runner x threads (x device)."""
    rows = [r for r in summary["latency"] if r.get("peak_rss_mb") is not None]
    fig, ax = _figure((7, 4.5))
    for model in sorted({r["model"] for r in rows}):
        mine = [r for r in rows if r["model"] == model]
        ax.scatter([r["peak_rss_mb"] for r in mine], [r["median_ms"] for r in mine], label=model)
        for r in mine:
            ax.annotate(f"{r['format']} {r['precision']} {r['threads']}t", (r["peak_rss_mb"], r["median_ms"]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("peak resident memory of the benchmark process (MB)")
    ax.set_ylabel("median latency (ms)")
    ax.set_title("latency vs peak memory per artifact"
                 + ("\nEMULATED devices (qemu): not phone speed" if summary.get("emulated") else ""))
    ax.legend()
    _save_png(fig, path)


def write_reports(summary: dict, out: Path) -> dict[str, Path]:
    paths = {"json": out / "summary.json", "csv": out / "summary.csv", "png": out / "latency.png",
             "memory": out / "memory.png"}
    write_json_atomic(paths["json"], summary)
    write_csv(summary, paths["csv"])
    if summary["latency"]:
        plot(summary, paths["png"])
    if any(r.get("peak_rss_mb") is not None for r in summary["latency"]):
        plot_memory(summary, paths["memory"])
    else:
        paths.pop("memory")
    if len({r["seq_len"] for r in summary["latency"]}) > 1:
        from android_bench.measurement.lengths import PLOT, plot_latency_by_length

        emulated = summary.get("emulated", {})
        paths["by_length"] = plot_latency_by_length(
            summary["latency"], out / PLOT,
            panel=lambda r: f"{r['device']}{' [EMULATED]' if r['device'] in emulated else ''}: {r['model']}, "
                            f"{r['threads']}t",
            line=lambda r: f"{r['format']}-{r['precision']}",
            title="median latency against sequence length (one artifact per format and precision, real tokens only)")
    return paths
