"""Latency per sequence length: the length distribution a summary weighs the lengths with, and the plot.

Every benchmark (`android_bench`, `android_bench.studies.efficiency`, `android_bench.studies.precision`) times ONE artifact per model,
format and precision (exported at the longest `--seq-len`) at every requested length, with real tokens only
(android_bench.measurement.timing.benchmark_inputs). From the per-length medians it reports the latency expected under a
length distribution (`expected_latency`) and draws latency against length (`plot_latency_by_length`).
"""
from __future__ import annotations

import io
import os
from pathlib import Path

# What the summaries weigh the measured lengths with. No published token-length distribution of the texts these
# models serve could be cited: the sources searched (the GLUE dataset card, https://huggingface.co/datasets/glue;
# the MultiNLI page and paper, https://cims.nyu.edu/~sbowman/multinli and https://arxiv.org/abs/1704.05426;
# 2026-12-03, through this project's offline page index) describe the tasks, genres and sizes, but no token-length
# figures were reachable, and no figures are made up here. So the distribution is a stand-in, said to be one in
# every output: the WordPiece token counts of this project's own MNLI-style sentence pairs (models.SENTENCE_PAIRS,
# written for the project), [CLS] and [SEP]s included, each pair weighted alike. Through the uncased WordPiece
# vocabulary (every registered model's) they are 17-23 tokens. Replace it with a histogram of the texts your app
# really sees: `expected_latency` takes any {length: weight}.
DISTRIBUTION = {
    "name": "stand-in: token counts of models.SENTENCE_PAIRS (8 MNLI-style pairs written for this project)",
    "what": "WordPiece tokens per premise/hypothesis pair through the model's own tokenizer, [CLS]/[SEP] included, "
            "untruncated; each pair weighted alike",
    "source": "none citable: no published token-length distribution was found (searched the GLUE dataset card "
              "https://huggingface.co/datasets/glue and the MultiNLI page/paper https://cims.nyu.edu/~sbowman/multinli "
              "https://arxiv.org/abs/1704.05426: no token-length figures); this is the project's own sample text, "
              "not a measured phone workload",
}
METHOD = ("piecewise-linear interpolation of the per-length medians, weighted by the distribution; clamped to the "
          "measured range (a length below the shortest measured counts at the shortest one's latency, above the "
          "longest at the longest's)")


def distribution(tokenizer) -> dict[int, float]:
    """{token count: weight} of DISTRIBUTION, through `tokenizer` (weights sum to 1)."""
    from models import SENTENCE_PAIRS

    counts: dict[int, float] = {}
    for premise, hypothesis in SENTENCE_PAIRS:
        n = len(tokenizer(premise, hypothesis)["input_ids"])
        counts[n] = counts.get(n, 0) + 1
    total = sum(counts.values())
    return {n: c / total for n, c in sorted(counts.items())}


def interpolate(medians: dict[int, float], length: float) -> float:
    """The latency at `length` from {measured length: median ms}, linear between the two measured neighbours and
    clamped to the measured range."""
    xs = sorted(medians)
    if length <= xs[0]:
        return medians[xs[0]]
    if length >= xs[-1]:
        return medians[xs[-1]]
    for lo, hi in zip(xs, xs[1:]):
        if lo <= length <= hi:
            return medians[lo] + (medians[hi] - medians[lo]) * (length - lo) / (hi - lo)
    raise AssertionError("unreachable")


def expected_latency(medians: dict[int, float], weights: dict[int, float]) -> float:
    """Expected latency in ms under {length: weight} (normalised here), by `interpolate` (see METHOD)."""
    total = sum(weights.values())
    return sum(w * interpolate(medians, n) for n, w in weights.items()) / total


def summary(weights: dict[int, float], measured: list[int]) -> dict:
    """What every JSON stores beside its expected latencies: the distribution, its source and the method."""
    mean = sum(n * w for n, w in weights.items()) / sum(weights.values())
    return {**DISTRIBUTION, "weights": {str(n): round(w, 6) for n, w in weights.items()}, "mean_tokens": mean,
            "measured_lengths": sorted(measured), "method": METHOD,
            "outside_measured_range": sorted(n for n in weights if not min(measured) <= n <= max(measured))}


def at_length_distribution(rows: list[dict], weights: dict[int, float], key: tuple[str, ...]) -> dict:
    """The one expected-latency builder: per `key` (row fields, e.g. model, format, precision, threads) with two or
    more measured lengths (rows with "seq_len" and "median_ms"), the latency expected under `weights`, with the
    distribution's summary; {} when no series has two lengths."""
    series: dict[tuple, dict[int, float]] = {}
    for r in rows:
        if r.get("seq_len") is not None:
            series.setdefault(tuple(r[k] for k in key), {})[r["seq_len"]] = r["median_ms"]
    results = [{**dict(zip(key, k)), "expected_ms": expected_latency(medians, weights),
                "measured_lengths": sorted(medians)} for k, medians in series.items() if len(medians) > 1]
    if not results:
        return {}
    return {**summary(weights, sorted({n for r in results for n in r["measured_lengths"]})), "results": results}


def plot_latency_by_length(rows: list[dict], path: Path, *, panel, line, title: str) -> Path:
    """Median latency (ms) against length: one panel per `panel(row)` (e.g. model and threads), one line per
    `line(row)` (e.g. format-precision), p10-p90 as a band where the rows have them. Written atomically (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = sorted({panel(r) for r in rows}, key=str)
    cols = min(len(panels), 2)
    nrows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(6.5 * cols, 4.2 * nrows), squeeze=False)
    lengths = sorted({r["seq_len"] for r in rows})
    for ax, key in zip(axes.flat, panels):
        mine = [r for r in rows if panel(r) == key]
        for name in sorted({line(r) for r in mine}, key=str):
            points = sorted((r for r in mine if line(r) == name), key=lambda r: r["seq_len"])
            xs, ys = [r["seq_len"] for r in points], [r["median_ms"] for r in points]
            ax.plot(xs, ys, marker="o", label=name)
            if all("p10_ms" in r and "p90_ms" in r for r in points):
                ax.fill_between(xs, [r["p10_ms"] for r in points], [r["p90_ms"] for r in points], alpha=0.15)
        ax.set_title(str(key), fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_xticks(lengths)
        ax.set_xticklabels([str(n) for n in lengths])
        ax.set_xlabel("sequence length (real tokens, no padding)")
        ax.set_ylabel("median latency (ms), band p10-p90")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)
    return path


def print_distribution(console, dist: dict | None, names: list[str], *, key, label) -> None:
    """The expected latency under DISTRIBUTION per row of the subject (names[0]), and the baseline's (names[1])
    over it for the same `key(row)`."""
    if not dist:
        return
    console.print(f"latency at a length distribution ({dist['name']}; mean {dist['mean_tokens']:.1f} tokens; "
                  f"source: {dist['source']}; {dist['method']}):")
    rows = {(r["model"], key(r)): r for r in dist["results"]}
    for (model, k), r in sorted(rows.items(), key=lambda kv: str(kv[0][1])):
        if model != names[0]:
            continue
        base = rows.get((names[1], k)) if len(names) > 1 else None
        ratio = f"; {names[1]} {base['expected_ms']:.2f} ms = {base['expected_ms'] / r['expected_ms']:.2f}x" if base else ""
        console.print(f"  {label(r):<32} {model} {r['expected_ms']:.2f} ms{ratio}")


PLOT = "latency_by_length.png"  # the file name every command writes beside its JSON
