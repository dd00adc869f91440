"""TorchScript: a traced `.pt` plus the lite-interpreter `.ptl` that PyTorch Mobile loads.

`optimize_for_mobile` is not applied: on the CPU torch wheel it fails (no XNNPACK rewrite passes), so the
`.ptl` is the traced graph saved for the lite interpreter. Both files are validated against eager.
"""
from __future__ import annotations

import sys
import warnings

import torch

from models.mobile import mobile_module

from ._formats import register_format


@register_format("torchscript", suffix=".pt", precisions=("fp32", "int8"))
def convert(loaded, *, path, seq_len, options):
    example = loaded.inputs(seq_len=seq_len, batch=1)
    args = tuple(torch.from_numpy(example[n]) for n in loaded.input_names)
    module, quantization = mobile_module(loaded, options["graph"]), {}
    if options["precision"] == "int8":
        from quantize import RECIPES
        from quantize.torchscript import quantize_module

        module, layers = quantize_module(module)
        quantization = {"quantization": {**RECIPES["torchscript"].record(), "layers": layers}}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, args, strict=False, check_trace=False)
    traced = torch.jit.freeze(traced.eval())
    traced.save(str(path))
    lite = path.with_suffix(".ptl")
    traced._save_for_lite_interpreter(str(lite))
    return {"extra_files": [lite.name], **quantization,
            "torchscript": {"method": "torch.jit.trace + freeze", "lite_interpreter": lite.name}}


def main(argv=None) -> int:
    from ._single import format_main

    return format_main("torchscript", argv)


if __name__ == "__main__":
    sys.exit(main())
