"""Loading a model: registered name, HF id or local folder; weights from the hub/cache, a folder, or random."""
from __future__ import annotations

import functools
import logging
import os
import pickle
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from ._checkpoint import (check_architecture, check_config_file, check_labels, check_vocabulary,
                          refuse_remote_code)
from ._identity import cached_snapshot, resolve_weights, weights_identity
from ._inputs import sample_inputs
from ._registry import REGISTRY, TASKS, ModelSpec
from ._tokenizer import checkpoint_tokenizer, uncased_tokenizer
from .contract import MIN_SEQUENCE, IOContract, OutputHead, task_contract
from .errors import UserError

log = logging.getLogger("models")
RANDOM_WEIGHTS_WARNING = "RANDOM WEIGHTS: not a trained model; outputs are meaningless, only the graph is real"


@dataclass
class LoadedModel:
    name: str  # short name used in file names
    ref: str  # the model as the user named it: registered name, HF id or folder (reloads it)
    spec: ModelSpec | None  # None for an unregistered HF id or folder
    task: str
    config: object  # transformers PretrainedConfig
    hf_model: object  # the transformers model (eval mode)
    module: object  # models._heads.TaskModule: what exporters trace
    tokenizer: object
    weights: dict  # manifest record: source, id/path, revision or seed
    labels: list[str] | None = None  # sequence classification: label names in id order
    head: OutputHead | None = None  # an app asset's one output in place of the task's (module includes it)

    @property
    def contract(self) -> IOContract:
        return task_contract(self.task, self.config, self.labels, self.head)

    def with_head(self, head: OutputHead | None) -> "LoadedModel":
        """The same model with `head`'s one output (softmax probabilities, or a pooled embedding) as its output."""
        from ._heads import TaskModule, with_head

        if head is not None and head.task != self.task:
            raise ValueError(f"a {head.task} head on a {self.task} model")
        return replace(self, head=head, module=with_head(TaskModule(self.hf_model, self.task).eval(), head))

    @property
    def input_names(self) -> tuple[str, ...]:
        return self.contract.input_names

    @property
    def output_names(self) -> tuple[str, ...]:
        return self.contract.output_names

    @property
    def family(self) -> str:
        return self.config.model_type

    @property
    def atol(self) -> float:
        return self.spec.atol if self.spec else 1e-4

    @property
    def max_seq_len(self) -> int:
        return int(self.config.max_position_embeddings)

    def check_seq_len(self, seq_len: int) -> None:
        if not MIN_SEQUENCE <= seq_len <= self.max_seq_len:
            raise UserError(
                f"--seq-len {seq_len} is outside {MIN_SEQUENCE}..{self.max_seq_len} "
                f"(max_position_embeddings of {self.name}); pick a value in that range"
            )

    def inputs(self, *, seq_len: int = 128, batch: int = 1, offset: int = 0) -> dict[str, np.ndarray]:
        self.check_seq_len(seq_len)
        return sample_inputs(self.tokenizer, seq_len=seq_len, batch=batch, offset=offset)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("huggingface_hub").setLevel(logging.ERROR)
    logging.getLogger("torchao").setLevel(logging.ERROR)


def _auto_class(task: str):
    from transformers import AutoModel, AutoModelForSequenceClassification

    return AutoModel if task == "feature-extraction" else AutoModelForSequenceClassification


def _default_task(spec: ModelSpec | None, config) -> str:
    if spec is not None:
        return spec.default_task
    archs = getattr(config, "architectures", None) or []
    return "sequence-classification" if any("SequenceClassification" in a for a in archs) else "feature-extraction"


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


