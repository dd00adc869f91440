"""Quantization recipes as data: what a recipe quantizes and how, registered per format under a short name.

export/ offers int8 without knowing how it is made: quantize/ (the layer above) registers its recipes here,
and export finds them the way it finds formats, by registration. The registering modules are named by the
entry-point group `squeezebert_mobile.recipes` (pyproject.toml), so nothing here imports quantize/.
Every recipe is checked against SUPPORTED, the schemes each format's runtime executes, when it registers;
the manifest's quantization section is `Recipe.record()`, generated from the fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Callable

from models.errors import UserError

ENTRY_POINT_GROUP = "squeezebert_mobile.recipes"
# Where in the chain a recipe applies, and the product of the fp32 conversion it starts from
# (an attribute of export.Products).
STAGES = {"pytorch-module": "module", "exported-program": "exported_program", "onnx-graph": "onnx",
          "converter": "saved_model"}


@dataclass(frozen=True)
class Scheme:
    dtype: str  # "int8" or "uint8"
    granularity: str  # "per-channel" (weights: one scale an output channel), "per-row" (a table row),
    #                   "per-token" (activations: one scale a token, computed at run time), "per-tensor"
    symmetric: bool = True
    zero_point: int = 0  # uint8 storing a symmetric int8 value v as v + zero_point

    def describe(self) -> str:
        where = ", scaled at run time" if self.granularity == "per-token" else ""
        zero = f", zero point {self.zero_point}" if self.zero_point else ""
        return f"{self.dtype} {'symmetric' if self.symmetric else 'asymmetric'} {self.granularity}{zero}{where}"


# Per format: the weight, activation and embedding schemes its runtime executes (a recipe outside it fails
# to register). Activations None: float in the file (the kernels quantize at run time, or not at all).
SUPPORTED: dict[str, dict[str, set]] = {
    "torchscript": {"weights": {Scheme("int8", "per-channel")}, "activations": {Scheme("int8", "per-token")},
                    "embeddings": {Scheme("int8", "per-row")}},
    "onnx": {"weights": {Scheme("int8", "per-channel")},
             "activations": {Scheme("uint8", "per-token", zero_point=128), Scheme("uint8", "per-tensor", False)},
             "embeddings": {Scheme("int8", "per-row"), Scheme("int8", "per-tensor")}},
    "tflite": {"weights": {Scheme("int8", "per-channel")}, "activations": {Scheme("int8", "per-token", False)},
               "embeddings": {Scheme("int8", "per-channel")}},
    "executorch": {"weights": {Scheme("int8", "per-channel")}, "activations": {Scheme("int8", "per-token", False)},
                   "embeddings": {Scheme("int8", "per-row")}},
}


@dataclass(frozen=True)
class Recipe:
    name: str  # CLI name, e.g. "int8-dynamic"
    format: str
    stage: str  # a key of STAGES
    weights: Scheme
    activations: Scheme
    embeddings: Scheme | None
    layers: str  # which layers it quantizes
    tool: str  # what does the work
    why: str  # what was measured to choose it
    apply: Callable  # apply(loaded, products, path, *, options) -> export.Converted (with `layers` set)
    precision: str = "int8"  # the artifact's precision tag

    @property
    def product(self) -> str:
        return STAGES[self.stage]

    def record(self) -> dict:
        """The manifest's description of the recipe."""
        return {"recipe": self.name, "format": self.format, "stage": self.stage, "layers_targeted": self.layers,
                "weights": self.weights.describe(), "activations": self.activations.describe(),
                "embeddings": self.embeddings.describe() if self.embeddings else "float",
                "tool": self.tool, "why": self.why}


_RECIPES: dict[tuple[str, str], Recipe] = {}
_discovered = False


def register_recipe(recipe: Recipe) -> Recipe:
    """Register `recipe` for its format; a stage or scheme the format's runtime lacks is refused."""
    if recipe.stage not in STAGES:
        raise ValueError(f"recipe {recipe.name}: unknown stage {recipe.stage!r}; choose one of {', '.join(STAGES)}")
    supported = SUPPORTED.get(recipe.format)
    if supported is None:
        raise ValueError(f"recipe {recipe.name}: unknown format {recipe.format!r}")
    for kind in ("weights", "activations", "embeddings"):
        scheme = getattr(recipe, kind)
        if scheme is not None and scheme not in supported[kind]:
            raise ValueError(f"recipe {recipe.name} for {recipe.format}: {kind} {scheme.describe()} is not a scheme "
                             f"{recipe.format} runs; supported: {', '.join(s.describe() for s in supported[kind])}")
    _RECIPES[(recipe.format, recipe.name)] = recipe
    return recipe


def _discover() -> None:
    global _discovered
    if not _discovered:
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            entry.load()  # the module registers its recipes on import
        _discovered = True


def recipe_names() -> list[str]:
    _discover()
    return sorted({name for _, name in _RECIPES})


def get_recipe(fmt: str, name: str) -> Recipe:
    _discover()
    if (fmt, name) not in _RECIPES:
        names = sorted(n for f, n in _RECIPES if f == fmt)
        if not _RECIPES:
            raise UserError(f"no quantization recipes are registered (entry points {ENTRY_POINT_GROUP!r}); "
                            "install the project: pip install -e .")
        raise UserError(f"no quantization recipe {name!r} for {fmt}; choose one of {', '.join(names) or 'none'}")
    return _RECIPES[(fmt, name)]


def recipe_for_precision(fmt: str, precision: str) -> Recipe:
    """The recipe that makes `precision` artifacts of `fmt` (the benchmarks ask by precision)."""
    _discover()
    found = [r for (f, _), r in sorted(_RECIPES.items()) if f == fmt and r.precision == precision]
    if not found:
        raise UserError(f"{fmt} cannot produce {precision}; choose one of {', '.join(precisions(fmt))}")
    return found[0]


def precisions(fmt: str) -> list[str]:
    """What `fmt` can produce: fp32 and the precision of each registered recipe."""
    _discover()
    return ["fp32", *sorted({r.precision for (f, _), r in _RECIPES.items() if f == fmt})]
