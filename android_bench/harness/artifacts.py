"""The artifacts a benchmark runs: exported (and quantized) on demand under `<out>/artifacts/`, reused after."""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("android_bench")


def _reusable(folder: Path, *, model: str, seq_len: int, weights: str) -> bool:
    """Whether `folder` holds this model at this seq_len and weights source, intact (every file as its manifest
    says; a damaged one is exported again). A match made by other code (e.g. before an exporter fix) would be
    timed silently, so that is said in a warning."""
    from export import PIPELINE, pipeline_revision
    from export.runtimes import ArtifactError, read_verified

    if not (folder / "manifest.json").is_file():
        return False
    try:
        manifest = read_verified(folder)
    except ArtifactError as exc:
        log.warning("not reusing %s: %s", folder, exc)
        return False
    from models import model_ref

    random = manifest["model"]["weights"]["source"] == "random"
    if not (manifest["model"].get("ref") == model_ref(model) and manifest["seq_len"] == seq_len
            and random == (weights == "random")):
        return False
    made_by = manifest.get("tools", {}).get(PIPELINE, "an unrecorded revision")
    if made_by != pipeline_revision():
        log.warning("reusing %s, made by %s %s (this is %s); delete the folder to re-export it", folder, PIPELINE,
                    made_by, pipeline_revision())
    return True


def ensure_artifact(root: Path, model: str, fmt: str, precision: str, *, weights: str, seq_len: int,
                    threads: int | None = None) -> Path:
    """`root/<model>/<fmt>-<precision>-seq<seq_len>` unless present: fp32 exported, int8 made by the format's
    recipe for it. A missing fp32 artifact is made in the same conversion as the int8 one (each format is
    converted once)."""
    import export
    import models

    folder = artifact_folder(root, model, fmt, precision, seq_len)
    if _reusable(folder, model=model, seq_len=seq_len, weights=weights):
        return folder
    fp32 = artifact_folder(root, model, fmt, "fp32", seq_len)
    quantized = {}
    if precision != "fp32":
        quantized = {export.recipe_for_precision(fmt, precision).name: folder}
        if _reusable(fp32, model=model, seq_len=seq_len, weights=weights):
            fp32 = None
    made = ([] if fp32 is None else ["fp32"]) + ([precision] if quantized else [])
    log.info("exporting %s to %s %s (seq_len %d)", model, fmt, " and ".join(made), seq_len)
    loaded = models.load(model, weights=weights)
    export.export(export.get_format(fmt), loaded, seq_len=seq_len, out=fp32, quantized=quantized, threads=threads)
    return folder


def ensure_artifacts(root: Path, models: list[str], formats: list[str], precisions: list[str], *, weights: str,
                     seq_len: int) -> dict[tuple, Path]:
    """Every model x format x precision (ensure_artifact, at `seq_len`: each length is timed on it), keyed as
    harness.protocol.Job.artifact: {(model, format, precision, None): folder} (None: ours, not a peer path)."""
    return {(m, f, p, None): ensure_artifact(root, m, f, p, weights=weights, seq_len=seq_len)
            for m in models for f in formats for p in conversion_order(precisions)}


def conversion_order(precisions) -> list[str]:
    """Precisions in the order to ensure them: int8 first, so a missing fp32 artifact is made in the same
    conversion as the int8 one, and fp32 is then reused."""
    return sorted(precisions, key=lambda p: p == "fp32")


def artifact_folder(root: Path, model: str, fmt: str, precision: str, seq_len: int) -> Path:
    """Where the benchmarks keep an artifact: the name carries every setting that changes the file."""
    return root / Path(model).name / f"{fmt}-{precision}-seq{seq_len}"
