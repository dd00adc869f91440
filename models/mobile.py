"""The mobile graph of SqueezeBERT: the same function as the Hugging Face model, in the form phones run fast.

SqueezeBERT's reference code keeps activations channel-major ([batch, hidden, seq], NCW) and runs every
pointwise layer as a grouped `nn.Conv1d(kernel_size=1, groups=g)`. That form costs on every path to a phone:
quantizers that only know Linear/MatMul leave the convolutions in fp32 (torch `quantize_dynamic`, XNNPACK
dynamic linear) or pick a slow kernel (ORT ConvInteger); converters wrap each conv in Transposes; the NCW
LayerNorm (permute, normalize, permute back) stays off XNNPACK.

A grouped 1x1 convolution is exactly `g` independent matrix multiplies over channel slices. So here the model
is token-major ([batch, seq, hidden], like BERT) end to end, each grouped pointwise layer is `g` `nn.Linear`
on channel slices (groups == 1 is a single Linear), LayerNorm is a plain last-axis `nn.LayerNorm`, and the
attention mask is a simple additive float mask. Weights are copied, never changed: `mobile_module(loaded)`
is equivalence-tested against the Hugging Face model (tests/test_mobile_graph.py).

Splitting the hidden axis into attention heads is a layout change, done one of two ways (`heads=`):
"transpose" (view + transpose: 4 Transposes a layer, which XNNPACK runs inside the ExecuTorch delegate) or
"slices" (the heads sliced off the hidden axis and concatenated: only K^T is a Transpose, 1 a layer; measured
with XNNPACK on x86, 2 threads: ExecuTorch 4-6% slower, since the slice copies stay on portable kernels,
LiteRT and ONNX Runtime within noise). Sliced, q's and v's heads come straight off each group's output of the
fused q/k/v projection (a group holds whole heads), not via q and v concatenated and sliced again: 8 slices and 2
concatenations fewer a layer, SqueezeBERT TFLite int8 3-4% faster (x86, 1 and 2 threads, 300 interleaved runs).
The batched forms below split the heads their own way (MobileLayer._qkv).

A layer's groups run one of four ways (`groups=`), each exporter picking what its runtime runs fastest, by
measurement: "linears" (one nn.Linear a group: what torch's and XNNPACK's dynamic quantizers cover, so TorchScript
and ExecuTorch use it, XNNPACK's dynamic int8 not taking bmm), "batched" (one bmm of the [g, B*S, K] input with a
constant [g, K, N] weight, any batch: ONNX's int8, which ORT threads over the groups; its fp32 is slower there),
"broadcast" (a [B, g, S, K] input, the batch fixed at 1 by the format: TFLite, where onnx2tf makes each grouped
layer one BATCH_MATMUL with a constant weight that XNNPACK runs in fp32 and dynamic int8; export/tflite/convert.py
says what it gained) or "conv" (one grouped Conv1d on channel-major activations, Hugging Face's own form between
token-major layers: ONNX fp32, where ORT threads over the groups; export/onnx.py says what it gained).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ._heads import with_head
from .contract import OUTPUT_NAMES

GRAPHS = ("mobile", "reference")
HEAD_SPLITS = ("transpose", "slices")
GROUPINGS = ("linears", "batched", "broadcast", "conv")


class GroupedPointwise(nn.Module):
    """One or more `Conv1d(cin, cout_i, kernel_size=1, groups=g)` that read the same input (SqueezeBERT's q, k, v),
    as `g` Linear layers on token-major input [..., cin] (or, by `groups=`, one batched matmul or one grouped
    conv: the module docstring). Group j's Linear stacks every conv's group-j weights,
    so each input slice is read (and, in int8, quantized) once and the GEMM is wider. forward returns one
    output per conv, as a tuple."""

    @staticmethod
    def fusable(*convs: nn.Conv1d) -> bool:
        return len({(c.groups, c.in_channels) for c in convs}) == 1

    def __init__(self, *convs: nn.Conv1d, groups: str = "linears"):
        super().__init__()
        if not self.fusable(*convs):
            raise ValueError("convolutions fused into one GroupedPointwise need the same groups and input")
        g, cin = convs[0].groups, convs[0].in_channels
        self.groups, self.split, self.widths = g, cin // g, [c.out_channels // g for c in convs]
        bias = convs[0].bias is not None
        weights = [torch.cat([c.weight.data[j * w:(j + 1) * w, :, 0] for c, w in zip(convs, self.widths)])
                   for j in range(g)]  # group j: [out, in]
        biases = [torch.cat([c.bias.data[j * w:(j + 1) * w] for c, w in zip(convs, self.widths)]) if bias else None
                  for j in range(g)]
        self.batched = groups in ("batched", "broadcast") and g > 1
        self.broadcast = self.batched and groups == "broadcast"
        self.conv = groups == "conv" and g > 1
        if self.conv:  # the groups as one grouped 1x1 Conv1d on channel-major input, as Hugging Face runs them
            self.grouped = nn.Conv1d(cin, g * sum(self.widths), 1, groups=g, bias=bias)
            self.grouped.weight.data.copy_(torch.cat(weights)[:, :, None])
            if bias:
                self.grouped.bias.data.copy_(torch.cat(biases))
            return
        if self.batched:  # the groups as one batched matmul with a constant [g, in, out] weight
            self.weight = nn.Parameter(torch.stack([w.t() for w in weights]))
            self.bias = nn.Parameter(torch.stack(biases)[:, None, :]) if bias else None
            return
        self.linears = nn.ModuleList()
        for w, b in zip(weights, biases):
            linear = nn.Linear(cin // g, sum(self.widths), bias=bias)
            linear.weight.data.copy_(w)
            if bias:
                linear.bias.data.copy_(b)
            self.linears.append(linear)

    # batched: the tokens of every sequence in a batch are rows of one [g, B*S, K] x [g, K, N] bmm, no broadcast
    # batch axis (torch.matmul's broadcasting specializes B to the example's 1 in torch.export). broadcast (batch
    # fixed at 1): [B, g, S, K] x [g, K, N], whose 4-D layout ops onnx2tf converts (its layout inference fails
    # on the 3-D transpose of [B*S, g, K]) and whose leading batch axis ExecuTorch exports as it is.
    def to_groups(self, x):  # [B, S, cin] -> [g, B*S, cin / g] (broadcast: [B, g, S, cin / g])
        if self.broadcast:
            return x.unflatten(-1, (self.groups, self.split)).transpose(1, 2)
        return x.reshape(-1, self.groups, self.split).transpose(0, 1)

    def batched_matmul(self, x):  # -> [..., sum(widths)], groups where to_groups put them
        y = torch.matmul(x, self.weight) if self.broadcast else torch.bmm(x, self.weight)
        return y if self.bias is None else y + self.bias

    def from_groups(self, y, like):  # [g, B*S, n] or [B, g, S, n] -> [B, S, g * n], B and S those of `like`
        if self.broadcast:
            return y.transpose(1, 2).flatten(2)
        return y.transpose(0, 1).reshape(like.shape[0], like.shape[1], -1)

    def conv_outputs(self, x):  # [B, S, cin] -> [B, S, g * sum(widths)]: each group's outputs, in group order
        return self.grouped(x.transpose(1, 2)).transpose(1, 2)

    def group_outputs(self, x) -> list:
        """Each group's Linear output, [..., sum(widths)], in group order."""
        if len(self.linears) == 1:
            return [self.linears[0](x)]
        return [linear(part) for linear, part in zip(self.linears, x.split(self.split, dim=-1))]

    def output(self, parts: list, index: int):
        """Conv `index`'s output from `group_outputs`: its channels of every group's output, in group order."""
        start = sum(self.widths[:index])
        return torch.cat([part[..., start:start + self.widths[index]] for part in parts], dim=-1)

    def forward(self, x) -> tuple:
        if self.batched:
            y, start = self.batched_matmul(self.to_groups(x)), 0
            outputs = []
            for width in self.widths:
                outputs.append(self.from_groups(y[..., start:start + width], x))
                start += width
            return tuple(outputs)
        if self.conv:
            y = self.conv_outputs(x)
            if len(self.widths) == 1:
                return (y,)
            parts = list(y.unflatten(-1, (self.groups, -1)).unbind(-2))  # each group's outputs
        else:
            parts = self.group_outputs(x)
        if len(self.widths) == 1:
            return (parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1),)
        return tuple(self.output(parts, i) for i in range(len(self.widths)))


