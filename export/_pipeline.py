"""One export = convert, validate against eager in the artifact's runtime, write manifest, move into place."""
from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from models import RANDOM_WEIGHTS_WARNING
from models.errors import UserError

from ._files import ensure_writable_dir, file_record, write_json_atomic
from ._formats import Format
from ._validate import Tolerance, compare, worst_by_output
from ._versions import tool_versions
from .runtimes import open_runtime

log = logging.getLogger("export")
MANIFEST_SCHEMA = 1
PRECISIONS = ("fp32", "int8")
# int8 artifacts vs fp32 eager: direction of every token's vector must be kept (issue 5's bar on real weights).
INT8_MIN_COSINE = 0.99
# The token-major, Linear-based SqueezeBERT graph (models/mobile.py) validates in every format and is what
# quantizers and mobile kernels handle well; "reference" exports the Hugging Face graph as is.
DEFAULT_GRAPH = "mobile"


def tolerance_for(loaded, precision: str) -> Tolerance:
    return Tolerance(atol=loaded.atol) if precision == "fp32" else Tolerance(min_cosine=INT8_MIN_COSINE)


@dataclass
class Artifact:
    dir: Path
    path: Path  # the model file
    manifest: dict


def artifact_stem(loaded, fmt: Format, precision: str) -> str:
    parts = [loaded.name, loaded.task, fmt.variant, precision]
    return "_".join(p for p in parts if p)


def validation_shapes(loaded, seq_len: int, *, dynamic: bool, dynamic_batch: bool = True) -> list[tuple[int, int]]:
    """The export shape and, for dynamic-shape formats, another (batch and) sequence length."""
    if not dynamic:
        return [(1, seq_len)]
    other = seq_len // 2 if seq_len >= 16 else min(seq_len + 8, loaded.max_seq_len)
    return [(1, seq_len), (2 if dynamic_batch else 1, other)]


def io_records(loaded, seq_len: int, *, dynamic: bool, dynamic_batch: bool = True,
               input_dtype: str = "int64") -> tuple[list, list]:
    dims = [("batch" if dynamic_batch else 1), "sequence"] if dynamic else [1, seq_len]
    hidden = loaded.config.hidden_size
    out_shapes = {"last_hidden_state": dims + [hidden], "pooler_output": dims[:1] + [hidden],
                  "logits": dims[:1] + [len(loaded.labels or [])]}
    inputs = [{"name": n, "dtype": input_dtype, "shape": dims} for n in loaded.input_names]
    outputs = [{"name": n, "dtype": "float32", "shape": out_shapes[n]} for n in loaded.output_names]
    return inputs, outputs


def model_record(loaded) -> dict:
    c = loaded.config
    return {"name": loaded.name, "ref": loaded.ref, "hf_id": loaded.spec.hf_id if loaded.spec else None, "family": loaded.family,
            "layers": c.num_hidden_layers, "hidden_size": c.hidden_size,
            "max_position_embeddings": c.max_position_embeddings, "weights": loaded.weights}


def export(fmt: Format, loaded, *, seq_len: int, out: Path, precision: str = "fp32", threads: int | None = None,
           options: dict | None = None) -> Artifact:
    """Export `loaded` to `fmt` at `precision` in folder `out`; fails with ValidationError if it deviates
    from eager beyond the precision's tolerance."""
    loaded.check_seq_len(seq_len)
    if precision not in fmt.precisions:
        raise UserError(f"{fmt.name} cannot produce {precision} yet; available: {', '.join(fmt.precisions)}")
    out = ensure_writable_dir(Path(out))
    stem = artifact_stem(loaded, fmt, precision)
    tolerance = tolerance_for(loaded, precision)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=out, prefix=".export-") as tmp:
        path = Path(tmp) / f"{stem}{fmt.suffix}"
        log.info("converting %s (%s) to %s %s at seq_len %d", loaded.name, loaded.task, fmt.name, precision, seq_len)
        options = {"graph": DEFAULT_GRAPH, **(options or {}), "precision": precision}
        extra = fmt.convert(loaded, path=path, seq_len=seq_len, options=options)
        extra = extra or {}
        if "quantization" in extra and options.get("fp32_bytes"):
            extra["quantization"]["size_bytes"] = {"fp32": options["fp32_bytes"], "int8": path.stat().st_size,
                                                   "ratio": round(path.stat().st_size / options["fp32_bytes"], 4)}
        inputs, outputs = io_records(loaded, seq_len, dynamic=fmt.dynamic_shapes, dynamic_batch=fmt.dynamic_batch,
                                     input_dtype=extra.pop("input_dtype", "int64"))
        files = [path] + [Path(tmp) / f for f in extra.pop("extra_files", [])]
        assets = [Path(tmp) / f for f in extra.pop("assets", [])]  # shipped beside the model, not run
        validation = {}
        for file in files:  # every model file the artifact ships is validated
            runtime = open_runtime(file, input_names=loaded.input_names, output_names=loaded.output_names,
                                   threads=threads)
            shapes = validation_shapes(loaded, seq_len, dynamic=fmt.dynamic_shapes, dynamic_batch=fmt.dynamic_batch)
            results, report = compare(loaded, runtime, shapes, tolerance=tolerance)
            for line in report:
                log.info("%s %s", file.name, line)
            worst = worst_by_output(results)
            validation[file.name] = {"runtime": runtime.name, "tolerance": tolerance.__dict__, "shapes": results,
                                     "max_abs_diff": {k: w["max_abs_diff"] for k, w in worst.items()},
                                     "mean_cosine": {k: w["mean_cosine"] for k, w in worst.items()}}
        manifest = {
            "schema": MANIFEST_SCHEMA,
            **({"warning": RANDOM_WEIGHTS_WARNING} if loaded.weights["source"] == "random" else {}),
            "model": model_record(loaded),
            "task": loaded.task,
            "format": fmt.name,
            "precision": precision,
            "graph": options["graph"],
            "seq_len": seq_len,
            "dynamic_shapes": fmt.dynamic_shapes,
            "dynamic_batch": fmt.dynamic_shapes and fmt.dynamic_batch,
            "inputs": inputs,
            "outputs": outputs,
            **({"labels": loaded.labels} if loaded.labels else {}),
            "file": file_record(path),
            "extra_files": [file_record(f) for f in files[1:]],
            **({"assets": [file_record(f) for f in assets]} if assets else {}),
            **extra,
            "validation": validation[path.name],
            "extra_validation": {k: v for k, v in validation.items() if k != path.name},
            "tools": tool_versions(),
            "export_seconds": round(time.perf_counter() - started, 1),
        }
        write_json_atomic(Path(tmp) / "manifest.json", manifest)
        for file in files + assets + [Path(tmp) / "manifest.json"]:  # manifest last: it vouches for the files
            shutil.move(str(file), out / file.name)  # same filesystem: a rename, so atomic
    return Artifact(out, out / path.name, manifest)
