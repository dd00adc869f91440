"""The artifacts a benchmark runs: exported (and quantized) on demand under `<out>/artifacts/`, reused after."""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("android_bench")


def _reusable(folder: Path, *, model: str, seq_len: int, weights: str) -> bool:
    """Whether `folder` holds this model at this seq_len and weights source. A match made by other code (e.g.
    before an exporter fix) would be timed silently, so that is said in a warning."""
    from export._versions import PIPELINE, pipeline_revision
    from export.runtimes import read_manifest

    if not (folder / "manifest.json").is_file():
        return False
    manifest = read_manifest(folder)
    random = manifest["model"]["weights"]["source"] == "random"
    if not (manifest["model"]["name"] == model and manifest["seq_len"] == seq_len and random == (weights == "random")):
        return False
    made_by = manifest.get("tools", {}).get(PIPELINE, "an unrecorded revision")
    if made_by != pipeline_revision():
        log.warning("reusing %s, made by %s %s (this is %s); delete the folder to re-export it", folder, PIPELINE,
                    made_by, pipeline_revision())
    return True


def ensure_artifact(root: Path, model: str, fmt: str, precision: str, *, weights: str, seq_len: int,
                    threads: int | None = None) -> Path:
    """`root/<model>/<fmt>-<precision>`, exported (fp32) or quantized from the fp32 one (int8) unless present."""
    folder = root / model / f"{fmt}-{precision}"
    if _reusable(folder, model=model, seq_len=seq_len, weights=weights):
        return folder
    if precision == "fp32":
        import export
        import models

        log.info("exporting %s to %s fp32 (seq_len %d)", model, fmt, seq_len)
        loaded = models.load(model, weights=weights)
        return export.export(export.get_format(fmt), loaded, seq_len=seq_len, out=folder, threads=threads).dir
    from quantize.__main__ import quantize_artifact

    fp32 = ensure_artifact(root, model, fmt, "fp32", weights=weights, seq_len=seq_len, threads=threads)
    log.info("quantizing %s %s to %s", model, fmt, precision)
    quantize_artifact(fp32, folder, threads=threads)
    return folder
