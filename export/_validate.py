"""Validation of an exported artifact against PyTorch eager: names, shapes, then values, all collected."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.errors import UserError


class ValidationError(UserError):
    """The artifact's outputs differ from eager beyond tolerance (or in names/shapes)."""

    def __init__(self, summary: str, report: list[str]):
        super().__init__(summary)
        self.report = report


@dataclass(frozen=True)
class Tolerance:
    """fp32 artifacts must match eager within `atol`; quantized ones are judged by direction (cosine
    similarity per token / row, averaged), since int8 rounding moves every value a little."""
    atol: float | None = None
    min_cosine: float | None = None

    def describe(self) -> str:
        return f"atol {self.atol:g}" if self.atol is not None else f"mean cosine >= {self.min_cosine:g}"

    def passes(self, dev: "Deviation") -> bool:
        if self.atol is not None and dev.max_abs_diff > self.atol:
            return False
        return self.min_cosine is None or dev.mean_cosine >= self.min_cosine


def eager_outputs(loaded, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import torch

    with torch.inference_mode():
        out = loaded.module(*[torch.from_numpy(inputs[n]) for n in loaded.input_names])
    return {n: t.numpy() for n, t in zip(loaded.output_names, out)}


def mean_cosine(got: np.ndarray, want: np.ndarray) -> float:
    """Cosine similarity along the last axis (per token, or per row), averaged."""
    a = got.reshape(-1, got.shape[-1]).astype(np.float64)
    b = want.reshape(-1, want.shape[-1]).astype(np.float64)
    denom = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return float(np.mean(np.sum(a * b, axis=1) / np.maximum(denom, 1e-30)))


@dataclass
class Deviation:
    max_abs_diff: float
    mean_abs_diff: float
    median_abs_diff: float
    mean_cosine: float

    @classmethod
    def between(cls, got: np.ndarray, want: np.ndarray) -> "Deviation":
        d = np.abs(got.astype(np.float64) - want.astype(np.float64))
        return cls(float(d.max()), float(d.mean()), float(np.median(d)), mean_cosine(got, want))


def compare(loaded, runtime, shapes: list[tuple[int, int]], *, tolerance: Tolerance) -> tuple[list[dict], list[str]]:
    """Run eager and `runtime` on sample inputs of each (batch, seq_len); raise ValidationError on any miss."""
    results, report, failures = [], [], []
    for batch, seq_len in shapes:
        inputs = loaded.inputs(seq_len=seq_len, batch=batch)
        want = eager_outputs(loaded, inputs)
        got = runtime.run(inputs)
        entry = {"batch": batch, "seq_len": seq_len, "outputs": {}}
        for name, ref in want.items():
            tag = f"{name} [{batch}x{seq_len}]"
            if name not in got:
                failures.append(tag)
                report.append(f"-[x] {tag}: missing from the artifact's outputs {sorted(got)}")
                continue
            if got[name].shape != ref.shape:
                failures.append(tag)
                report.append(f"-[x] {tag}: shape {got[name].shape} != eager {ref.shape}")
                continue
            dev = Deviation.between(got[name], ref)
            ok = tolerance.passes(dev)
            entry["outputs"][name] = {**dev.__dict__, "within_tolerance": ok}
            report.append(f"-[{'✓' if ok else 'x'}] {tag}: max abs diff {dev.max_abs_diff:.3g} (mean "
                          f"{dev.mean_abs_diff:.3g}, median {dev.median_abs_diff:.3g}, cosine {dev.mean_cosine:.6f}; "
                          f"{tolerance.describe()})")
            if not ok:
                failures.append(tag)
        results.append(entry)
    if failures:
        raise ValidationError(
            f"{runtime.name} output differs from PyTorch eager beyond tolerance on {', '.join(failures)}", report
        )
    return results, report


def worst_by_output(results: list[dict]) -> dict[str, dict[str, float]]:
    """Per output, the largest max abs diff and the lowest mean cosine over all validated shapes."""
    worst: dict[str, dict[str, float]] = {}
    for entry in results:
        for name, dev in entry["outputs"].items():
            w = worst.setdefault(name, {"max_abs_diff": 0.0, "mean_cosine": 1.0})
            w["max_abs_diff"] = max(w["max_abs_diff"], dev["max_abs_diff"])
            w["mean_cosine"] = min(w["mean_cosine"], dev["mean_cosine"])
    return worst


def max_abs_diff_by_output(results: list[dict]) -> dict[str, float]:
    return {name: w["max_abs_diff"] for name, w in worst_by_output(results).items()}
