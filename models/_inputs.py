"""Sample inputs: real MNLI-style sentence pairs through the model's tokenizer, padded to seq_len."""
from __future__ import annotations

import numpy as np

from .contract import INPUT_NAMES

# Premise / hypothesis pairs in the style of MNLI (written for this project).
SENTENCE_PAIRS = [
    ("The new phone runs the language model in under a second.", "The model is fast on the phone."),
    ("A man is playing a guitar on a crowded street corner.", "Nobody is making any music."),
    ("The committee postponed its decision until next spring.", "The decision was delayed."),
    ("She bought three apples and a loaf of bread at the market.", "She went shopping for food."),
    ("Heavy rain flooded the lower floors of the old library.", "The library stayed completely dry."),
    ("Researchers replaced the dense layers with grouped convolutions.", "The network architecture changed."),
    ("The train to the airport leaves every fifteen minutes.", "Trains to the airport are frequent."),
    ("He has never visited a country outside of Europe.", "He travelled to Japan last year."),
]


def sample_inputs(tokenizer, *, seq_len: int = 128, batch: int = 1, offset: int = 0) -> dict[str, np.ndarray]:
    """`batch` sentence pairs tokenized and padded to `seq_len`, as int64 arrays named like the model's inputs."""
    pairs = [SENTENCE_PAIRS[(offset + i) % len(SENTENCE_PAIRS)] for i in range(batch)]
    # A pair needs 3 special tokens: below that the tokenizer cannot truncate it and returns it whole, so the
    # premise alone ([CLS] [SEP] at 2, what an empty text gives).
    texts = ([p for p, _ in pairs], [h for _, h in pairs]) if seq_len >= 3 else ([p for p, _ in pairs],)
    enc = tokenizer(
        *texts, padding="max_length", truncation=True, max_length=seq_len, return_tensors="np",
        return_token_type_ids=True, return_attention_mask=True,
    )
    out = {name: np.ascontiguousarray(enc[name], dtype=np.int64) for name in INPUT_NAMES}
    if out["input_ids"].shape != (batch, seq_len):  # the tokenizer ignored max_length: never feed that as seq_len
        raise ValueError(f"sample inputs came out {out['input_ids'].shape}, not ({batch}, {seq_len})")
    return out
