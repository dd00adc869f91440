"""The inputs of every desktop runtime checked against the I/O contract before it runs, in one place: each input
present, integer ids of one [batch, sequence] shape with values in their range (ids in the vocabulary), one text or
a pair for a string-in model; and a runtime's own failure reduced to one line. Without this, ONNX Runtime and
LiteRT take ids of -1 or 1.7 and answer, and TorchScript fails in a page of interpreter text."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models.contract import token_inputs
from models.errors import UserError

from . import ArtifactError, InputShapeError


def manifest_max_sequence(manifest: dict) -> int | None:
    """The most tokens the model embeds (its max_position_embeddings), from the manifest's model record."""
    value = (manifest.get("model") or {}).get("max_position_embeddings")
    return value if isinstance(value, int) else None


def manifest_value_ranges(manifest: dict) -> dict[str, tuple[int, int]] | None:
    """Input name -> [low, high] from the manifest's model record (None for a manifest written before it had
    vocab_size: then only presence, dtype and shape are checked)."""
    model = manifest.get("model") or {}
    if not isinstance(model.get("vocab_size"), int):
        return None
    return {t.name: t.value_range for t in token_inputs(model["vocab_size"], int(model.get("type_vocab_size", 2)))}


def _texts_ok(value) -> bool:
    return value.ndim == 1 and value.size in (1, 2) and all(isinstance(t, (str, bytes)) for t in value.tolist())


def _utf8(text) -> bool:
    """A text ONNX Runtime can pass on: str without lone surrogates (what a bad decode with surrogateescape
    leaves), or bytes that decode as UTF-8."""
    try:
        text.decode("utf-8") if isinstance(text, bytes) else text.encode("utf-8")
    except UnicodeError:
        return False
    return True


def _outside(value: np.ndarray, low: int, high: int) -> bool:
    """Any value outside [low, high]; from 0 in one pass (a negative value is a huge unsigned one): every run
    pays for this check."""
    if low == 0:
        return int(value.view(f"u{value.itemsize}").max()) > high
    return int(value.min()) < low or int(value.max()) > high


def check_inputs(file: str, inputs, names, *, value_ranges=None, max_sequence=None, text_inputs=()) -> None:
    """One line (InputShapeError) for inputs the model file does not take."""
    if not isinstance(inputs, Mapping):
        raise InputShapeError(f"{file} takes a dict of named arrays ({', '.join(names)}), got {type(inputs).__name__}")
    missing = [n for n in names if n not in inputs]
    if missing:
        raise InputShapeError(f"{file}: no {', '.join(missing)} in the inputs; feed every input: {', '.join(names)}")
    extra = [str(n) for n in inputs if n not in names]
    if extra:  # a misspelt or unsupported input would otherwise be dropped without a word
        raise InputShapeError(f"{file} does not take {', '.join(extra)}; it takes {', '.join(names)}: feed only "
                              "those")
    shape = None
    for name in names:
        value = np.asarray(inputs[name])
        if name in text_inputs:
            if not _texts_ok(value):
                raise InputShapeError(f"{file} takes {name} as one text or a pair [text, text_pair] (1 or 2 strings), "
                                      f"got {value.size} of shape {list(value.shape)}: feed one text or a pair")
            if not all(_utf8(t) for t in value.tolist()):
                raise InputShapeError(f"{file}: {name} must be valid UTF-8 (str without lone surrogates, or bytes "
                                      "that decode as UTF-8): decode the text correctly before feeding it")
            continue
        if value.dtype.kind not in "iu":
            raise InputShapeError(f"{file} takes integer {name} (token ids, int64 or int32), got {value.dtype}: "
                                  "feed the tokenizer's ids")
        if value.ndim != 2 or (shape is not None and value.shape != shape):
            raise InputShapeError(f"{file} takes {name} of shape [batch, sequence], the same for every input, got "
                                  f"{list(value.shape)}" + (f" beside {list(shape)}" if shape else ""))
        shape = value.shape
        if max_sequence and shape[1] > max_sequence:
            raise InputShapeError(f"{file} takes at most {max_sequence} tokens (max_position_embeddings), got "
                                  f"{shape[1]}: truncate the input to {max_sequence} tokens")
        low, high = (value_ranges or {}).get(name, (None, None))
        if low is not None and value.size and _outside(value, low, high):
            bad = value.min() if value.min() < low else value.max()
            raise InputShapeError(f"{file} takes {name} in {low}..{high}, got {bad}: "
                                  + ("ids of the model's own tokenizer (its vocab_size)" if name == "input_ids" else
                                     "feed the tokenizer's values"))


def _one_line(exc: Exception) -> str:
    """The line of a runtime's error that says what failed: TorchScript puts it last, under the traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return (lines[-1] if "TorchScript" in lines[0] else lines[0])[:200]


class CheckedRuntime:
    """A runtime whose `run` checks its inputs first and fails in one line; everything else is the runtime's."""

    def __init__(self, runtime, file: str, *, value_ranges=None, max_sequence=None):
        self._runtime, self._file = runtime, file
        self._limits = {"value_ranges": value_ranges, "max_sequence": max_sequence}

    def __getattr__(self, name):
        if name == "_runtime":  # not set yet (e.g. while unpickling): no endless lookup
            raise AttributeError(name)
        return getattr(self._runtime, name)

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        runtime = self._runtime
        check_inputs(self._file, inputs, runtime.input_names, text_inputs=getattr(runtime, "text_inputs", ()),
                     **self._limits)
        try:
            return runtime.run(inputs)
        except UserError:
            raise
        except Exception as exc:  # the runtime's own text, reduced to its one telling line
            raise ArtifactError(f"{self._file}: {runtime.name} failed on these inputs ({_one_line(exc)})") from exc
