"""Exact MACs/FLOPs of one forward pass (the command: android_bench.studies.flops).

Counted: the multiply-accumulates of every matrix product, i.e. Linear layers (addmm), 1x1 convolutions
with their groups (a Conv1d with groups=g does in/g x out x length MACs), and attention's QK^T and PV
(bmm or fused SDPA). FLOPs = 2 x MACs. Counted by torch's FlopCounterMode on the real Hugging Face module
(random weights: FLOPs do not depend on values), split per module type, and checked against a formula
from the config. Not counted: bias and residual adds, softmax, layer norm, GELU and embedding lookups.
"""
from __future__ import annotations

import re

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
