"""The int8 artifact of an existing fp32 one (what `python -m quantize` does)."""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("quantize")


def quantize_artifact(fp32_dir: Path, out: Path, *, recipe: str = "int8-dynamic", fmt_name: str | None = None,
                      threads: int | None = None, force: bool = False):
    """The `recipe` artifact of the fp32 artifact in `fp32_dir`, written to `out`.

    An artifact folder holds the model file, not the products a recipe starts from (the PyTorch module, the
    exported program, the ONNX graph before onnx2tf, the SavedModel), so these are re-derived from what the
    manifest records (model, weights, seed, task, graph, sequence length): the fp32 conversion runs again, is not
    written, and the recipe's artifact is validated against eager like every export. `out` is locked from the
    start (a second writer is refused at once) and must hold only an artifact's files unless `force`."""
    import export
    from export.runtimes import read_verified
    from export.verify import format_options, reload_model
    from models.errors import UserError

    if Path(out).resolve() == Path(fp32_dir).resolve():
        raise UserError(f"--out {out} is the --in folder: the int8 artifact would replace the fp32 one; pass another "
                        "--out")
    with export.claim_target(out, force=force):
        manifest = read_verified(fp32_dir)  # the given artifact must be intact, though it is re-derived
        if manifest["precision"] != "fp32":
            raise UserError(f"{fp32_dir} holds a {manifest['precision']} artifact; pass the fp32 one")
        if fmt_name and fmt_name != manifest["format"]:
            raise UserError(f"--format {fmt_name} but {fp32_dir} holds a {manifest['format']} artifact; "
                            f"pass --format {manifest['format']} or another folder")
        fmt = export.get_format(manifest["format"])
        export.get_recipe(fmt.name, recipe)  # an unknown recipe fails before the model is loaded
        loaded = reload_model(manifest)
        log.info("re-deriving the %s conversion of %s from its manifest (model, weights, graph, seq_len %d)",
                 fmt.name, loaded.name, manifest["seq_len"])
        (artifact,) = export.export(fmt, loaded, seq_len=manifest["seq_len"], out=None, quantized={recipe: out},
                                    threads=threads, options=format_options(manifest), force=force).values()
    size = artifact.manifest["quantization"]["size_bytes"]
    log.info("wrote %s: %.1f MB -> %.1f MB (%.2fx), mean cosine vs eager %s", artifact.path, size["fp32"] / 1e6,
             size[artifact.manifest["precision"]] / 1e6, size["ratio"],
             ", ".join(f"{k} {v:.5f}" for k, v in artifact.manifest["validation"]["mean_cosine"].items()))
    return artifact
