"""`python -m quantize --format F --in FP32_ARTIFACT_DIR --out DIR`: the int8 artifact of an fp32 one.

The model is reloaded from what the fp32 manifest records (name or folder, weights, seed, task, graph,
sequence length) and converted again up to the product the recipe starts from (quantize/recipes.py); the
recipe's artifact is validated against PyTorch eager (mean cosine similarity per token >= 0.99) and written
as `{model}_{task}_..._int8.*` with a manifest that says which layers are int8, which stayed float and why,
and the size before and after. `python -m export --quantize int8-dynamic` makes both in one conversion.
"""
from __future__ import annotations

import sys
from pathlib import Path


def main(argv=None) -> int:
    from export import ArgumentParser, available_formats, positive_int, recipe_names, run_main

    from ._artifact import quantize_artifact

    p = ArgumentParser(prog="python -m quantize", description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    p.add_argument("--format", choices=available_formats(), default=None,
                   help="format of the input artifact (checked against its manifest; default: the manifest's)")
    p.add_argument("--in", dest="source", type=Path, required=True, help="fp32 artifact folder (with manifest.json)")
    p.add_argument("--out", type=Path, required=True, help="output folder for the int8 artifact")
    p.add_argument("--force", action="store_true",
                   help="replace --out even when it holds files no artifact wrote (they are deleted)")
    p.add_argument("--quantize", choices=recipe_names(), default="int8-dynamic", help="quantization recipe")
    p.add_argument("--threads", type=positive_int, default=None, help="threads for validation runtimes")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks on error")
    return run_main(lambda a: quantize_artifact(a.source, a.out, recipe=a.quantize, fmt_name=a.format,
                                                threads=a.threads, force=a.force), argv, parser=p)


if __name__ == "__main__":
    sys.exit(main())
