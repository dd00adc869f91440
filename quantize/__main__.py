"""`python -m quantize --format F --in FP32_ARTIFACT_DIR --out DIR`: the int8 artifact of an fp32 one.

The model is reloaded from what the fp32 manifest records (name or folder, weights, seed, task, graph,
sequence length), quantized with the format's recipe (quantize/_recipes.py), validated against PyTorch
eager (mean cosine similarity per token >= 0.99), and written as `{model}_{task}_..._int8.*` with a
manifest that says which layers are int8, which stayed float and why, and the size before and after.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("quantize")


def quantize_artifact(fp32_dir: Path, out: Path, *, fmt_name: str | None = None, threads: int | None = None):
    import export
    from export.runtimes import read_manifest
    from export.verify import reload_model
    from models.errors import UserError

    manifest = read_manifest(fp32_dir)
    if manifest["precision"] != "fp32":
        raise UserError(f"{fp32_dir} holds a {manifest['precision']} artifact; pass the fp32 one")
    if fmt_name and fmt_name != manifest["format"]:
        raise UserError(f"--format {fmt_name} but {fp32_dir} holds a {manifest['format']} artifact; "
                        f"pass --format {manifest['format']} or another folder")
    loaded = reload_model(manifest)
    artifact = export.export(export.get_format(manifest["format"]), loaded, seq_len=manifest["seq_len"], out=out,
                             precision="int8", threads=threads,
                             options={"graph": manifest.get("graph", "mobile"), "fp32_bytes": manifest["file"]["bytes"]})
    size = artifact.manifest["quantization"]["size_bytes"]
    log.info("wrote %s: %.1f MB -> %.1f MB (%.2fx), mean cosine vs eager %s", artifact.path, size["fp32"] / 1e6,
             size["int8"] / 1e6, size["ratio"],
             ", ".join(f"{k} {v:.5f}" for k, v in artifact.manifest["validation"]["mean_cosine"].items()))
    return artifact


def main(argv=None) -> int:
    from export._cli import run_main
    from export._formats import available_formats

    from ._recipes import SCHEMES

    p = argparse.ArgumentParser(prog="python -m quantize", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--format", choices=available_formats(), default=None,
                   help="format of the input artifact (checked against its manifest; default: the manifest's)")
    p.add_argument("--in", dest="source", type=Path, required=True, help="fp32 artifact folder (with manifest.json)")
    p.add_argument("--out", type=Path, required=True, help="output folder for the int8 artifact")
    p.add_argument("--quantize", choices=SCHEMES, default="int8-dynamic", help="quantization scheme")
    p.add_argument("--threads", type=int, default=None, help="threads for validation runtimes")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")
    return run_main(lambda a: quantize_artifact(a.source, a.out, fmt_name=a.format, threads=a.threads), argv,
                    parser=p)


if __name__ == "__main__":
    sys.exit(main())
