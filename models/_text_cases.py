"""Texts that exercise a BERT tokenizer, and the ids the model's own (Hugging Face) tokenizer gives them.

Every app asset ships them as `tokenizer_cases.jsonl`, so an app team can check its own tokenizer (or the client
library's) against the one the model was trained with; the exporters validate string-in models on them and the
tests run MediaPipe's tokenizer on them. Each case has a `kind`, which is what the manifest and README name
when a tokenizer differs on it.
"""
from __future__ import annotations

import json
from pathlib import Path

from ._inputs import SENTENCE_PAIRS

_LONG = ("Small language models can run on phones when their layers are rewritten for the kernels that phones have, "
         "and when every step from the checkpoint to the file in the app is checked against the original model. ")

# (kind, text) for single texts; (kind, text, text_pair) for pairs. Written for this project.
TEXTS: tuple[tuple[str, str], ...] = (
    ("plain", "the new phone runs the language model in under a second."),
    ("plain", "A man is playing a guitar on a crowded street corner."),
    ("ascii capitals", "SqueezeBERT Runs ON Phones, Says The PAPER"),
    ("punctuation", "Wait... what?! (Really) -- yes; \"quoted\" & [bracketed] {braced} <angled>."),
    ("punctuation", "e-mail someone@example.com or see https://example.org/a?b=c#d"),
    ("numbers", "In 2024, 3.14159 of 1,000,000 people paid $12.50 (50%) at 10:30pm."),
    ("numbers", "Call 555-0199 before 2026-12-02, room 4B, floor -1."),
    ("unknown words", "Zyzzyvas quaffed xylophonic ptarmigans"),
    ("unknown words", "symbols the vocabulary lacks: \U0001F600 \U0001F680 \u2603 \u2764"),
    ("partly unknown words", "snow\u2603man and x\u2764y"),
    ("whitespace", "tabs\tand\nnewlines   and  runs   of spaces"),
    ("accents", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00fcber se\u00f1or"),
    ("accents", "\u00e0 la fa\u00e7on de no\u00ebl"),
    ("non-ASCII capitals", "\u00c9COLE \u00c4RGER \u00d1AND\u00da"),
    ("non-ASCII capitals", "\u041f\u0420\u0418\u0412\u0415\u0422 \u041c\u0418\u0420"),
    ("Cyrillic", "\u043f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430?"),
    ("Greek", "\u03ba\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5"),  # with tonos
    ("Arabic", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645"),
    ("CJK", "\u6211\u559c\u6b22\u5728\u624b\u673a\u4e0a\u8fd0\u884c\u6a21\u578b"),
    ("CJK", "\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd"),
    ("kana with voiced marks", "\u3067\u3059 \u304c\u304e\u3050 \u30d0\u30b9"),
    ("Korean", "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4"),
    ("Devanagari", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e"),
    ("no-break space", "100\u00a0km to go"),
    ("control characters", "zero\u200bwidth and a bell\x07here"),
    ("empty", ""),
    ("truncation", _LONG * 4),
    ("truncation", "word " * 600),
)
PAIRS: tuple[tuple[str, str, str], ...] = (
    *(("pair", premise, hypothesis) for premise, hypothesis in SENTENCE_PAIRS),
    ("pair", "Is the model fast?", "Yes, it answers in 40 milliseconds on a Pixel."),
    ("pair accents", "Le caf\u00e9 est ferm\u00e9.", "The caf\u00e9 is closed."),
    ("pair empty", "Only a premise here.", ""),
    ("pair empty", "", "Only a hypothesis here."),
    ("pair truncation", _LONG * 3, "The claim is checked."),
    ("pair truncation", "Short premise.", _LONG * 3),
    ("pair truncation", _LONG * 2, _LONG * 2),
    ("pair truncation", _LONG * 2 + "odd", _LONG * 3),
)
CASES_FILE = "tokenizer_cases.jsonl"


def tokenizer_cases(tokenizer, *, max_length: int, pad: bool) -> list[dict]:
    """Every case with the ids the tokenizer gives it at `max_length` (longest_first truncation; `pad`: padded to
    `max_length`, as a fixed-length asset is fed)."""
    cases = []
    for kind, *texts in (*TEXTS, *PAIRS):
        enc = tokenizer(*texts, truncation="longest_first", max_length=max_length,
                        padding="max_length" if pad else False, return_token_type_ids=True,
                        return_attention_mask=True)
        case = {"kind": kind, "text": texts[0], **({"text_pair": texts[1]} if len(texts) > 1 else {})}
        cases.append({**case, **{k: list(map(int, enc[k])) for k in ("input_ids", "token_type_ids", "attention_mask")}})
    return cases


def write_tokenizer_cases(tokenizer, folder: Path, *, max_length: int, pad: bool) -> Path:
    """`tokenizer_cases.jsonl` in `folder`: one case a line."""
    path = Path(folder) / CASES_FILE
    lines = (json.dumps(c, ensure_ascii=False) for c in tokenizer_cases(tokenizer, max_length=max_length, pad=pad))
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def read_tokenizer_cases(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
