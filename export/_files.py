"""Atomic file writes and file facts for manifests."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from models.errors import UserError


def ensure_writable_dir(path: Path) -> Path:
    """Create `path` (and parents) and prove we can write there, or fail with a one-line error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as exc:
        raise UserError(f"--out {path}: cannot write there ({exc.strerror or exc}); choose a writable folder") from exc
    return path


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json_atomic(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_record(path: Path) -> dict:
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": sha256(path)}
