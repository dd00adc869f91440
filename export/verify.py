"""`python -m export.verify DIR`: re-measure an artifact against PyTorch eager, independently of its export.

The model is reloaded from what the manifest records (name or folder, weights source and seed), the artifact
is run in its desktop runtime on fresh sample inputs, and the measured max abs diff per output is printed and
compared with the manifest's and the tolerance. Exit 0 when within tolerance.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ._cli import ArgumentParser, positive_int, run_main

log = logging.getLogger("export")


def reload_model(manifest: dict):
    import models

    from ._formats import get_format

    m = manifest["model"]
    weights = m["weights"]
    source = {"random": "random", "hub": "hub", "folder": weights.get("path")}[weights["source"]]
    loaded = models.load(m["ref"], weights=source, task=manifest["task"], seed=weights.get("seed", 0))
    fmt = get_format(manifest["format"])
    # the model as the format's options made it (an app head, e.g. MediaPipe's probabilities)
    return fmt.prepare(loaded, format_options(manifest)) if fmt.prepare else loaded


def format_options(manifest: dict) -> dict:
    """The format options an artifact was made with (older manifests record only the graph)."""
    return manifest.get("options") or {"graph": manifest.get("graph", "mobile")}


def verify(artifact_dir: Path, *, threads: int | None = None) -> dict[str, float]:
    """Max abs diff per output of the artifact vs eager, at its export shape (and a second one if dynamic). The
    manifest and the model file measured are of one generation of the folder (an export may replace it)."""
    from ._pipeline import validation_shapes
    from ._validate import Tolerance, compare, max_abs_diff_by_output
    from .runtimes import open_artifact, read_consistent, read_manifest

    if "text_input" in read_manifest(artifact_dir):  # a string-in ONNX: strings in, on every tokenizer case
        manifest, (results, report) = read_consistent(artifact_dir, lambda m: _compare_text(artifact_dir, m, threads))
    else:
        manifest, runtime = open_artifact(artifact_dir, threads=threads)  # from here on, the folder may change
        loaded = reload_model(manifest)
        shapes = validation_shapes(loaded, manifest["seq_len"], dynamic=manifest["dynamic_shapes"],
                                   dynamic_batch=manifest.get("dynamic_batch", True),
                                   seq_len_range=manifest.get("seq_len_range"))
        results, report = compare(loaded, runtime, shapes, tolerance=Tolerance(**manifest["validation"]["tolerance"]))
    for line in report:
        log.info("%s", line)
    return max_abs_diff_by_output(results)


def _compare_text(artifact_dir: Path, manifest: dict, threads: int | None):
    """A string-in ONNX needs the extensions' op library and the tokenizer: opened and measured in one go."""
    from ._validate import Tolerance
    from .onnx_text import compare_text

    _, results, report = compare_text(reload_model(manifest), Path(artifact_dir) / manifest["file"]["name"],
                                      tolerance=Tolerance(**manifest["validation"]["tolerance"]), threads=threads,
                                      max_length=manifest["seq_len"])
    return results, report


def main(argv=None) -> int:
    p = ArgumentParser(prog="python -m export.verify", description=__doc__.split("\n\n")[1])
    p.add_argument("artifact", type=Path, help="artifact folder (model file + manifest.json)")
    p.add_argument("--threads", type=positive_int, default=None, help="runtime threads")
    p.add_argument("-v", "--verbose", action="store_true", help="full tracebacks on error")
    return run_main(lambda args: verify(args.artifact, threads=args.threads), argv, parser=p)


if __name__ == "__main__":
    sys.exit(main())
