"""int8 dynamic quantization for every export format, on the mobile SqueezeBERT graph."""
from ._recipes import RECIPES, SCHEMES, Recipe

__all__ = ["RECIPES", "SCHEMES", "Recipe"]
