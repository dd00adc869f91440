"""ONNX with dynamic batch and sequence axes, validated in ONNX Runtime.

Default exporter: the TorchScript-based one (`dynamo=False`, opset 17). Both exporters validate at ~2e-6
on SqueezeBERT and BERT, but the legacy one exports in ~3 s instead of ~16 s. `--exporter dynamo` (opset 18)
is kept for comparison and for when the legacy exporter is removed from torch. The axes, names and Dims come
from the task's I/O contract (models.contract).

SqueezeBERT's grouped layers (`--groups`, models/mobile.py) are one grouped Conv a layer on channel-major
activations ("conv", the default), by measurement: full size, seq 128, ORT 1.32, 2-core AMD EPYC (AVX-512 VNNI),
one process per run as the benchmark harness runs them, 3 rounds x 30: against one MatMul a group ("linears")
48.2 vs 56.2 ms at 2 threads (32 tokens 15.1 vs 16.9), 90.7 vs 88.6 at 1 thread: ORT's grouped Conv threads
over the groups, where each per-group MatMul is too small to split well. fp32 "batched" (one MatMul a layer with a
constant [g, K, N] weight) lost at 1 thread (102.3 vs 84.7 ms: ORT fuses the group Transpose into a slower
FusedMatMul).

int8 always quantizes the batched form (INT8_GROUPS), which the fp32 conversion exports too: quantize/onnx.py
rewrites MatMuls with constant weights into per-token int8 (a grouped Conv would become ConvInteger, 3x slower),
and one `MatMulIntegerToFloat` a grouped layer threads over its groups where a per-group one is too small to split:
SqueezeBERT int8 27.6 vs 31.8 ms at 2 threads, 43.9 vs 44.1 at 1 (8 rounds x 30, one process a run; 2-core AMD
EPYC), once K^T stopped being a 5-D permute (models/mobile.py) (docs/export-and-int8.md).
"""
from __future__ import annotations

import shutil
import sys
import warnings
from collections import Counter

import torch

from models.mobile import mobile_module

from ._formats import register_format
from ._pipeline import Converted

DEFAULT_OPSET = {"legacy": 17, "dynamo": 18}
INT8_GROUPS = "batched"  # the form of SqueezeBERT's grouped layers the int8 recipe quantizes, whatever --groups says


def add_options(parser):
    parser.add_argument("--exporter", choices=("legacy", "dynamo"), default="legacy",
                        help="torch.onnx.export path: legacy (TorchScript-based, dynamo=False) or dynamo")
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17 legacy, 18 dynamo)")
    parser.add_argument("--groups", choices=("conv", "linears", "batched"), default="conv",
                        help="SqueezeBERT's grouped layers in the mobile fp32 graph: conv (one grouped Conv a layer; "
                             "measured fastest), linears (one MatMul a group) or batched (one batched MatMul a "
                             "layer); int8 quantizes the batched form (see the module docstring)")
    parser.add_argument("--inputs", choices=("ids", "text"), default="ids",
                        help="ids: int64 input_ids, attention_mask, token_type_ids; text: a string tensor of one text "
                             "or a text pair [text, text_pair], tokenized inside the model by onnxruntime-extensions' "
                             "BertTokenizer and truncated as Hugging Face's longest_first to --seq-len (the app "
                             "registers the extensions' op library; the manifest says how)")


def prepare(loaded, options: dict):
    if options.get("inputs", "ids") == "text":
        from .onnx_text import check_available

        check_available()
    return loaded


