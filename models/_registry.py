"""The model zoo: one `ModelSpec` per registered name, each with its config.json bundled."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UserError

CONFIG_DIR = Path(__file__).parent / "configs"
TASKS = ("feature-extraction", "sequence-classification")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str  # "squeezebert" or "bert": the architecture, and the key of its tiny test config
    hf_id: str | None  # None for test-only models (random weights only)
    default_task: str
    atol: float = 1e-4  # fp32 tolerance of every exported artifact against eager
    testing: bool = False  # tiny configs for tests: same ops, seconds not minutes

    @property
    def config_path(self) -> Path:
        return CONFIG_DIR / self.name / "config.json"

    def config_dict(self) -> dict:
        return json.loads(self.config_path.read_text())


REGISTRY: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec("squeezebert-uncased", "squeezebert", "squeezebert/squeezebert-uncased", "feature-extraction"),
        ModelSpec("squeezebert-mnli", "squeezebert", "squeezebert/squeezebert-mnli", "sequence-classification"),
        ModelSpec("squeezebert-mnli-headless", "squeezebert", "squeezebert/squeezebert-mnli-headless",
                  "feature-extraction"),
        ModelSpec("bert-base-uncased", "bert", "google-bert/bert-base-uncased", "feature-extraction"),
        ModelSpec("squeezebert-tiny", "squeezebert", None, "feature-extraction", testing=True),
        ModelSpec("bert-tiny", "bert", None, "feature-extraction", testing=True),
    )
}
FAMILIES = {s.family for s in REGISTRY.values()}
# org/name as the hub takes it (huggingface_hub validate_repo_id): each part starts and ends with a word
# character, no ".." or "--", 96 characters at most
_HF_PART = r"\w(?:[\w.-]*\w)?"
_HF_ID = re.compile(rf"^{_HF_PART}/{_HF_PART}$")


def _hub_id(name: str) -> bool:
    return bool(_HF_ID.match(name)) and ".." not in name and "--" not in name and len(name) <= 96


def model_choices() -> str:
    return ", ".join(REGISTRY)


def check_model_name(name: str) -> str:
    """argparse `type=`: a registered name, an existing local folder, or an `org/name` HF id."""
    if name in REGISTRY or Path(name).is_dir() or _hub_id(name):
        return name
    if Path(name).exists():
        raise UserError(f"--model {name!r} is a file, not a model folder; pass the folder holding config.json")
    if name.count("/") == 1 and not name.startswith(("/", ".")):
        raise UserError(f"--model {name!r}: no such folder, and not a Hugging Face id (org/name: letters, digits, "
                        "'-', '_', '.', each part starting and ending with a letter, digit or '_', no '..' or '--')")
    raise UserError(
        f"unknown model {name!r}: choose one of {model_choices()}, a local model folder, "
        "or a Hugging Face id such as 'org/name'"
    )
