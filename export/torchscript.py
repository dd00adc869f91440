"""TorchScript: a traced `.pt` plus the lite-interpreter `.ptl` that PyTorch Mobile loads.

`optimize_for_mobile` is not applied: on the CPU torch wheel it fails (no XNNPACK rewrite passes), so the
`.ptl` is the traced graph saved for the lite interpreter. Both files are validated against eager.
"""
from __future__ import annotations

import sys
import warnings

import torch

from models.mobile import mobile_module

from ._files import write_bytes_checked
from ._formats import register_format
from ._pipeline import Converted


def trace_and_save(module, products, path) -> Converted:
    """Trace `module` on the conversion's example inputs, freeze it, save it and its lite-interpreter twin."""
    args = tuple(torch.from_numpy(products.example[n]) for n in products.contract.input_names)
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, args, strict=False, check_trace=False)
    traced = torch.jit.freeze(traced.eval())
    # serialized in memory, then written by us: torch's own file writers abort the process on a full disk
    write_bytes_checked(path, traced.save_to_buffer())
    lite = path.with_suffix(".ptl")
    write_bytes_checked(lite, traced._save_to_buffer_for_lite_interpreter())
    return Converted(files=[path, lite], sections={"torchscript": {"method": "torch.jit.trace + freeze",
                                                                   "lite_interpreter": lite.name}})


@register_format("torchscript", suffix=".pt")
def convert(loaded, products, path, *, options) -> Converted:
    products.module = mobile_module(loaded, options["graph"])
    return trace_and_save(products.module, products, path)


def main(argv=None) -> int:
    from ._cli import format_main

    return format_main("torchscript", argv)


if __name__ == "__main__":
    sys.exit(main())
