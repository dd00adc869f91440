"""Validation of an exported artifact against PyTorch eager: names, shapes, then values, all collected."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.errors import UserError


class ValidationError(UserError):
    """The artifact's outputs differ from eager beyond tolerance (or in names/shapes)."""

    def __init__(self, summary: str, report: list[str]):
        super().__init__(summary)
        self.report = report


def eager_outputs(loaded, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    with torch.inference_mode():
        out = loaded.module(*[torch.from_numpy(inputs[n]) for n in loaded.input_names])
    return {n: t.numpy() for n, t in zip(loaded.output_names, out)}


@dataclass
class Deviation:
    max_abs_diff: float
    mean_abs_diff: float
    median_abs_diff: float

    @classmethod
    def between(cls, got: np.ndarray, want: np.ndarray) -> "Deviation":
        d = np.abs(got.astype(np.float64) - want.astype(np.float64))
        return cls(float(d.max()), float(d.mean()), float(np.median(d)))


def compare(loaded, runtime, shapes: list[tuple[int, int]], *, atol: float) -> tuple[list[dict], list[str]]:
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
            ok = dev.max_abs_diff <= atol
            entry["outputs"][name] = {**dev.__dict__, "within_tolerance": ok}
            mark = "✓" if ok else "x"
            report.append(f"-[{mark}] {tag}: max abs diff {dev.max_abs_diff:.3g} (mean {dev.mean_abs_diff:.3g}, "
                          f"median {dev.median_abs_diff:.3g}; atol {atol:g})")
            if not ok:
                failures.append(tag)
        results.append(entry)
    if failures:
        raise ValidationError(
            f"{runtime.name} output differs from PyTorch eager beyond tolerance on {', '.join(failures)}", report
        )
    return results, report


def max_abs_diff_by_output(results: list[dict]) -> dict[str, float]:
    worst: dict[str, float] = {}
    for entry in results:
        for name, dev in entry["outputs"].items():
            worst[name] = max(worst.get(name, 0.0), dev["max_abs_diff"])
    return worst
