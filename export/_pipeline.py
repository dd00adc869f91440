"""One export run: convert once, then per artifact validate against eager, write the manifest, commit.

    convert (fp32, keeping its Products) -> validate -> manifest -> commit
    for each recipe: derive from the Products -> validate -> manifest -> commit

int8 is derived from what the fp32 conversion made on the way (the PyTorch module, the exported program, the
ONNX file, the SavedModel: `Products`), so a format is converted once however many artifacts it yields.
"""
from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from models import RANDOM_WEIGHTS_WARNING
from models.contract import IOContract
from models.errors import UserError

from ._files import file_record, scratch, swap_in, write_json_atomic
from ._formats import Format
from ._progress import stage
from ._recipes import Recipe, get_recipe
from ._target import check_apart, check_names, claim_target, resolve_out
from ._validate import Tolerance, compare, worst_by_output
from ._versions import tool_versions
from .runtimes import open_runtime

log = logging.getLogger("export")
MANIFEST_SCHEMA = 1
# int8 artifacts vs fp32 eager: direction of every token's vector must be kept (issue 5's bar on real weights).
INT8_MIN_COSINE = 0.99
# The token-major, Linear-based SqueezeBERT graph (models/mobile.py) validates in every format and is what
# quantizers and mobile kernels handle well; "reference" exports the Hugging Face graph as is.
DEFAULT_GRAPH = "mobile"


@dataclass
class Products:
    """What the fp32 conversion made on the way to its file, kept for the recipes that derive int8 from it."""
    work: Path  # this run's scratch folder (removed at the end)
    logs: Path  # path prefix of a failing converter's kept log (beside the output folder)
    contract: IOContract  # the task's I/O contract as the format implements it
    example: dict  # the example inputs the conversion traced with (int64, batch 1)
    module: object = None  # "pytorch-module": the torch module that was traced / exported
    exported_program: object = None  # "exported-program": torch.export's program (before lowering)
    onnx: Path | None = None  # "onnx-graph": the fp32 ONNX file
    saved_model: Path | None = None  # "converter": onnx2tf's SavedModel
    sections: dict = field(default_factory=dict)  # the fp32 conversion's format sections of the manifest


@dataclass
class Converted:
    """What a converter or a recipe returns."""
    files: list[Path]  # model files, every one validated; the first is the artifact's file
    assets: list[Path] = field(default_factory=list)  # shipped beside the model, not run (vocab.txt, labels.txt)
    sections: dict = field(default_factory=dict)  # format-specific manifest sections, e.g. {"onnx": {...}}
    layers: dict | None = None  # quantized artifacts: which layers are int8 and which stayed float
    # Files that take other inputs than the contract's ids (a string-in ONNX) bring their manifest inputs and their
    # own comparison with eager: compare(loaded, file, *, tolerance, threads) -> (runtime name, results, report)
    inputs: list[dict] | None = None
    compare: Callable | None = None


@dataclass
class Artifact:
    dir: Path
    path: Path  # the model file
    manifest: dict


def tolerance_for(loaded, precision: str) -> Tolerance:
    return Tolerance(atol=loaded.atol) if precision == "fp32" else Tolerance(min_cosine=INT8_MIN_COSINE)


def artifact_stem(loaded, fmt: Format, precision: str) -> str:
    parts = [loaded.name, loaded.task, fmt.variant, precision]
    return "_".join(p for p in parts if p)


def validation_lengths(low: int, high: int) -> list[int]:
    """The lengths a file taking `low..high` is validated at: both ends and the powers of two between them (from 8),
    so every length it takes is within a factor of 2 of a validated one."""
    return sorted({low, high, *(2 ** k for k in range(3, high.bit_length()) if low < 2 ** k < high)})


