"""The mobile SqueezeBERT graph is the same function as the Hugging Face model, in quantizable form."""
from __future__ import annotations

import pytest
import torch

import export
import models
from models.mobile import GROUPINGS, HEAD_SPLITS, GroupedPointwise, MobileSqueezeBert, mobile_module

ATOL = 1e-5  # fp32 rewrite vs the HF model: same weights, same math, only summation order differs


def _run(module, inputs):
    with torch.no_grad():
        return module(*[torch.from_numpy(inputs[n]) for n in models.INPUT_NAMES])


@pytest.mark.parametrize("groups", GROUPINGS)
@pytest.mark.parametrize("heads", HEAD_SPLITS)
@pytest.mark.parametrize("task", models.TASKS)
def test_mobile_graph_matches_the_hf_model(task, heads, groups):
    loaded = models.load("squeezebert-tiny", weights="random", task=task, seed=11)
    mobile = mobile_module(loaded, heads=heads, groups=groups)
    assert isinstance(mobile, MobileSqueezeBert)
    for batch, seq_len in [(1, 128), (2, 32), (3, 7)]:
        inputs = loaded.inputs(seq_len=seq_len, batch=batch)
        assert inputs["attention_mask"].min() == 0 or seq_len == 7  # padding exercised where there is room
        for want, got in zip(_run(loaded.module, inputs), _run(mobile, inputs)):
            assert got.shape == want.shape
            assert (got - want).abs().max().item() <= ATOL


@pytest.mark.parametrize("num_heads", [8, 2])  # 2 heads in each group; each head across 2 groups
def test_sliced_heads_match_whether_or_not_groups_hold_whole_heads(num_heads):
    from transformers import SqueezeBertConfig, SqueezeBertModel

    tiny = models.load("squeezebert-tiny", weights="random")
    config = SqueezeBertConfig.from_dict({**tiny.config.to_dict(), "num_attention_heads": num_heads})
    torch.manual_seed(3)
    hf = SqueezeBertModel(config).eval()
    mobile = MobileSqueezeBert(hf, "feature-extraction", heads="slices").eval()
    assert mobile.layers[0].heads_from_groups == (num_heads == 8)
    inputs = tiny.inputs(seq_len=32, batch=2)
    with torch.no_grad():
        want = hf(**{n: torch.from_numpy(inputs[n]) for n in models.INPUT_NAMES}).last_hidden_state
    assert (_run(mobile, inputs)[0] - want).abs().max().item() <= ATOL


def test_real_squeezebert_config_shapes_rewrite_exactly():
    """Full-size group layout (q/k/v/intermediate/output 4 groups, post-attention 1) on one layer."""
    conv = torch.nn.Conv1d(768, 3072, kernel_size=1, groups=4)
    x = torch.randn(2, 768, 40)
    want = conv(x).permute(0, 2, 1)
    (got,) = GroupedPointwise(conv)(x.permute(0, 2, 1))
    assert (got - want).abs().max().item() <= ATOL


