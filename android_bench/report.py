"""Reports of a summary: a terminal table, summary.csv, summary.json and latency.png (written atomically)."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from export import write_json_atomic


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def print_tables(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    import sys

    console = Console(width=None if sys.stdout.isatty() else 160)  # logs and CI: no squeezed columns
    table = Table(title="latency (ms)")
    for col in ("device", "model", "format", "precision", "threads", "runner", "n", "median", "p10", "p90",
                "trimmed mean"):
        table.add_column(col, justify="right" if col in ("threads", "n", "median", "p10", "p90", "trimmed mean") else "left")
    for row in summary["latency"]:
        table.add_row(row["device"], row["model"], row["format"], row["precision"], str(row["threads"]), row["runner"],
                      str(row["n"]), f"{row['median_ms']:.2f}", f"{row['p10_ms']:.2f}", f"{row['p90_ms']:.2f}",
                      f"{row['trimmed_mean_ms']:.2f}")
    console.print(table)
    for r in summary["ratios"]:
        console.print(f"{r['device']} {r['format']} {r['precision']} {r['threads']}t: {r['baseline']} / {r['model']} = "
                      f"{r['verdict']}")
    for e in summary["errors"]:
        console.print(f"[red]failed[/red] {e['device']} {e['model']} {e['format']} {e['precision']} "
                      f"{e['threads']}t round {e['round']}: {e['error']}")


def write_csv(summary: dict, path: Path) -> None:
    buf = io.StringIO()
    fields = ["device", "model", "format", "precision", "threads", "runner", "samples", "invocations", "n",
              "median_ms", "p10_ms", "p90_ms", "trimmed_mean_ms", "ratio", "ci95_low", "ci95_high"]
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    ratios = {(r["device"], r["format"], r["precision"], r["threads"], r["model"]): r for r in summary["ratios"]}
    for row in summary["latency"]:
        ratio = ratios.get((row["device"], row["format"], row["precision"], row["threads"], row["model"]))
        extra = {"ratio": ratio["ratio"], "ci95_low": ratio["ci95"][0], "ci95_high": ratio["ci95"][1]} if ratio else {}
        writer.writerow({**row, **extra})
    _write_atomic(path, buf.getvalue().encode())


def plot(summary: dict, path: Path) -> None:
    """Median latency per model x runtime x precision (x threads, x device), p10-p90 as error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["latency"]
    labels = sorted({(r["device"], r["format"], r["precision"], r["threads"]) for r in rows})
    models = sorted({r["model"] for r in rows})
    by_key = {(r["device"], r["format"], r["precision"], r["threads"], r["model"]): r for r in rows}
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(labels) * len(models)), 4.5))
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
    ax.set_xticklabels([f"{d}\n{f} {p} {t}t" for d, f, p, t in labels], fontsize=8)
    ax.set_ylabel("median latency (ms), bars p10-p90")
    ax.set_title("latency per model, runtime and precision")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    _write_atomic(path, buf.getvalue())


def write_reports(summary: dict, out: Path) -> dict[str, Path]:
    paths = {"json": out / "summary.json", "csv": out / "summary.csv", "png": out / "latency.png"}
    write_json_atomic(paths["json"], summary)
    write_csv(summary, paths["csv"])
    if summary["latency"]:
        plot(summary, paths["png"])
    return paths