def package(loaded, products, converted, *, precision: str, options: dict) -> Converted:
    """--inputs text: the tokenizer graph in front of the exported one (export/onnx_text.py)."""
    if options.get("inputs", "ids") != "text":
        return converted
    from dataclasses import replace
    from functools import partial

    from models import write_tokenizer_cases

    from .onnx_text import CUSTOM_OPS, TOKENIZER_DIFFERENCES, WHAT_TO_DO, compare_text, text_inputs, with_tokenizer

    path = converted.files[0]
    seq_len = products.example["input_ids"].shape[1]
    ids_model = products.work / f"ids-{precision}.onnx"
    shutil.move(path, ids_model)
    attrs = with_tokenizer(ids_model, path, loaded.tokenizer, max_length=seq_len)
    (path.parent / "labels.txt").write_text("".join(f"{label}\n" for label in loaded.labels or []))
    cases = write_tokenizer_cases(loaded.tokenizer, path.parent, max_length=seq_len, pad=False)
    section = {"tokenizer": "onnxruntime-extensions BertTokenizer (from gen_processing_models on the model's "
                            "tokenizer), merged with onnx.compose.merge_models", "op_attributes": attrs,
               "max_tokens": seq_len, "truncation": "Hugging Face longest_first to max_tokens, in the graph",
               "custom_op_library": {**CUSTOM_OPS, "onnxruntime-extensions": _version("onnxruntime-extensions")},
               "tokenizer_vs_hugging_face": {
                   "cases_file": cases.name, "differs_on": TOKENIZER_DIFFERENCES, "what_to_do": WHAT_TO_DO,
                   "checked": "validation runs every case: HF's ids (and eager's outputs) on every other kind"}}
    return replace(converted, assets=[*converted.assets, path.parent / "labels.txt", cases],
                   sections={**converted.sections, "text_input": section}, inputs=text_inputs(seq_len),
                   compare=partial(compare_text, max_length=seq_len))


def _version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def export_onnx(module, example: dict, path, *, contract, exporter="legacy", opset=None) -> dict:
    """torch.onnx.export with the contract's names and dynamic axes; returns the written graph's op census."""
    opset = opset or DEFAULT_OPSET[exporter]
    args = tuple(torch.from_numpy(example[n]) for n in contract.input_names)
    names = {"input_names": list(contract.input_names), "output_names": list(contract.output_names)}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        if exporter == "legacy":
            torch.onnx.export(module, args, str(path), dynamic_axes=contract.onnx_dynamic_axes() or None,
                              opset_version=opset, do_constant_folding=True, dynamo=False, **names)
        else:
            dims = contract.torch_export_dims()
            if any(0 in d for d in dims):  # a dynamic batch: torch.export specializes an example size of 1
                args = tuple(a.repeat(2, *[1] * (a.dim() - 1)) for a in args)  # once a reshape reads it: use 2
            program = torch.onnx.export(module, args, dynamic_shapes=dims if any(dims) else None,
                                        opset_version=opset, dynamo=True, verbose=False, **names)
            program.save(str(path))
    return {"exporter": exporter, "opset": opset, **op_census(path)}


def op_census(model) -> dict:
    """The node count of an ONNX file (or a loaded ModelProto) and its nodes by op type, most frequent first."""
    import onnx

    graph = (model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)).graph
    return {"nodes": len(graph.node), "op_census": dict(Counter(n.op_type for n in graph.node).most_common())}


@register_format("onnx", suffix=".onnx", add_options=add_options, prepare=prepare, package=package)
def convert(loaded, products, path, *, options) -> Converted:
    groups, how = options.get("groups", "conv"), {"exporter": options.get("exporter", "legacy"),
                                                  "opset": options.get("opset")}
    info = export_onnx(mobile_module(loaded, options["graph"], groups=groups), products.example, path,
                       contract=products.contract, **how)
    # kept for the int8 recipe, which rewrites the MatMuls with constant weights: the batched form (module docstring)
    products.onnx = products.work / "fp32.onnx"
    if groups != INT8_GROUPS and options["graph"] == "mobile" and loaded.family == "squeezebert":
        export_onnx(mobile_module(loaded, "mobile", groups=INT8_GROUPS), products.example, products.onnx,
                    contract=products.contract, **how)
    else:
        shutil.copyfile(path, products.onnx)
    return Converted(files=[path], sections={"onnx": info})


def main(argv=None) -> int:
    from ._cli import format_main

    return format_main("onnx", argv)


if __name__ == "__main__":
    sys.exit(main())
