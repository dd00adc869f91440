"""int8 dynamic quantization for every export format, on the mobile SqueezeBERT graph.

The recipes (quantize/recipes.py) register with export/ through an entry point; `quantize_artifact` makes the
int8 artifact of an existing fp32 one. Importing quantize/ loads no torch.
"""
from ._artifact import quantize_artifact

__all__ = ["quantize_artifact"]
