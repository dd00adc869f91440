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


class HeadModule(torch.nn.Module):
    """A task module with an app asset's one output (models.contract.OutputHead) in place of its own: softmax
    probabilities of the logits, or the pooled embedding of the hidden states."""

    def __init__(self, module: torch.nn.Module, head):
        super().__init__()
        self.module, self.head = module, head
        self.output_names = (head.output_name,)

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.module(input_ids, attention_mask, token_type_ids)
        if self.head.task == "sequence-classification":
            return (torch.softmax(out[0], dim=-1),)
        hidden = out[0]
        if self.head.pooling == "mean":  # the padded tokens count for nothing
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        elif self.head.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            pooled = out[1]
        if self.head.normalize:  # F.normalize, written with ops every converter takes (onnx2tf fails on ReduceL2)
            pooled = pooled / (pooled * pooled).sum(dim=-1, keepdim=True).clamp(min=1e-24).sqrt()
        return (pooled,)


def with_head(module: torch.nn.Module, head) -> torch.nn.Module:
    """`module` with `head` (None: as it is)."""
    return module if head is None else HeadModule(module, head).eval()
