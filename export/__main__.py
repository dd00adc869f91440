"""`python -m export`: every format for one model, each in its own artifact folder under --out."""
from __future__ import annotations

import argparse
import logging
import sys

from models.errors import UserError

from ._cli import base_parser, log_artifact, run_main
from ._formats import available_formats, check_format_name, get_format
from ._recipes import recipe_names

log = logging.getLogger("export")


def _formats(text: str) -> list[str]:
    try:  # an unknown name fails here, with the list of valid ones, before any work
        return [check_format_name(f.strip()) for f in text.split(",") if f.strip()]
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser():
    formats = available_formats()
    p = base_parser("python -m export", "Export a model to every format (or --formats), validating each against "
                    "PyTorch eager; writes <out>/<format>/ artifact folders with manifest.json.", out_default="build")
    p.add_argument("--formats", type=_formats, default=formats, help=f"comma-separated subset of: {', '.join(formats)}")
    p.add_argument("--quantize", choices=recipe_names(), default=None,
                   help="also write the recipe's artifact per format (<out>/<format>-int8), derived from the same "
                        "conversion as the fp32 one (each format is converted once)")
    return p


def main(argv=None) -> int:
    def run(args):
        import models
        from ._pipeline import export
        from ._target import check_out, model_sources

        sources = model_sources(args.model, args.weights)
        for name in args.formats:  # every folder written, checked before the model loads
            check_out(args.out / name, sources=sources)
            if args.quantize:
                check_out(args.out / f"{name}-int8", sources=sources)
        loaded = models.load(args.model, weights=args.weights, task=args.task, seed=args.seed)
        for name in args.formats:
            fmt = get_format(name)
            quantized = {args.quantize: args.out / f"{name}-int8"} if args.quantize else {}
            for artifact in export(fmt, loaded, seq_len=args.seq_len, out=args.out / name, quantized=quantized,
                                   threads=args.threads, options={"graph": args.graph},
                                   force=args.force).values():
                log_artifact(artifact)

    return run_main(run, argv, parser=build_parser())


if __name__ == "__main__":
    sys.exit(main())
