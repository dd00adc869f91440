"""Task heads as traceable modules: positional int64 inputs in, a tuple of named tensors out."""
from __future__ import annotations

import torch

from .contract import OUTPUT_NAMES


class TaskModule(torch.nn.Module):
    """Wraps an HF model so exporters see forward(input_ids, attention_mask, token_type_ids) -> tuple."""

    def __init__(self, hf_model: torch.nn.Module, task: str):
        super().__init__()
        self.hf_model = hf_model
        self.task = task
        self.output_names = OUTPUT_NAMES[task]

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.hf_model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                            return_dict=True)
        return tuple(out[name] for name in self.output_names)