@functools.lru_cache(maxsize=None)
def _hub_reachable(timeout: float = 3.0) -> bool:
    """One quick TCP probe of the hub endpoint, so an offline machine goes straight to the HF cache
    instead of huggingface_hub's minute of retries."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _hub_unreachable(model_id: str) -> UserError:
    why = "HF_HUB_OFFLINE is set" if _hub_offline() else "the Hugging Face hub cannot be reached"
    return UserError(
        f"cannot load {model_id!r}: no local folder of that name, {why} and it is not in the local HF cache; "
        "check the path, or use --weights random (seeded random weights) or --weights PATH (a local checkpoint "
        "folder)"
    )


def _cache_only(source: str) -> bool:
    """Load from the HF cache only: a local folder, HF_HUB_OFFLINE, or a hub that does not answer."""
    return Path(source).is_dir() or _hub_offline() or not _hub_reachable()


def _config(model: str, spec: ModelSpec | None, weights: str):
    """The architecture: bundled for registered names, else from the folder or the hub."""
    from huggingface_hub.errors import StrictDataclassError
    from transformers import AutoConfig

    if weights not in ("hub", "random"):
        source = weights  # a checkpoint folder carries its own config (e.g. run_glue.py's num_labels)
    elif spec is not None:
        return AutoConfig.for_model(**spec.config_dict())
    else:
        source = model
    try:
        refuse_remote_code(source, cache_only=_cache_only(source))
        check_config_file(source, cache_only=_cache_only(source))
        return AutoConfig.from_pretrained(source, local_files_only=_cache_only(source), trust_remote_code=False)
    except (ValueError, StrictDataclassError) as exc:  # e.g. an unknown model_type: several lines of text
        lines = [line.strip() for line in str(exc).strip().splitlines()] or [type(exc).__name__]
        first = " ".join(lines[:2] if isinstance(exc, StrictDataclassError) else lines[:1])[:200]  # field; why
        raise UserError(f"{source!r}: config.json cannot be read by transformers ({first}); point at a saved "
                        "bert or squeezebert checkpoint") from exc
    except OSError as exc:
        if Path(source).is_dir():
            raise UserError(f"{source!r} has no usable config.json ({exc}); point at a saved HF model folder") from exc
        raise _hub_unreachable(source) from exc


def model_ref(model: str) -> str:
    """How a manifest records `model` so it can be reloaded: a registered name or hub id as given, a folder as its
    absolute path."""
    return model if model in REGISTRY or not Path(model).is_dir() else str(Path(model).resolve())


def load(model: str, *, weights: str = "hub", task: str | None = None, seed: int = 0) -> LoadedModel:
    """Load `model` for `task` with `weights` = "hub" (hub or HF cache), a local folder path, or "random"."""
    import torch

    from ._heads import TaskModule

    _quiet_transformers()
    spec, weights = resolve_weights(model, weights)
    if task is not None and task not in TASKS:
        raise UserError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")

    origin = weights if weights not in ("hub", "random") else model  # where config and labels come from
    config = _config(model, spec, weights)
    check_architecture(config, origin)
    task = task or _default_task(spec, config)
    auto = _auto_class(task)
    if weights == "random":
        torch.manual_seed(seed)
        hf_model = auto.from_config(config, trust_remote_code=False)
        record = {"source": "random", "seed": seed, "warning": RANDOM_WEIGHTS_WARNING}
        tokenizer = uncased_tokenizer()
    else:
        source = spec.hf_id if (weights == "hub" and spec is not None) else (model if weights == "hub" else weights)
        refuse_remote_code(source, cache_only=_cache_only(source))  # the tokenizer's too, and a registered hub id's
        hf_model = _from_pretrained(auto, source, config, task)
        tokenizer = checkpoint_tokenizer(source, cache_only=_cache_only(source))
        record = _weights_record(weights, source, hf_model)
        record["tokenizer"] = "checkpoint" if tokenizer is not None else "uncased WordPiece (checkpoint has none)"
        tokenizer = tokenizer or uncased_tokenizer()
        check_vocabulary(tokenizer, source, int(config.vocab_size))
        record.update(weights_identity(model, weights, seed=seed))  # the artifact cache's key, recorded as loaded
    hf_model.eval()
    labels = None
    if task == "sequence-classification":
        labels = [str(hf_model.config.id2label[i]) for i in range(hf_model.config.num_labels)]
        check_labels(labels, origin)
    name = spec.name if spec else Path(model.rstrip("/")).name
    return LoadedModel(
        name=name, ref=model_ref(model),
        spec=spec, task=task, config=hf_model.config, hf_model=hf_model,
        module=TaskModule(hf_model, task).eval(), tokenizer=tokenizer, weights=record, labels=labels,
    )


def _from_pretrained(auto, source: str, config, task: str):
    try:
        hf_model, info = auto.from_pretrained(source, config=config, output_loading_info=True,
                                              local_files_only=_cache_only(source), weights_only=True,
                                              trust_remote_code=False)
    except OSError as exc:
        if Path(source).is_dir():
            raise UserError(f"{source!r} holds no loadable weights ({exc}); save the model with save_pretrained") from exc
        raise _hub_unreachable(source) from exc
    except RuntimeError as exc:  # transformers' own text points at a report it logged (silenced here)
        if "ignore_mismatched_sizes" not in str(exc):
            raise
        raise UserError(f"the weights of {source!r} do not fit its config.json (tensor shapes differ, e.g. num_labels "
                        "or hidden_size edited); save the model and its config together with save_pretrained") from exc
    except pickle.UnpicklingError as exc:  # torch.load(weights_only=True) met more than tensors, and ran none of it
        raise UserError(f"the weights of {source!r} are a pickle holding more than tensors (refused by torch.load "
                        "weights_only; nothing in it was run); use a trusted checkpoint saved as safetensors") from exc
    except Exception as exc:  # safetensors' SafetensorError and its kin: a truncated or damaged weights file
        if type(exc).__name__ != "SafetensorError" and "safetensors" not in type(exc).__module__:
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise UserError(f"the weights of {source!r} cannot be read ({first}): the file is truncated or damaged; "
                        "save or download the checkpoint again") from exc
    missing = sorted(info.get("missing_keys", []))
    pooler_only = task == "feature-extraction" and missing and all(".pooler." in k or k.startswith("pooler.")
                                                                    for k in missing)
    if pooler_only:  # a headless checkpoint without a pooler: loud, and recorded in the manifest
        log.warning("WARNING: %s has no pooler weights; pooler_output comes from a randomly initialised layer", source)
        hf_model.random_init = missing
    elif missing:
        what = "classification head" if task == "sequence-classification" else "weights"
        raise UserError(
            f"{source!r} has no trained {what} ({len(missing)} tensors missing, e.g. {missing[0]}); "
            "fine-tune it first (e.g. run_glue.py) or pick a task the checkpoint was trained for"
        )
    return hf_model


def _weights_record(weights: str, source: str, hf_model) -> dict:
    if weights == "hub":
        revision = getattr(hf_model.config, "_commit_hash", None)
        snapshot = None if revision else cached_snapshot(source)  # transformers 5 loading from the cache sets none
        revision = revision or (snapshot.name if snapshot else None)
        record = {"source": "hub", "id": source, "revision": revision or "unknown"}
    else:
        record = {"source": "folder", "path": str(Path(source).resolve())}
    if getattr(hf_model, "random_init", None):
        record["randomly_initialised"] = hf_model.random_init
    return record

