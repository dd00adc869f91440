"""The export formats, registered by decorator; unknown names fail with the list of valid ones."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from models.errors import UserError

# Format name -> module under export/ that registers it. Order = order of `python -m export`.
FORMAT_MODULES = {"torchscript": "export.torchscript", "onnx": "export.onnx", "tflite": "export.tflite",
                  "executorch": "export.executorch"}
_FORMATS: dict[str, "Format"] = {}


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str
    convert: Callable  # convert(loaded, *, path, seq_len, options) -> dict of manifest fields
    dynamic_shapes: bool = True  # False: the file is fixed to the export shape (TFLite)
    variant: str = ""  # file-name tag between task and precision, e.g. "xnnpack"
    add_options: Callable | None = None  # add_options(argparse parser): format-specific flags
    precisions: tuple[str, ...] = ("fp32",)  # what convert() can produce (options["precision"])
    dynamic_batch: bool = True  # False: batch fixed at 1 even where the sequence length is dynamic


def register_format(name: str, *, suffix: str, dynamic_shapes: bool = True, variant: str = "",
                    add_options: Callable | None = None, precisions: tuple[str, ...] = ("fp32",),
                    dynamic_batch: bool = True):
    def wrap(convert):
        _FORMATS[name] = Format(name, suffix, convert, dynamic_shapes, variant, add_options, precisions,
                                dynamic_batch)
        return convert
    return wrap


def available_formats() -> list[str]:
    """Formats whose module exists in this checkout (later issues add tflite and executorch)."""
    return [n for n, mod in FORMAT_MODULES.items() if importlib.util.find_spec(mod) is not None]


def get_format(name: str) -> Format:
    if name not in FORMAT_MODULES or name not in available_formats():
        raise UserError(f"unknown format {name!r}; choose one of {', '.join(available_formats())}")
    importlib.import_module(FORMAT_MODULES[name])
    return _FORMATS[name]