def _layer_norm(ln: nn.LayerNorm) -> nn.LayerNorm:
    """SqueezeBertLayerNorm permutes NCW around nn.LayerNorm; token-major input needs the plain one."""
    plain = nn.LayerNorm(ln.normalized_shape, eps=ln.eps)
    plain.load_state_dict(ln.state_dict())
    return plain


class MobileLayer(nn.Module):
    def __init__(self, layer, num_heads: int, heads: str, groups: str = "linears"):
        super().__init__()
        att = layer.attention
        self.heads, self.head_size, self.sliced = num_heads, att.attention_head_size, heads == "slices"
        qkv = (att.query, att.key, att.value)
        if GroupedPointwise.fusable(*qkv):  # every SqueezeBERT config: one Linear a group
            self.qkv = nn.ModuleList([GroupedPointwise(*qkv, groups=groups)])
        else:
            self.qkv = nn.ModuleList(GroupedPointwise(c, groups=groups) for c in qkv)
        self.post_attention = GroupedPointwise(layer.post_attention.conv1d, groups=groups)
        self.post_attention_norm = _layer_norm(layer.post_attention.layernorm)
        self.intermediate = GroupedPointwise(layer.intermediate.conv1d, groups=groups)
        self.act = layer.intermediate.act
        self.output = GroupedPointwise(layer.output.conv1d, groups=groups)
        self.output_norm = _layer_norm(layer.output.layernorm)
        # Intermediate group j writes exactly the channels output group j reads (same group count): the FFN can
        # run group by group, without concatenating the 4x-wide intermediate activation and splitting it again.
        self.ffn_by_group = self.intermediate.groups == self.output.groups > 1 and not self.intermediate.conv
        whole_heads = len(self.qkv) == 1 and all(w % self.head_size == 0 for w in self.qkv[0].widths)
        # sliced heads straight off each group's q/k/v output (module docstring); every SqueezeBERT config qualifies
        self.heads_from_groups = self.sliced and whole_heads and not (self.qkv[0].batched or self.qkv[0].conv)
        # conv with q, k, v alike: every head of q, k and v from one reshape + permute of the conv's output
        self.heads_from_conv = whole_heads and self.qkv[0].conv and len(set(self.qkv[0].widths)) == 1
        # batched: each group's heads are one reshape + permute of its slice of the q|k|v output (K^T a Transpose more)
        self.heads_from_batch = whole_heads and self.qkv[0].batched
        # broadcast with q, k, v alike: all heads at once, in (q|k|v, head of the group, group) order, which
        # _merge_heads undoes: 7 layout ops a layer fewer in TFLite than a reshape + permute per slice
        self.heads_interleaved = self.heads_from_batch and self.qkv[0].broadcast and len(set(self.qkv[0].widths)) == 1

    def _ffn(self, x):
        if self.ffn_by_group and self.intermediate.batched:
            hidden = self.act(self.intermediate.batched_matmul(self.intermediate.to_groups(x)))
            return self.output.from_groups(self.output.batched_matmul(hidden), x)
        if not self.ffn_by_group:
            return self.output(self.act(self.intermediate(x)[0]))[0]
        parts = x.split(self.intermediate.split, dim=-1)
        return torch.cat([out(self.act(inner(part))) for inner, out, part in
                          zip(self.intermediate.linears, self.output.linears, parts)], dim=-1)

    def _heads(self, x):  # [B, S, H] -> [B, heads, S, head_size]
        if self.sliced:
            return torch.cat(x.unsqueeze(1).split(self.head_size, dim=-1), dim=1)
        return x.view(x.shape[0], x.shape[1], self.heads, self.head_size).transpose(1, 2)

    def _merge_heads(self, x):  # [B, heads, S, head_size] -> [B, S, H]
        if self.heads_interleaved:  # heads in (head of the group, group) order -> channels in (group, head) order
            return x.unflatten(1, (-1, self.qkv[0].groups)).permute(0, 3, 2, 1, 4).flatten(2)
        if self.sliced:
            return torch.cat(x.split(1, dim=1), dim=-1).squeeze(1)
        return x.transpose(1, 2).flatten(2)

    def _qkv(self, x):  # q, v: [B, heads, S, head_size]; K^T: [B, heads, head_size, S]
        if self.heads_from_conv:  # [B, S, g x (q|k|v) x heads of the group x head_size] -> heads in (group, head) order
            projection = self.qkv[0]
            g, n = projection.groups, len(projection.widths)
            y = projection.conv_outputs(x).unflatten(-1, (g, n, -1, self.head_size))
            q, k, v = y.permute(3, 0, 2, 4, 1, 5).flatten(2, 3).unbind(0)
            return q, k.transpose(2, 3), v
        if self.heads_from_batch:
            projection = self.qkv[0]
            y = projection.batched_matmul(projection.to_groups(x))  # [g, B*S, q|k|v] or [B, g, S, q|k|v]
            if self.heads_interleaved:  # [B, g, S, 3 x heads of the group x head_size] -> [B, 3 x heads, S, ...]
                t = y.unflatten(-1, (-1, self.head_size)).permute(0, 3, 1, 2, 4).flatten(1, 2)
                q, k, v = t.split(self.heads, dim=1)
                return q, k.transpose(2, 3), v
            w = projection.widths
            q, k, v = y[..., :w[0]], y[..., w[0]:w[0] + w[1]], y[..., w[0] + w[1]:]
            # K^T as its own last-two-axes Transpose, which ORT folds into the attention MatMul (FusedMatMul);
            # one 5-D permute straight to K^T took 0.33 ms a layer (full size, 128 tokens, 1 thread)
            return self._group_heads(q, x), self._group_heads(k, x).transpose(2, 3), self._group_heads(v, x)
        if not self.heads_from_groups:
            q, k, v = (out for projection in self.qkv for out in projection(x))
            return self._heads(q), self._keys_t(k), self._heads(v)
        projection = self.qkv[0]
        parts = projection.group_outputs(x)
        rows = [part.unsqueeze(1) for part in parts]  # [B, 1, S, q|k|v of the group]

        def heads(index):  # projection output `index` (0 q, 2 v), its heads in order
            start, width = sum(projection.widths[:index]), projection.widths[index]
            return torch.cat([row[..., i:i + self.head_size] for row in rows
                              for i in range(start, start + width, self.head_size)], dim=1)
        return heads(0), self._keys_t(projection.output(parts, 1)), heads(2)

    def _keys_t(self, k):  # [B, S, H] -> [B, heads, head_size, S]
        return k.transpose(1, 2).unflatten(1, (self.heads, self.head_size))

    def _group_heads(self, t, like):
        """A batched q|k|v slice -> [B, heads, S, head_size]: one reshape and one permute, heads in group order."""
        if self.qkv[0].broadcast:  # [B, g, S, n] -> [B, g, S, heads of the group, head_size]
            t, order = t.unflatten(-1, (-1, self.head_size)), (0, 1, 3, 2, 4)
        else:  # [g, B*S, n] -> [g, B, S, heads of the group, head_size]
            t, order = t.reshape(t.shape[0], like.shape[0], like.shape[1], -1, self.head_size), (1, 0, 3, 2, 4)
        return t.permute(*order).flatten(1, 2)

    def forward(self, x, mask):
        q, keys_t, v = self._qkv(x)
        scores = torch.matmul(q, keys_t) / math.sqrt(self.head_size) + mask
        context = self._merge_heads(torch.matmul(torch.softmax(scores, dim=-1), v))
        attended = self.post_attention_norm(self.post_attention(context)[0] + x)
        return self.output_norm(self._ffn(attended) + attended)


