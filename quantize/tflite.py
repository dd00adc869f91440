"""int8 for TFLite: the converter's dynamic-range mode on the fp32 conversion's SavedModel, and what it did."""
from __future__ import annotations

from pathlib import Path


def census(path: Path) -> dict:
    """Which weights the .tflite holds in int8, and which stayed float, read from the file."""
    from export.tflite.ops import weight_dtypes

    dtypes = weight_dtypes(path)
    return {"quantized": {op: c["INT8"] for op, c in dtypes.items() if c.get("INT8")},
            "float": {f"{op} {dtype}": n for op, c in dtypes.items() for dtype, n in c.items()
                      if dtype.startswith("FLOAT")},
            "float_by_design": "LayerNorm, softmax and the attention matmuls (activation x activation) stay float"}