@pytest.mark.parametrize("groups", ["batched", "broadcast", "conv"])
@pytest.mark.parametrize("num_heads", [12, 8])  # 3 and 2 heads a group
def test_batched_groups_match_at_full_width(num_heads, groups):
    """The full-size layer (768 hidden, 4 groups, 3072 intermediate) with its groups as one batched matmul or one
    grouped conv."""
    from transformers import SqueezeBertConfig, SqueezeBertModel

    tiny = models.load("squeezebert-tiny", weights="random")
    config = SqueezeBertConfig.from_dict({**tiny.config.to_dict(), "hidden_size": 768, "intermediate_size": 3072,
                                          "embedding_size": 768, "num_hidden_layers": 1,
                                          "num_attention_heads": num_heads})
    torch.manual_seed(5)
    hf = SqueezeBertModel(config).eval()
    mobile = MobileSqueezeBert(hf, "feature-extraction", groups=groups).eval()
    layer = mobile.layers[0]
    if groups == "conv":  # q, k and v of every group as one grouped 1x1 convolution
        assert layer.heads_from_conv and layer.qkv[0].grouped.weight.shape == (4 * 576, 192, 1)
    else:
        assert layer.heads_from_batch and layer.qkv[0].weight.shape == (4, 192, 576)
    linears = [m for m in mobile.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [layer.post_attention.linears[0], mobile.pooler.dense]  # the two ungrouped layers
    inputs = tiny.inputs(seq_len=40, batch=2)
    with torch.no_grad():
        want = hf(**{n: torch.from_numpy(inputs[n]) for n in models.INPUT_NAMES}).last_hidden_state
    assert (_run(mobile, inputs)[0] - want).abs().max().item() <= ATOL
    with pytest.raises(ValueError, match="unknown grouping"):
        mobile_module(tiny, groups="stacked")


def test_fused_q_k_v_give_each_projection_exactly():
    """q, k, v (768 -> 768, 4 groups each) as 4 Linears of 192 -> 576: each output is its conv's."""
    convs = [torch.nn.Conv1d(768, 768, kernel_size=1, groups=4) for _ in range(3)]
    fused = GroupedPointwise(*convs)
    assert len(fused.linears) == 4 and fused.linears[0].weight.shape == (576, 192)
    x = torch.randn(2, 768, 40)
    for conv, got in zip(convs, fused(x.permute(0, 2, 1))):
        assert (got - conv(x).permute(0, 2, 1)).abs().max().item() <= ATOL
    with pytest.raises(ValueError, match="same groups"):
        GroupedPointwise(convs[0], torch.nn.Conv1d(768, 768, kernel_size=1, groups=2))


def test_no_convolution_left_and_every_pointwise_layer_is_quantizable():
    loaded = models.load("squeezebert-tiny", weights="random")
    mobile = mobile_module(loaded)
    assert not [m for m in mobile.modules() if isinstance(m, torch.nn.Conv1d)]
    quantized = torch.ao.quantization.quantize_dynamic(mobile, {torch.nn.Linear}, dtype=torch.qint8)
    n_quantized = sum(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in quantized.modules())
    # per layer: q+k+v fused, intermediate, output 4 groups each + post-attention 1 = 13; + the pooler
    assert n_quantized == 2 * 13 + 1
    assert not [m for m in quantized.modules() if type(m) is torch.nn.Linear]


@pytest.mark.parametrize("task", models.TASKS)
def test_mobile_bert_only_replaces_the_mask_code(task):
    loaded = models.load("bert-tiny", weights="random", task=task, seed=2)
    mobile = mobile_module(loaded)
    assert type(mobile).__name__ == "MobileBert"
    assert sum(p.numel() for p in mobile.parameters()) == sum(p.numel() for p in loaded.module.parameters())
    for batch, seq_len in [(1, 64), (2, 20)]:
        inputs = loaded.inputs(seq_len=seq_len, batch=batch)
        for want, got in zip(_run(loaded.module, inputs), _run(mobile, inputs)):
            assert (got - want).abs().max().item() <= ATOL
    assert mobile_module(loaded, "reference") is loaded.module


@pytest.mark.parametrize("graph", ["mobile", "reference"])
def test_both_graphs_export_and_validate(tmp_path, graph):
    loaded = models.load("squeezebert-tiny", weights="random")
    artifact = export.export(export.get_format("onnx"), loaded, seq_len=32, out=tmp_path,
                             options={"graph": graph})["fp32"]
    census = artifact.manifest["onnx"]["op_census"]
    assert artifact.manifest["graph"] == graph
    # per layer: Hugging Face's q, k, v, post-attention, intermediate and output convs; the mobile graph's ONNX
    # default (groups="conv"): q+k+v fused, intermediate and output one grouped Conv each, post-attention a MatMul
    assert census["Conv"] == 2 * (6 if graph == "reference" else 3)
    assert artifact.manifest["validation"]["max_abs_diff"]["last_hidden_state"] <= 1e-4