class MobileSqueezeBert(nn.Module):
    """forward(input_ids, attention_mask, token_type_ids) -> the task's outputs, like models.TaskModule."""

    def __init__(self, hf_model, task: str, heads: str = "transpose", groups: str = "linears"):
        super().__init__()
        base = hf_model.transformer if hasattr(hf_model, "transformer") else hf_model
        config = base.config
        self.task, self.output_names = task, OUTPUT_NAMES[task]
        self.embeddings = base.embeddings  # token-major already: word + position + type, LayerNorm
        self.layers = nn.ModuleList(MobileLayer(layer, config.num_attention_heads, heads, groups) for layer in base.encoder.layers)
        self.pooler = base.pooler
        self.classifier = hf_model.classifier if task == "sequence-classification" else None

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        # Additive mask, [B, 1, 1, S]: 0 where attended, the most negative float where padded (as HF does).
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, mask)
        pooled = self.pooler(x)
        if self.classifier is not None:
            return (self.classifier(pooled),)
        return x, pooled


class MobileBert(nn.Module):
    """BERT is already dense Linear layers in token-major layout; only its mask is rewritten: the HF
    embeddings and encoder are called with a plain additive float mask instead of transformers 5's mask
    builder, which PT2E calibration chokes on (`IndexError: tensors used as indices must be long...`)."""

    def __init__(self, hf_model, task: str):
        super().__init__()
        base = hf_model.bert if hasattr(hf_model, "bert") else hf_model
        self.task, self.output_names = task, OUTPUT_NAMES[task]
        self.embeddings, self.encoder, self.pooler = base.embeddings, base.encoder, base.pooler
        self.classifier = hf_model.classifier if task == "sequence-classification" else None

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        x = self.encoder(x, attention_mask=mask)[0]
        pooled = self.pooler(x)
        if self.classifier is not None:
            return (self.classifier(pooled),)
        return x, pooled


def mobile_module(loaded, graph: str = "mobile", heads: str = "transpose", groups: str = "linears") -> nn.Module:
    """The module exporters trace for `graph`: the mobile rewrite of the model's family, or for "reference"
    (and families without a rewrite) the Hugging Face model as is. `heads` (SqueezeBERT's own attention; BERT
    keeps Hugging Face's): see the module docstring."""
    if graph not in GRAPHS:
        raise ValueError(f"unknown graph {graph!r}; choose one of {', '.join(GRAPHS)}")
    if heads not in HEAD_SPLITS:
        raise ValueError(f"unknown head split {heads!r}; choose one of {', '.join(HEAD_SPLITS)}")
    if groups not in GROUPINGS:
        raise ValueError(f"unknown grouping {groups!r}; choose one of {', '.join(GROUPINGS)}")
    if graph == "reference":
        return loaded.module  # with the app head, if any, already
    if loaded.family == "squeezebert":
        return with_head(MobileSqueezeBert(loaded.hf_model, loaded.task, heads, groups).eval(), loaded.head)
    if loaded.family == "bert":
        return with_head(MobileBert(loaded.hf_model, loaded.task).eval(), loaded.head)
    return loaded.module
