"""What every runner's parser returns (`Timing`, in milliseconds) or raises (`ParseError`), and the helpers
the parsers of the tools' text share.

Real outputs, older and newer formats, are in tests/fixtures/tools/ with their sources. Lines may carry
logcat prefixes (`... tflite  : `), so every pattern is searched, never anchored at the line start;
numbers may be in scientific notation (`avg=2.95034e+06`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from models.errors import UserError

NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"


class ParseError(UserError):
    """A tool's output holds no timing we can trust (truncated, crashed, or an unknown format)."""


@dataclass
class Timing:
    mean_ms: float
    count: int | None = None
    samples_ms: list[float] = field(default_factory=list)  # per-run latencies, when the tool prints them
    extra: dict = field(default_factory=dict)  # what else the tool reported: min, max, percentiles, init, memory

    def to_dict(self) -> dict:
        return {"mean_ms": self.mean_ms, "count": self.count, "samples_ms": self.samples_ms, "extra": self.extra}


def last_match(pattern: str, text: str):
    """The last match of `pattern` in `text` (its group, or tuple of groups), None if none."""
    found = re.findall(pattern, text)
    return found[-1] if found else None


def no_timing(tool: str, text: str) -> ParseError:
    """The error for an output without a timing, quoting its last line."""
    lines = [l.strip() for l in text.strip().splitlines() if l.strip()]
    tail = lines[-1][:160] if lines else "no output"
    return ParseError(f"no timing in the output of {tool} (truncated or failed run?); its last line: {tail!r}")
