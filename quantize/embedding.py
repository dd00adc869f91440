"""Weight-only int8 embeddings for the PyTorch-side formats (TorchScript, ExecuTorch), in plain aten ops:
ExecuTorch's portable kernels have no quantized embedding op.

Each row of the table is stored as int8 with its own float scale (symmetric); a lookup gathers int8 rows and
their scales and multiplies. Plain aten ops, so torch.export and every runtime handle it. The gathers are
`aten.embedding` (a row copy in ExecuTorch's portable kernels), not `table[ids]`: portable `index.Tensor`
walks element by element, 1.8 ms per 128-token lookup on x86, whatever the table size.
"""
from __future__ import annotations

import torch
from torch import nn

from ._modules import replace_modules_


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A table as int8 rows, symmetric, with one float scale a row ([rows, 1])."""
    scale = weight.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
    return torch.round(weight / scale).clamp(-127, 127).to(torch.int8), scale.to(torch.float32)


class Int8Embedding(nn.Module):
    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        qweight, scale = quantize_rows(embedding.weight.detach())
        self.register_buffer("qweight", qweight)
        self.register_buffer("scale", scale)

    def forward(self, ids):
        return nn.functional.embedding(ids, self.qweight).to(torch.float32) * nn.functional.embedding(ids, self.scale)


def quantize_embeddings_(module: nn.Module) -> int:
    """Replace every nn.Embedding in `module` (in place) with Int8Embedding; returns how many."""
    return replace_modules_(module, nn.Embedding, Int8Embedding)
