"""Config values that cannot build a model, refused in one line before transformers or torch see them: on main they
ended as a negative-dimension RuntimeError, a ZeroDivisionError, an AssertionError, or (num_hidden_layers: 1000000)
memory climbing until the process was killed."""
from __future__ import annotations

import logging
import os

from .errors import UserError

log = logging.getLogger("models")
NO_SIZE_LIMITS = "SQUEEZEBERT_MOBILE_NO_SIZE_LIMITS"
SIZES = ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size",
         "max_position_embeddings", "type_vocab_size")
SQUEEZEBERT_GROUPS = {  # each grouped Conv1d splits its input and output channels into this many groups
    "q_groups": ("hidden_size",), "k_groups": ("hidden_size",), "v_groups": ("hidden_size",),
    "post_attention_groups": ("hidden_size",), "intermediate_groups": ("hidden_size", "intermediate_size"),
    "output_groups": ("intermediate_size", "hidden_size"),
}
# Far past every real BERT-family checkpoint, short of configs that exhaust memory while the model is built:
# bert-large has 24 layers, 1024 hidden, 4096 intermediate; Megatron-BERT 3.9B 48 layers, 2560 hidden;
# multilingual vocabularies reach 250k tokens; long-context BERTs embed 8192 positions.
SIZE_BOUNDS = {"num_hidden_layers": 96, "hidden_size": 16384, "intermediate_size": 65536, "vocab_size": 1_000_000,
               "max_position_embeddings": 65536, "type_vocab_size": 1024}


def size_limits_lifted() -> bool:
    """Whether the user set NO_SIZE_LIMITS to go past a size bound on purpose (model sizes here, thread counts in
    android_bench)."""
    return os.environ.get(NO_SIZE_LIMITS, "").strip().lower() in ("1", "true", "yes", "on")


def _where(source: str, field: str, value) -> str:
    return f"{source!r}: config.json {field} is {value!r}"


def _check_whole_numbers(values: dict, source: str, fields) -> None:
    for field in fields:
        if field not in values:
            continue  # transformers' default applies, and is valid
        value = values[field]
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{_where(source, field, value)} ({type(value).__name__}); it must be a whole number "
                            f"of at least 1 (e.g. {field}: 4): fix config.json")
        if value < 1:
            raise UserError(f"{_where(source, field, value)}; it must be at least 1: fix config.json")


def _check_divides(values: dict, source: str, divisor: str, sizes) -> None:
    for size in sizes:
        if divisor in values and size in values and values[size] % values[divisor]:
            raise UserError(f"{_where(source, divisor, values[divisor])}, which does not divide {size} "
                            f"({values[size]}); it must be a divisor of {size}: fix config.json")


def _check_bounds(values: dict, source: str) -> None:
    for field, bound in SIZE_BOUNDS.items():
        if values.get(field, 0) <= bound:
            continue
        if size_limits_lifted():
            log.warning("WARNING: %s: config.json %s is %s, above the bound of %s; building it anyway (%s is set)",
                        source, field, values[field], bound, NO_SIZE_LIMITS)
            continue
        raise UserError(f"{_where(source, field, values[field])}, above the bound of {bound} (past any BERT-family "
                        f"model; building it could exhaust memory): fix config.json, or set {NO_SIZE_LIMITS}=1 to "
                        "build it anyway")


def check_config_values(values: dict, source: str, *, bounds: bool = True) -> None:
    """One line naming the config.json field, its value and what is allowed, for sizes that cannot build a bert
    or squeezebert model; `bounds` also refuses sizes past SIZE_BOUNDS unless SQUEEZEBERT_MOBILE_NO_SIZE_LIMITS
    is set. Fields absent from `values` are skipped (their defaults are valid)."""
    squeezebert = values.get("model_type") == "squeezebert"
    groups = tuple(SQUEEZEBERT_GROUPS) if squeezebert else ()
    _check_whole_numbers(values, source, SIZES + groups)
    _check_divides(values, source, "num_attention_heads", ("hidden_size",))
    for group in groups:
        _check_divides(values, source, group, SQUEEZEBERT_GROUPS[group])
    embedding = values.get("embedding_size", values.get("hidden_size"))
    if squeezebert and "hidden_size" in values and embedding != values["hidden_size"]:
        raise UserError(f"{_where(source, 'embedding_size', embedding)}, but SqueezeBERT needs it equal to "
                        f"hidden_size ({values['hidden_size']}): fix config.json")
    pad = values.get("pad_token_id")
    vocab = values.get("vocab_size")
    if isinstance(pad, int) and not isinstance(pad, bool) and isinstance(vocab, int) and not -vocab <= pad < vocab:
        raise UserError(f"{_where(source, 'pad_token_id', pad)}, outside the embedding table of vocab_size {vocab} "
                        f"(allowed: {-vocab}..{vocab - 1}): fix config.json")
    if bounds:
        _check_bounds(values, source)