def validation_shapes(loaded, seq_len: int, *, dynamic: bool, dynamic_batch: bool = True,
                      seq_len_range: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """The (batch, sequence) shapes an artifact is validated at: every validation length of a file with a bounded
    range (`seq_len_range`, batch 1); else the export shape and, for dynamic-shape formats, another (batch and)
    sequence length."""
    if seq_len_range is not None:
        return [(1, length) for length in validation_lengths(*seq_len_range)]
    if not dynamic:
        return [(1, seq_len)]
    other = seq_len // 2 if seq_len >= 16 else min(seq_len + 8, loaded.max_seq_len)
    return [(1, seq_len), (2 if dynamic_batch else 1, other)]


def model_record(loaded) -> dict:
    c = loaded.config
    return {"name": loaded.name, "ref": loaded.ref, "hf_id": loaded.spec.hf_id if loaded.spec else None,
            "family": loaded.family, "layers": c.num_hidden_layers, "hidden_size": c.hidden_size,
            "max_position_embeddings": c.max_position_embeddings, "vocab_size": c.vocab_size,
            "type_vocab_size": getattr(c, "type_vocab_size", 2), "weights": loaded.weights}


def export(fmt: Format, loaded, *, seq_len: int | None, out: Path | None, quantized: Mapping[str, Path] | None = None,
           threads: int | None = None, options: dict | None = None, force: bool = False) -> dict[str, Artifact]:
    """Export `loaded` to `fmt` once: the fp32 artifact in `out` (None: converted for the recipes, not written)
    and, per recipe name in `quantized`, the artifact it derives in that folder. Returns the artifacts by
    precision ("fp32", "int8"); fails with ValidationError if one deviates from eager beyond its tolerance.
    `seq_len` None: the format's default (Format.default_seq_len). Every output folder is locked from the start
    to its commit (one writer per folder) and must hold only an artifact's files unless `force`."""
    seq_len = fmt.default_seq_len(loaded) if seq_len is None else seq_len  # 0 is refused, not the default
    loaded.check_seq_len(seq_len)
    recipes = [(get_recipe(fmt.name, name), Path(folder)) for name, folder in (quantized or {}).items()]
    outs = _outs(fmt, loaded, out, recipes)  # the real folders, checked: every later step acts on them
    out = outs[0] if out is not None else None
    recipes = list(zip([recipe for recipe, _ in recipes], outs[len(outs) - len(recipes):]))
    with contextlib.ExitStack() as stack:
        for folder in outs:
            stack.enter_context(claim_target(folder, force=force))
        options = {"graph": DEFAULT_GRAPH, **(options or {})}
        if fmt.prepare is not None:  # the format's options, checked before any work
            loaded = fmt.prepare(loaded, options)
        started = time.perf_counter()
        products = Products(work=stack.enter_context(scratch(outs[0], "work")),
                            logs=outs[0].parent / f"{outs[0].name}-", contract=fmt.contract(loaded, seq_len),
                            example=loaded.inputs(seq_len=seq_len, batch=1))
        staging = stack.enter_context(scratch(outs[0], "export"))
        path = staging / f"{artifact_stem(loaded, fmt, 'fp32')}{fmt.suffix}"
        with stage(f"converting {loaded.name} ({loaded.task}) to {fmt.name} at seq_len {seq_len}"):
            fp32 = fmt.convert(loaded, products, path, options=options)
        products.sections = fp32.sections  # the conversion's own sections, before packaging
        fp32 = _package(fmt, loaded, products, fp32, precision="fp32", options=options)
        fp32_bytes = fp32.files[0].stat().st_size
        made = {}
        if out is not None:
            made["fp32"] = _finish(fmt, loaded, fp32, out, precision="fp32", products=products,
                                   seq_len=seq_len, threads=threads, options=options, started=started)
        for recipe, folder in recipes:
            if getattr(products, recipe.product) is None:
                raise UserError(f"recipe {recipe.name} starts from the {recipe.stage} stage, which the {fmt.name} "
                                "conversion did not keep")
            staging = stack.enter_context(scratch(folder, "export"))
            path = staging / f"{artifact_stem(loaded, fmt, recipe.precision)}{fmt.suffix}"
            step = time.perf_counter()
            with stage(f"deriving {fmt.name} {recipe.precision} ({recipe.name}) from the fp32 {recipe.stage}"):
                converted = recipe.apply(loaded, products, path, options=options)
            converted = _package(fmt, loaded, products, converted, precision=recipe.precision, options=options)
            made[recipe.precision] = _finish(fmt, loaded, converted, folder, precision=recipe.precision,
                                             products=products, seq_len=seq_len, threads=threads, options=options,
                                             started=step, recipe=recipe, fp32_bytes=fp32_bytes)
    return made


def _outs(fmt: Format, loaded, out: Path | None, recipes: list) -> list[Path]:
    """The output folders (the fp32 one first), each the real folder (a symlink followed), checked before any work:
    one folder per artifact, apart from the folders the model was read from, every name fitting its filesystem."""
    given = [(Path(out), "fp32")] if out is not None else []
    given += [(Path(folder), recipe.precision) for recipe, folder in recipes]
    if not given:
        raise ValueError("export() needs an fp32 folder or at least one recipe")
    outs = [resolve_out(folder) for folder, _ in given]
    if len(set(outs)) < len(outs):
        raise UserError(f"one folder for two artifacts ({', '.join(str(f) for f, _ in given)}); give each its own "
                        "folder")
    sources = {"model folder": loaded.ref, "weights folder": loaded.weights.get("path")}
    sources = {what: Path(p) for what, p in sources.items() if isinstance(p, str) and os.path.isabs(p)
               and os.path.isdir(p)}  # a registered name or hub id is no folder, even where cwd has one so named
    for folder, (_, precision) in zip(outs, given):
        check_apart(folder, sources)
        files = {f"{artifact_stem(loaded, fmt, p)}{fmt.suffix}" for p in ("fp32", precision)}  # fp32: the conversion
        check_names(folder, sorted(files), what="a shorter --out or model folder name")
    return outs


def _package(fmt: Format, loaded, products: Products, converted: Converted, *, precision: str,
             options: dict) -> Converted:
    if fmt.package is None:
        return converted
    with stage(f"packaging {converted.files[0].name} for apps"):
        return fmt.package(loaded, products, converted, precision=precision, options=options)


def _finish(fmt, loaded, converted: Converted, out: Path, *, precision: str, products: Products, seq_len: int,
            threads, options: dict, started: float, recipe: Recipe | None = None,
            fp32_bytes: int | None = None) -> Artifact:
    with stage(f"validating {converted.files[0].name} against eager"):
        validation = validate(fmt, loaded, converted, precision=precision, seq_len=seq_len, threads=threads)
    manifest = build_manifest(fmt, loaded, converted, products.contract, validation, precision=precision,
                              seq_len=seq_len, graph=options["graph"], recipe=recipe, fp32_bytes=fp32_bytes,
                              seconds=time.perf_counter() - started, options=options)
    return commit(converted, manifest, out)


def validate(fmt: Format, loaded, converted: Converted, *, precision: str, seq_len: int, threads) -> dict:
    """Every model file against eager, at the export shape (and another where the format is dynamic)."""
    tolerance = tolerance_for(loaded, precision)
    seq_len_range = fmt.seq_len_range(seq_len)
    shapes = validation_shapes(loaded, seq_len, dynamic=fmt.dynamic_shapes, dynamic_batch=fmt.dynamic_batch,
                               seq_len_range=seq_len_range)
    validation = {}
    for file in converted.files:
        if converted.compare is not None:
            runtime_name, results, report = converted.compare(loaded, file, tolerance=tolerance, threads=threads)
        else:
            runtime = open_runtime(file, input_names=loaded.input_names, output_names=loaded.output_names,
                                   threads=threads, seq_len_range=seq_len_range,
                                   value_ranges=loaded.contract.value_ranges(),
                                   max_sequence=loaded.contract.max_sequence)
            runtime_name = runtime.name
            results, report = compare(loaded, runtime, shapes, tolerance=tolerance)
        for line in report:
            log.info("%s %s", file.name, line)
        worst = worst_by_output(results)
        validation[file.name] = {"runtime": runtime_name, "tolerance": tolerance.__dict__, "shapes": results,
                                 "max_abs_diff": {k: w["max_abs_diff"] for k, w in worst.items()},
                                 "mean_cosine": {k: w["mean_cosine"] for k, w in worst.items()}}
    return validation


def build_manifest(fmt: Format, loaded, converted: Converted, contract: IOContract, validation: dict, *,
                   precision: str, seq_len: int, graph: str, recipe: Recipe | None, fp32_bytes: int | None,
                   seconds: float, options: dict | None = None) -> dict:
    main, others = converted.files[0], converted.files[1:]
    inputs, outputs = contract.records()
    inputs = converted.inputs or inputs
    quantization = {}
    if recipe is not None:
        size = main.stat().st_size
        quantization = {"quantization": {**recipe.record(), "layers": converted.layers,
                                         "size_bytes": {"fp32": fp32_bytes, precision: size,
                                                        "ratio": round(size / fp32_bytes, 4)}}}
    return {
        "schema": MANIFEST_SCHEMA,
        **({"warning": RANDOM_WEIGHTS_WARNING} if loaded.weights["source"] == "random" else {}),
        "model": model_record(loaded),
        "task": loaded.task,
        "format": fmt.name,
        "precision": precision,
        "graph": graph,
        "seq_len": seq_len,
        **({"seq_len_range": list(r)} if (r := fmt.seq_len_range(seq_len)) else {}),
        "dynamic_shapes": fmt.dynamic_shapes,
        "dynamic_batch": fmt.dynamic_batch,
        "inputs": inputs,
        "outputs": outputs,
        **({"head": loaded.head.record()} if loaded.head else {}),
        **({"labels": loaded.labels} if loaded.labels else {}),
        "file": file_record(main),
        "extra_files": [file_record(f) for f in others],
        **({"assets": [file_record(f) for f in converted.assets]} if converted.assets else {}),
        **converted.sections,
        **quantization,
        "validation": validation[main.name],
        "extra_validation": {k: v for k, v in validation.items() if k != main.name},
        "options": dict(options or {"graph": graph}),  # the format options: what re-derives it (quantize, verify)
        "tools": tool_versions(),
        "export_seconds": round(seconds, 1),
    }


def commit(converted: Converted, manifest: dict, out: Path) -> Artifact:
    """Write the manifest beside the files in their staging folder, then swap that folder in for `out` at once:
    a reader sees the old artifact or the new one, never a mix, and no file of an earlier export survives."""
    staging = converted.files[0].parent
    write_json_atomic(staging / "manifest.json", manifest)
    swap_in(staging, out)
    return Artifact(out, out / converted.files[0].name, manifest)
