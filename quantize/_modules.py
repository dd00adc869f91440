"""Module surgery shared by the PyTorch-side int8 recipes (TorchScript, ExecuTorch)."""
from __future__ import annotations

from typing import Callable

from torch import nn


def replace_modules_(module: nn.Module, kind: type, make: Callable[[nn.Module], nn.Module]) -> int:
    """Replace (in place) every submodule whose type is exactly `kind` with `make(it)`; returns how many.
    Exact type, not isinstance: subclasses (already-quantized layers, say) are not ours to rewrite."""
    count = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is kind:
                setattr(parent, name, make(child))
                count += 1
    return count
