"""What is inside a .tflite file, read from its flatbuffer: op census, Flex ops, weight dtypes."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from ai_edge_litert import schema_py_generated as schema

_BUILTIN_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
FLEX_PREFIX = "Flex"
SMALL_WEIGHT = 1024  # Select-TF ops are custom ops named Flex<TF op>; the stock interpreter refuses them


def _model(path: Path):
    return schema.Model.GetRootAsModel(Path(path).read_bytes(), 0)


def _op_name(code) -> str:
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        return (code.CustomCode() or b"CUSTOM").decode()
    return _BUILTIN_NAMES.get(builtin, f"BUILTIN_{builtin}")


def op_census(path: Path) -> dict[str, int]:
    """Count of each op type over all subgraphs, most frequent first."""
    model = _model(path)
    names = [_op_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    counts = Counter()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            counts[names[graph.Operators(o).OpcodeIndex()]] += 1
    return dict(counts.most_common())


def flex_ops(census: dict[str, int]) -> list[str]:
    return sorted(op for op in census if op.startswith(FLEX_PREFIX))


def weight_dtypes(path: Path, ops=("CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL")) -> dict[str, Counter]:
    """For each op type in `ops`: how many have constant (buffer-backed) weights of each dtype."""
    model = _model(path)
    names = [_op_name(model.OperatorCodes(i)) for i in range(model.OperatorCodesLength())]
    found: dict[str, Counter] = {op: Counter() for op in ops}
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            name = names[op.OpcodeIndex()]
            if name not in found or op.InputsLength() < 2 or op.Inputs(1) < 0:
                continue
            weight = graph.Tensors(op.Inputs(1))
            buffer = model.Buffers(weight.Buffer())
            if buffer.DataLength() or buffer.Size():  # constant weights, not an activation operand
                dtype = _TYPE_NAMES.get(weight.Type(), str(weight.Type()))
                elements = 1
                for d in weight.ShapeAsNumpy():
                    elements *= int(d)
                # The converter's dynamic-range mode leaves weights under 1024 elements in float on purpose.
                found[name][dtype if elements >= SMALL_WEIGHT else f"{dtype} (<{SMALL_WEIGHT} elements)"] += 1
    return {k: v for k, v in found.items() if v}


def signature_tensors(path: Path, key: str = "serving_default") -> dict[str, dict[str, str]]:
    """{"inputs": {signature name: tensor name}, "outputs": {...}} of the signature `key`: what metadata maps."""
    model = _model(path)
    for s in range(model.SignatureDefsLength()):
        signature = model.SignatureDefs(s)
        if signature.SignatureKey().decode() != key:
            continue
        graph = model.Subgraphs(signature.SubgraphIndex())

        def names(count, get):
            return {get(i).Name().decode(): graph.Tensors(get(i).TensorIndex()).Name().decode() for i in range(count)}
        return {"inputs": names(signature.InputsLength(), signature.Inputs),
                "outputs": names(signature.OutputsLength(), signature.Outputs)}
    raise ValueError(f"{Path(path).name} has no {key!r} signature")


def subgraph_count(path: Path) -> int:
    return _model(path).SubgraphsLength()
