"""`python -m export`: every available format for one model, each in its own artifact folder under --out."""
from __future__ import annotations

import logging
import sys

from ._cli import base_parser, run_main
from ._formats import available_formats, get_format

log = logging.getLogger("export")


def build_parser():
    formats = available_formats()
    p = base_parser("python -m export", "Export a model to every format (or --formats), validating each against "
                    "PyTorch eager; writes <out>/<format>/ artifact folders with manifest.json.", out_default="build")
    p.add_argument("--formats", default=",".join(formats),
                   help=f"comma-separated subset of: {', '.join(formats)}")
    p.add_argument("--quantize", choices=("int8-dynamic",), default=None,
                   help="also write an int8 artifact per format (<out>/<format>-int8), quantized from the fp32 one")
    return p


def main(argv=None) -> int:
    def run(args):
        import models
        from ._pipeline import export

        fmts = [get_format(f.strip()) for f in args.formats.split(",") if f.strip()]
        loaded = models.load(args.model, weights=args.weights, task=args.task, seed=args.seed)
        for fmt in fmts:
            artifact = export(fmt, loaded, seq_len=args.seq_len, out=args.out / fmt.name, threads=args.threads,
                              options={"graph": args.graph})
            worst = artifact.manifest["validation"]["max_abs_diff"]
            log.info("%-12s %s  max abs diff %s", fmt.name, artifact.path,
                     ", ".join(f"{k} {v:.2g}" for k, v in worst.items()))
            if args.quantize:
                from quantize.__main__ import quantize_artifact

                quantize_artifact(artifact.dir, args.out / f"{fmt.name}-int8", threads=args.threads)

    return run_main(run, argv, parser=build_parser())


if __name__ == "__main__":
    sys.exit(main())
