"""Exporters: one module per format (torchscript, onnx, tflite, executorch), each `python -m export.<format>`.

Importing export/ loads neither torch nor TensorFlow; a format's module does when `get_format` loads it.
The names below are the package's interface for the layers above (quantize/, android_bench/).
"""
from ._cli import ArgumentParser, at_least, base_parser, format_main, positive_int, run_main
from ._files import ensure_writable_dir, file_record, sha256, write_json_atomic
from ._formats import FORMAT_MODULES, Format, available_formats, get_format, register_format
from ._pipeline import DEFAULT_GRAPH, Artifact, Converted, Products, artifact_stem, export
from ._recipes import (SUPPORTED, Recipe, Scheme, get_recipe, precisions, recipe_for_precision, recipe_names,
                       register_recipe)
from ._target import artifact_names, claim_target
from ._validate import ValidationError
from ._versions import PIPELINE, pipeline_revision, tool_versions

__all__ = [
    "ArgumentParser", "Artifact", "Converted", "DEFAULT_GRAPH", "FORMAT_MODULES", "Format", "PIPELINE", "Products",
    "Recipe", "SUPPORTED", "Scheme", "ValidationError", "artifact_names", "artifact_stem", "at_least",
    "available_formats", "base_parser", "claim_target", "ensure_writable_dir", "export", "file_record", "format_main",
    "get_format", "get_recipe", "pipeline_revision", "positive_int", "precisions", "recipe_for_precision",
    "recipe_names", "register_format", "register_recipe", "run_main", "sha256", "tool_versions", "write_json_atomic"
]
