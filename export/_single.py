"""`python -m export.<format>`: the same thin CLI over `export()` for every format."""
from __future__ import annotations

import logging

from ._cli import base_parser, run_main
from ._formats import get_format

log = logging.getLogger("export")


def format_main(name: str, argv=None) -> int:
    fmt = get_format(name)
    parser = base_parser(f"python -m export.{name}", f"Export a model to {name}, validate it against PyTorch "
                         "eager in its desktop runtime, and write the artifact folder with manifest.json.",
                         out_default=f"build/{name}")
    if fmt.add_options:
        fmt.add_options(parser)

    def main(args):
        import models
        from ._pipeline import export

        loaded = models.load(args.model, weights=args.weights, task=args.task, seed=args.seed)
        options = {k: v for k, v in vars(args).items() if k not in _CORE}
        artifact = export(fmt, loaded, seq_len=args.seq_len, out=args.out, threads=args.threads, options=options)
        worst = artifact.manifest["validation"]["max_abs_diff"]
        log.info("wrote %s (%s); max abs diff vs eager: %s", artifact.path, _size(artifact.path),
                 ", ".join(f"{k} {v:.2g}" for k, v in worst.items()))

    return run_main(main, argv, parser=parser)


_CORE = {"model", "weights", "task", "seq_len", "out", "seed", "threads", "verbose"}  # --graph etc. go on


def _size(path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"
