"""Versions of the tools that made an artifact, for its manifest."""
from importlib.metadata import PackageNotFoundError, version

TOOLS = ("torch", "transformers", "onnx", "onnxruntime", "onnx2tf", "tensorflow-cpu", "ai-edge-litert",
         "litert-torch", "executorch", "torchao", "numpy")


def tool_versions(names=TOOLS) -> dict[str, str]:
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found
