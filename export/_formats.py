"""The export formats, registered by decorator; unknown names fail with the list of valid ones."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from models.contract import MIN_SEQUENCE
from models.errors import UserError

DEFAULT_SEQ_LEN = 128

# Format name -> module that registers it. Order = order of `python -m export`.
FORMAT_MODULES = {"torchscript": "export.torchscript", "onnx": "export.onnx", "tflite": "export.tflite.convert",
                  "executorch": "export.executorch"}
_FORMATS: dict[str, "Format"] = {}


@dataclass(frozen=True)
class Format:
    """A format: how to convert, and how its files differ from the task's I/O contract (models.contract)."""
    name: str
    suffix: str
    convert: Callable  # convert(loaded, products, path, *, options) -> export.Converted (fp32; fills products)
    variant: str = ""  # file-name tag between task and precision, e.g. "xnnpack"
    add_options: Callable | None = None  # add_options(argparse parser): format-specific flags
    fixed_batch: int | None = None  # the batch the file is fixed to; None: dynamic
    # True: the file takes sequence lengths 2..the export's --seq-len (TFLite: resizable, its position table cut
    # there); False: any length the model's position embeddings allow
    bounded_sequence: bool = False
    input_dtype: str = "int64"  # dtype of the ids and masks the file takes
    # prepare(loaded, options) -> loaded: checks the format's options before any work and returns the model as the
    # files implement it (e.g. with an app head, models.OutputHead)
    prepare: Callable | None = None
    # package(loaded, products, converted, *, precision, options) -> Converted: what apps load, applied to the fp32
    # artifact and to each recipe's (MediaPipe metadata on a .tflite; the tokenizer in front of an ONNX graph)
    package: Callable | None = None

    @property
    def dynamic_shapes(self) -> bool:
        return True  # every format's files take more than one sequence length

    @property
    def dynamic_batch(self) -> bool:
        return self.fixed_batch is None

    def contract(self, loaded, seq_len: int):
        """The task's contract as this format's files implement it when exported at `seq_len`."""
        return loaded.contract.specialize(batch=self.fixed_batch, max_sequence=seq_len if self.bounded_sequence else None,
                                          input_dtype=self.input_dtype)

    def default_seq_len(self, loaded) -> int:
        """--seq-len when none is given: a bounded file takes every length the model can (an app cannot feed
        MediaPipe more tokens than the file takes, see export/tflite/app_asset.py); the others are validated at 128."""
        return loaded.max_seq_len if self.bounded_sequence else DEFAULT_SEQ_LEN

    def seq_len_range(self, seq_len: int) -> tuple[int, int] | None:
        """The sequence lengths a file exported at `seq_len` takes, where the format bounds them (else None)."""
        return (MIN_SEQUENCE, seq_len) if self.bounded_sequence else None


def register_format(name: str, *, suffix: str, variant: str = "", add_options: Callable | None = None,
                    fixed_batch: int | None = None, bounded_sequence: bool = False, input_dtype: str = "int64",
                    prepare: Callable | None = None, package: Callable | None = None):
    def wrap(convert):
        _FORMATS[name] = Format(name, suffix, convert, variant, add_options, fixed_batch, bounded_sequence,
                                input_dtype, prepare, package)
        return convert
    return wrap


def available_formats() -> list[str]:
    return list(FORMAT_MODULES)


def check_format_name(name: str) -> str:
    if name not in FORMAT_MODULES:
        raise UserError(f"unknown format {name!r}; choose one of {', '.join(available_formats())}")
    return name


def get_format(name: str) -> Format:
    importlib.import_module(FORMAT_MODULES[check_format_name(name)])
    return _FORMATS[name]
