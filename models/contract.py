"""The input/output contract of a task, declared once: tensor names, symbolic dims, dtypes and value ranges.

Everything that names or shapes a tensor derives from it: the ONNX dynamic axes, the torch.export Dims, the
manifest's inputs and outputs, the validation inputs and the benchmark inputs. A format states only how it
differs (`specialize`: a fixed batch, a fixed sequence length, int32 ids). No torch here: the TensorFlow
subprocesses and the device-side runner import models/ too.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAMES = {
    "feature-extraction": ("last_hidden_state", "pooler_output"),
    "sequence-classification": ("logits",),
}
# What an app asset outputs instead (OutputHead): the one tensor a client library reads as it is.
HEAD_OUTPUTS = {"sequence-classification": "probabilities", "feature-extraction": "embedding"}
POOLINGS = ("mean", "cls", "pooler")
# The symbolic dims that a format may keep dynamic, with the range a dynamic export accepts.
BATCH, SEQUENCE = "batch", "sequence"
MAX_BATCH = 64
MIN_SEQUENCE = 2  # [CLS] [SEP]: what an empty text tokenizes to


@dataclass(frozen=True)
class OutputHead:
    """One output in place of the task's raw tensors, for client libraries that read a single [1, N] tensor as
    the answer (MediaPipe Tasks): softmax probabilities for classification (the library reports the tensor as
    scores and thresholds them), a pooled embedding [1, hidden] for feature extraction."""
    task: str
    pooling: str = "mean"  # feature extraction: "mean" (masked mean of last_hidden_state), "cls", "pooler"
    normalize: bool = False  # feature extraction: L2-normalise the embedding

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}")

    @property
    def output_name(self) -> str:
        return HEAD_OUTPUTS[self.task]

    def record(self) -> dict:
        if self.task == "sequence-classification":
            return {"output": self.output_name, "what": "softmax of the logits, in label order"}
        what = {"mean": "mean of last_hidden_state over the tokens the attention mask keeps",
                "cls": "last_hidden_state of the first ([CLS]) token", "pooler": "pooler_output"}[self.pooling]
        return {"output": self.output_name, "pooling": self.pooling, "normalize": self.normalize,
                "what": what + (", L2-normalised" if self.normalize else "")}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # numpy dtype name
    dims: tuple  # ints, or symbols: "batch", "sequence" (dynamic where the format allows), "hidden", "labels"
    value_range: tuple[int, int] | None = None  # inclusive [low, high] of an integer input

    def shape(self, sizes: dict[str, int], *, keep=(BATCH, SEQUENCE)) -> list:
        """The dims with every symbol outside `keep` replaced by its size."""
        return [d if isinstance(d, int) or d in keep else sizes[d] for d in self.dims]


@dataclass(frozen=True)
class IOContract:
    task: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    sizes: tuple[tuple[str, int], ...]  # fixed sizes of the model's symbols: hidden, labels
    max_sequence: int  # max_position_embeddings, or less where a format bounds the sequence (TFLite: --seq-len)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.outputs)

    def specialize(self, *, batch: int | None = None, sequence: int | None = None, max_sequence: int | None = None,
                   input_dtype: str | None = None) -> "IOContract":
        """The contract as a format implements it: `batch` / `sequence` fixed where given, the sequence dynamic up
        to `max_sequence` where given, ids of `input_dtype`."""
        if max_sequence is not None and not MIN_SEQUENCE <= max_sequence <= self.max_sequence:
            raise ValueError(f"max_sequence {max_sequence} is outside {MIN_SEQUENCE}..{self.max_sequence}")
        fixed = {BATCH: batch, SEQUENCE: sequence}

        def fix(spec: TensorSpec, dtype: str) -> TensorSpec:
            return replace(spec, dtype=dtype, dims=tuple(fixed.get(d) or d if isinstance(d, str) else d
                                                         for d in spec.dims))
        return replace(self, inputs=tuple(fix(t, input_dtype or t.dtype) for t in self.inputs),
                       outputs=tuple(fix(t, t.dtype) for t in self.outputs),
                       max_sequence=max_sequence or self.max_sequence)

    def dynamic_dims(self, spec: TensorSpec) -> dict[int, str]:
        """Axis -> symbol of the dims still dynamic (batch, sequence) in `spec`."""
        return {axis: d for axis, d in enumerate(spec.dims) if d in (BATCH, SEQUENCE)}

    def onnx_dynamic_axes(self) -> dict[str, dict[int, str]]:
        return {t.name: axes for t in self.inputs + self.outputs if (axes := self.dynamic_dims(t))}

    def dim_range(self, symbol: str) -> tuple[int, int]:
        return (1, MAX_BATCH) if symbol == BATCH else (MIN_SEQUENCE, self.max_sequence)

    def torch_export_dims(self) -> tuple[dict, ...]:
        """torch.export `dynamic_shapes` for the inputs, one shared Dim per symbol."""
        import torch

        dims = {}
        for t in self.inputs:
            for symbol in self.dynamic_dims(t).values():
                if symbol not in dims:
                    low, high = self.dim_range(symbol)
                    dims[symbol] = torch.export.Dim(symbol, min=low, max=high)
        return tuple({axis: dims[s] for axis, s in self.dynamic_dims(t).items()} for t in self.inputs)

    def value_ranges(self) -> dict[str, tuple[int, int]]:
        """Input name -> inclusive [low, high] of its values: what a runtime checks before it runs."""
        return {t.name: t.value_range for t in self.inputs if t.value_range is not None}

    def records(self) -> tuple[list[dict], list[dict]]:
        """The manifest's inputs and outputs: name, dtype, shape (symbols kept where dynamic)."""
        sizes = dict(self.sizes)

        def record(t: TensorSpec) -> dict:
            return {"name": t.name, "dtype": t.dtype, "shape": t.shape(sizes)}
        return [record(t) for t in self.inputs], [record(t) for t in self.outputs]


def token_inputs(vocab_size: int, type_vocab_size: int = 2) -> tuple[TensorSpec, ...]:
    """The inputs of every task: ids in the vocabulary, a 0/1 mask, segment ids in the type vocabulary."""
    tokens = (BATCH, SEQUENCE)
    return (TensorSpec("input_ids", "int64", tokens, (0, vocab_size - 1)),
            TensorSpec("attention_mask", "int64", tokens, (0, 1)),
            TensorSpec("token_type_ids", "int64", tokens, (0, type_vocab_size - 1)))


def task_contract(task: str, config, labels: list[str] | None = None, head: OutputHead | None = None) -> IOContract:
    """The contract of `task` for a BERT-family `config` (vocab, type vocab, hidden size, max positions); with
    `head`, its one output in place of the task's own."""
    inputs = token_inputs(int(config.vocab_size), int(getattr(config, "type_vocab_size", 2)))
    shapes = {"last_hidden_state": (BATCH, SEQUENCE, "hidden"), "pooler_output": (BATCH, "hidden"),
              "logits": (BATCH, "labels"), "probabilities": (BATCH, "labels"), "embedding": (BATCH, "hidden")}
    names = (head.output_name,) if head is not None else OUTPUT_NAMES[task]
    outputs = tuple(TensorSpec(n, "float32", shapes[n]) for n in names)
    return IOContract(task=task, inputs=inputs, outputs=outputs,
                      sizes=(("hidden", int(config.hidden_size)), ("labels", len(labels or []))),
                      max_sequence=int(config.max_position_embeddings))
