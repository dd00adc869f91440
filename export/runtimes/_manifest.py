"""What a manifest may say, checked in one place before any reader uses a value: every field by type and range, in
one line naming the field. The writers are export's pipeline (and quantize through it) and android_bench's peers
(`"peer"`, the weights at the top level, no validation or quantization record); fields a writer leaves out are
checked where present."""
from __future__ import annotations

import math
from pathlib import Path

from models.contract import MIN_SEQUENCE

from .._formats import FORMAT_MODULES
from . import ArtifactError

SCHEMA = 1
PRECISIONS = ("fp32", "int8")  # the precisions export writes (fp32, and every registered recipe's int8)
MAX_POSITIONS = 1 << 20  # far beyond any BERT-class position table: a larger number is damage, not a model
MAX_IDS = 2 ** 31 - 1  # vocabularies and segment ids fit the int32 inputs of a TFLite file


def _bad(path: Path, field: str, value, want: str) -> ArtifactError:
    shown = repr(value)
    shown = shown if len(shown) <= 60 else f"{shown[:57]}..."
    return ArtifactError(f"{path}: {field} {shown} is not {want}; the manifest is damaged or not ours: export the "
                         "artifact again")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def check_manifest(data: dict, path: Path) -> None:
    """Raise ArtifactError (one line, the field named) for the first value of `data` a reader could not trust."""
    if data.get("schema", SCHEMA) != SCHEMA:
        raise _bad(path, "schema", data["schema"], f"{SCHEMA} (the schema this version reads)")
    model = _model(data, path)
    if data["format"] not in FORMAT_MODULES:
        raise _bad(path, "format", data["format"], f"a format ({', '.join(FORMAT_MODULES)})")
    if data["precision"] not in PRECISIONS:
        raise _bad(path, "precision", data["precision"], f"a precision ({', '.join(PRECISIONS)})")
    most = model.get("max_position_embeddings", MAX_POSITIONS)
    if not _int(data["seq_len"], MIN_SEQUENCE, most):
        raise _bad(path, "seq_len", data["seq_len"], f"an integer in {MIN_SEQUENCE}..{most} (max_position_embeddings)")
    bounds = data.get("seq_len_range", [MIN_SEQUENCE, MIN_SEQUENCE])
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(_int(b, MIN_SEQUENCE, most) for b in bounds)
            and bounds[0] <= bounds[1]):
        raise _bad(path, "seq_len_range", bounds, f"two integers low <= high in {MIN_SEQUENCE}..{most}")
    for key in ("inputs", "outputs"):
        items = data[key]
        if not (isinstance(items, list) and items and all(isinstance(i, dict) and isinstance(i.get("name"), str)
                                                          and i["name"] for i in items)
                and len({i["name"] for i in items}) == len(items)):
            raise _bad(path, key, items, "a non-empty list of {name: str, ...} with distinct names")
    for key in ("dynamic_shapes", "dynamic_batch"):
        if not isinstance(data.get(key, True), bool):
            raise _bad(path, key, data[key], "true or false")
    for key, kind in (("options", dict), ("task", str), ("graph", str)):
        if not isinstance(data.get(key, kind()), kind):
            raise _bad(path, key, data[key], f"a {kind.__name__}")
    _quantization(data, path)  # first: a precision edited alone is named by its missing record
    _validation(data, path)


def _model(data: dict, path: Path) -> dict:
    model = data.get("model", {})
    if not isinstance(model, dict):
        raise _bad(path, "model", model, "a dict (name, ref, max_position_embeddings, vocab_size, ...)")
    limits = {"max_position_embeddings": MAX_POSITIONS, "vocab_size": MAX_IDS, "type_vocab_size": MAX_IDS}
    for key, high in limits.items():
        if key in model and not _int(model[key], 1, high):
            raise _bad(path, f"model.{key}", model[key], f"a positive integer up to {high}")
    if not isinstance(model.get("weights", {}), dict):
        raise _bad(path, "model.weights", model["weights"], "a dict (source, seed or path)")
    return model


def _validation(data: dict, path: Path) -> None:
    """The tolerance is the kind of the precision (export._pipeline.tolerance_for): fp32 by atol, int8 by cosine."""
    if "validation" not in data:
        return
    validation = data["validation"]
    if not isinstance(validation, dict):
        raise _bad(path, "validation", validation, "a dict (runtime, tolerance, max_abs_diff, ...)")
    tolerance = validation.get("tolerance")
    fp32 = data["precision"] == "fp32"
    want = ("{atol: a positive number, min_cosine: null} (an fp32 tolerance)" if fp32 else
            "{atol: null, min_cosine: a number in 0..1} (an int8 tolerance)")
    if not (isinstance(tolerance, dict) and set(tolerance) <= {"atol", "min_cosine"}):
        raise _bad(path, "validation.tolerance", tolerance, want)
    atol, cosine = tolerance.get("atol"), tolerance.get("min_cosine")
    ok = (_number(atol) and atol > 0 and cosine is None) if fp32 else (
        atol is None and _number(cosine) and 0 < cosine <= 1)
    if not ok:
        raise _bad(path, "validation.tolerance", tolerance, want)


def _quantization(data: dict, path: Path) -> None:
    """An int8 artifact of export carries its recipe's record, an fp32 one none (a peer's int8 has none: it is not
    export's)."""
    precision, record = data["precision"], data.get("quantization")
    if "quantization" in data and not isinstance(record, dict):
        raise _bad(path, "quantization", record, "a dict (the recipe, its layers and sizes)")
    if "peer" in data:
        return
    if precision != "fp32" and record is None:
        raise ArtifactError(f"{path}: quantization is missing, which an {precision} manifest carries (the recipe and "
                            "the sizes); the manifest is damaged or not ours: export the artifact again")
    if precision == "fp32" and record is not None:
        raise _bad(path, "quantization", record, "absent on an fp32 artifact")
    sizes = (record or {}).get("size_bytes", {})
    if not (isinstance(sizes, dict) and all(_int(sizes.get(k, 1), 1, 2 ** 63) for k in ("fp32", precision))):
        raise _bad(path, "quantization.size_bytes", sizes, f"a dict of positive byte counts (fp32, {precision})")
