"""Exporters: one module per format (torchscript, onnx, tflite, executorch), each `python -m export.<format>`."""
from ._formats import FORMAT_MODULES, Format, available_formats, get_format, register_format
from ._pipeline import Artifact, export
from ._validate import ValidationError

__all__ = ["FORMAT_MODULES", "Artifact", "Format", "ValidationError", "available_formats", "export", "get_format",
           "register_format"]
