"""What a checkpoint must be before it is used: no code of its own, a supported architecture, a real vocabulary,
labels an app can list. Weights are data only: transformers loads safetensors, or torch.load with weights_only
(passed explicitly, so TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD cannot turn it off)."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from ._config_checks import check_config_values
from ._registry import FAMILIES
from .errors import UserError

# transformers' auto classes run a checkpoint's own Python files where one of these names a class in them
CODE_FILES = ("config.json", "tokenizer_config.json")


def checkpoint_file(source: str, name: str, *, cache_only: bool) -> Path | None:
    """`name` in the checkpoint folder, or fetched (as data) from the hub or the HF cache; None if it has none."""
    if Path(source).is_dir():
        path = Path(source) / name
        return path if path.is_file() else None
    from transformers.utils import cached_file

    try:
        found = cached_file(source, name, local_files_only=cache_only, _raise_exceptions_for_missing_entries=False,
                            _raise_exceptions_for_connection_errors=False)
    except (OSError, ValueError):  # unreachable or not cached: loading the config says so in its own words
        return None
    return Path(found) if found else None


def _classes(auto_map) -> str:
    """The module.Class names an auto_map points at (a tokenizer's come in [slow, fast] pairs)."""
    values = auto_map.values() if isinstance(auto_map, dict) else [auto_map]
    flat = [v for value in values for v in (value if isinstance(value, list) else [value]) if v]
    return ", ".join(sorted({str(v) for v in flat}))


def refuse_remote_code(source: str, *, cache_only: bool) -> None:
    """One line if the checkpoint asks for its own code (auto_map), before transformers sees it: transformers
    would offer to run it ("Do you wish to run the custom code? [y/N]"), and this tool runs none."""
    for name in CODE_FILES:
        path = checkpoint_file(source, name, cache_only=cache_only)
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path else None
        except (ValueError, UnicodeDecodeError):
            continue  # not JSON: transformers refuses it when it reads it
        if isinstance(data, dict) and data.get("auto_map"):
            families = " or ".join(sorted(FAMILIES))
            raise UserError(f"{source!r} needs its own code ({name} auto_map: {_classes(data['auto_map'])[:120]}); "
                            f"this tool runs no code from a checkpoint: use a {families} checkpoint without auto_map")


def check_architecture(config, source: str) -> None:
    """One line, before any export work, for an architecture the task modules and exporters do not handle."""
    model_type = getattr(config, "model_type", None)
    if model_type not in FAMILIES:
        archs = ", ".join(getattr(config, "architectures", None) or []) or "no architectures listed"
        raise UserError(f"{source!r} is a {model_type or 'unknown'} model ({archs}); supported families: "
                        f"{', '.join(sorted(FAMILIES))}: pick a checkpoint of one of them")
    check_config_values(config.to_dict(), source)


def check_config_file(source: str, *, cache_only: bool) -> None:
    """The sizes in a bert or squeezebert config.json as written, before transformers reads it: its own type checks
    answer in several lines, and some values pass them only to fail in torch."""
    path = checkpoint_file(source, "config.json", cache_only=cache_only)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else None
    except (ValueError, UnicodeDecodeError):
        return  # not JSON: transformers refuses it in its own words
    if isinstance(data, dict) and data.get("model_type") in FAMILIES:
        check_config_values(data, source, bounds=False)  # bounds once, on the whole config (check_architecture)


def check_vocabulary(tokenizer, source: str, vocab_size: int) -> None:
    """One line for a tokenizer that would turn every text into [UNK] (no vocabulary, or only special tokens),
    or that makes ids past the model's embedding table."""
    vocab = tokenizer.get_vocab()
    special = set(getattr(tokenizer, "all_special_tokens", []))
    if not any(token not in special for token in vocab):
        raise UserError(f"the tokenizer of {source!r} has no vocabulary ({len(vocab)} special tokens only: every "
                        "text would be [UNK]); save the checkpoint with its vocab.txt or tokenizer.json")
    top = max(vocab.values())
    if top >= vocab_size:
        raise UserError(f"the tokenizer of {source!r} makes ids up to {top}, but the model embeds {vocab_size} "
                        "tokens (vocab_size in config.json); save the tokenizer the model was trained with")


def _unlistable(label: str) -> bool:
    """Empty, or with a character that breaks a one-label-a-line file (control, line or paragraph separator)."""
    return not label.strip() or any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in label)


def check_labels(labels: list[str], source: str) -> None:
    """One line naming the labels an app cannot list one a line (labels.txt) or tell apart."""
    bad = [label for label in labels if _unlistable(label)]
    if bad:
        raise UserError(f"{source!r} has labels with control characters or empty ({', '.join(map(repr, bad[:5]))}) "
                        "in config.json id2label; each label must be one line of text: rename them")
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise UserError(f"{source!r} has duplicate labels ({', '.join(map(repr, duplicates[:5]))}) in config.json "
                        "id2label; an app could not tell those classes apart: give each label its own name")
