"""The artifacts a benchmark runs: exported (and quantized) on demand under `<out>/artifacts/`, and reused only when
the manifest says the folder holds exactly the artifact asked for."""
from __future__ import annotations

import logging
from pathlib import Path

from android_bench.harness.protocol import remote_name

log = logging.getLogger("android_bench")


def cache_name(model: str) -> str:
    """The folder of a model's artifacts and the stem of its inputs files: a registered name as it is; a folder (by
    its absolute path) or a hub id as a slug of its last part plus a hash of the whole, so two models never share
    one (ck/A/model, ck/B/model) and no name leaves the folder (`sub/..`, `.`)."""
    from models import model_ref

    return remote_name(model_ref(model))


def stale(manifest: dict, *, model: str, fmt: str, precision: str, seq_len: int, weights: str) -> str | None:
    """Why the artifact of `manifest` is not the one asked for, or None when it is: the same format, precision and
    recipe, format options and length, and made from the same model with the same tools (`made_otherwise`)."""
    import export

    recipe = None if precision == "fp32" else export.recipe_for_precision(fmt, precision).name
    asked = {"format": fmt, "precision": precision, "recipe": recipe, "seq_len": seq_len,
             "options": {"graph": export.DEFAULT_GRAPH}}
    found = {"format": manifest.get("format"), "precision": manifest.get("precision"),
             "recipe": (manifest.get("quantization") or {}).get("recipe"), "seq_len": manifest.get("seq_len"),
             "options": manifest.get("options")}
    for key, value in asked.items():
        if found[key] != value:
            return f"its manifest says {key} {found[key]!r}, not {value!r}"
    return made_otherwise(manifest, model=model, weights=weights)


def made_otherwise(manifest: dict, *, model: str, weights: str) -> str | None:
    """Why the artifact of `manifest` was not made from `model` with `weights` by these tools, or None: the model's
    full reference (models.model_ref), the weights' identity (models.weights_identity: a folder's content digest,
    the hub snapshot's, or the seed) and the versions of every tool that made it."""
    import export
    import models

    record = manifest.get("model") or {}
    if record.get("ref") != models.model_ref(model):
        return f"its manifest says model {str(record.get('ref'))[:80]!r}, not {models.model_ref(model)[:80]!r}"
    made_from = record.get("weights") or {}
    for key, value in models.weights_identity(model, weights).items():
        if value is None:
            return f"the weights of {model} cannot be identified ({key} unknown)"
        if made_from.get(key) != value:
            return f"it was made from other weights ({key} {str(made_from.get(key))[:24]!r}, now {str(value)[:24]!r})"
    made_with = manifest.get("tools") or {}
    for tool, version in export.tool_versions().items():
        if tool != export.PIPELINE and made_with.get(tool) != version:
            return f"it was made with {tool} {made_with.get(tool)}, this is {version}"
    return None


def _reusable(folder: Path, **asked) -> bool:
    """Whether `folder` holds the artifact `asked` for (`stale`), intact (every file as its manifest says). Anything
    else is exported again, and a warning says why. A match made by other code of this pipeline (e.g. before an
    exporter fix) is reused with a warning."""
    from export import PIPELINE, pipeline_revision
    from export.runtimes import ArtifactError, read_verified

    if not (folder / "manifest.json").is_file():
        return False
    try:
        manifest = read_verified(folder)
    except ArtifactError as exc:
        log.warning("not reusing %s: %s", folder, exc)
        return False
    why = stale(manifest, **asked)
    if why is not None:
        log.warning("not reusing %s: %s; exporting it again", folder, why)
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
    if _reusable(folder, model=model, fmt=fmt, precision=precision, seq_len=seq_len, weights=weights):
        return folder
    fp32 = artifact_folder(root, model, fmt, "fp32", seq_len)
    quantized = {}
    if precision != "fp32":
        quantized = {export.recipe_for_precision(fmt, precision).name: folder}
        if _reusable(fp32, model=model, fmt=fmt, precision="fp32", seq_len=seq_len, weights=weights):
            fp32 = None
    for target in (fp32, *quantized.values()):
        _check_ours(root, target)
    made = ([] if fp32 is None else ["fp32"]) + ([precision] if quantized else [])
    log.info("exporting %s to %s %s (seq_len %d)", model, fmt, " and ".join(made), seq_len)
    loaded = models.load(model, weights=weights)
    export.export(export.get_format(fmt), loaded, seq_len=seq_len, out=fp32, quantized=quantized, threads=threads)
    return folder


def _check_ours(root: Path, folder: Path | None) -> None:
    """An export replaces `folder` whole: files in it that no artifact wrote are the user's (an --artifacts folder
    that is not a cache), refused in one line before any work."""
    from export import artifact_names
    from models.errors import UserError

    if folder is None or not folder.is_dir():
        return
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in artifact_names(folder))
    if foreign:
        raise UserError(f"--artifacts {root}: {folder} holds files no artifact wrote ({foreign[0]}"
                        f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}), which exporting it again "
                        "would delete: move them away or choose another --artifacts")


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
    """Where the benchmarks keep an artifact: the model's own folder (`cache_name`), then every setting that makes
    another file; what else makes one (weights, tool versions) is checked against the manifest on reuse."""
    return root / cache_name(model) / f"{fmt}-{precision}-seq{seq_len}"
