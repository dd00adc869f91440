"""What identifies the weights `load` would load, without loading them or importing torch: an artifact cache
keys on it. A folder or HF cache snapshot is named by a digest of the files loading reads and that change an
export (config, weights, tokenizer), top level only: a run_glue output's checkpoint-* folders and training files
do not change what is exported."""
from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path

from ._registry import REGISTRY, ModelSpec, check_model_name
from .errors import UserError

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json",
                   "added_tokens.json")
DIGEST_PATTERNS = ("config.json", "*.safetensors", "*.safetensors.index.json", "pytorch_model*.bin",
                   "pytorch_model.bin.index.json", *TOKENIZER_FILES)
_CHUNK = 1 << 20
# sha256 per file for this process, keyed so that a rewritten file (new size, mtime or inode) is hashed again:
# a benchmark asking for the same 440 MB checkpoint again and again hashes it once
_FILE_HASHES: dict[tuple[str, int, int, int], str] = {}


def resolve_weights(model: str, weights: str) -> tuple[ModelSpec | None, str]:
    """The registered spec (or None) and the weights source `load` uses: "hub", "random" or a folder path.
    One line for a weights value no load could take."""
    check_model_name(model)
    spec = REGISTRY.get(model)
    if Path(model).is_dir() and weights == "hub":
        weights = model  # a local model folder is its own weights
    if weights not in ("hub", "random") and not Path(weights).is_dir():
        raise UserError(f"--weights {weights!r}: no such folder; pass hub, random, or a checkpoint folder")
    if spec is not None and spec.hf_id is None and weights == "hub":
        raise UserError(f"{model} is a test-only model without published weights; use --weights random")
    return spec, weights


def file_sha256(path: Path) -> str:
    """sha256 of the file `path` (symlinks followed: an HF cache snapshot links into ../../blobs)."""
    real = path.resolve()
    stat = real.stat()
    key = (str(real), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    if key not in _FILE_HASHES:
        digest = hashlib.sha256()
        with open(real, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        _FILE_HASHES[key] = digest.hexdigest()
    return _FILE_HASHES[key]


def folder_digest(folder: Path) -> str:
    """sha256 over the sorted lines "name\\0sha256(file)\\n" of the top-level files that change an export."""
    names = [p.name for p in folder.iterdir()
             if p.is_file() and any(fnmatch.fnmatchcase(p.name, pat) for pat in DIGEST_PATTERNS)]
    lines = sorted(f"{name}\0{file_sha256(folder / name)}\n" for name in names)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def cached_snapshot(repo_id: str) -> Path | None:
    """The HF cache snapshot `repo_id`'s main revision resolves to, offline; None if it is not cached."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:  # an id huggingface_hub refuses: nothing of it can be cached
        return None
    return Path(found).parent if isinstance(found, str) else None


def weights_identity(model: str, weights: str = "hub", *, seed: int = 0) -> dict:
    """What identifies the weights `load(model, weights=weights, seed=seed)` would load, without loading them:
    {"source": "random", "seed"}, {"source": "folder", "path", "digest"} or {"source": "hub", "id", "digest"}
    (digest None when the hub model is not in the local HF cache; the network is never asked)."""
    spec, weights = resolve_weights(model, weights)
    if weights == "random":
        return {"source": "random", "seed": seed}
    if weights != "hub":
        folder = Path(weights).resolve()
        return {"source": "folder", "path": str(folder), "digest": folder_digest(folder)}
    repo_id = spec.hf_id if spec is not None else model
    snapshot = cached_snapshot(repo_id)
    return {"source": "hub", "id": repo_id, "digest": folder_digest(snapshot) if snapshot else None}
