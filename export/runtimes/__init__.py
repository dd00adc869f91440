"""Desktop runtimes behind one interface: load an artifact, feed named numpy inputs, get named numpy outputs.

Validation, tests and the host benchmark all go through `open_runtime` / `load_artifact`. Each runtime
module registers itself for the file suffixes it runs; imports of heavy libraries happen on first use.
"""
from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Callable, Protocol, TypeVar

import numpy as np

from models.errors import UserError

# suffix -> module (under export.runtimes) that registers the runtime for it
_MODULES = {".pt": "torchscript", ".ptl": "torchscript", ".onnx": "onnxruntime", ".tflite": "litert",
            ".pte": "executorch"}
# suffixes whose runtime has a per-op profiler (`profile=True`, then its `op_profile(skip)`), with the format
PROFILED = {".onnx": "onnx", ".pte": "executorch"}
_RUNTIMES: dict[str, type] = {}
T = TypeVar("T")


class ArtifactError(UserError):
    """An artifact that cannot be loaded or run (corrupt, wrong format, missing manifest)."""


class InputShapeError(UserError):
    """Inputs of a shape the model file does not take (a length outside its range, another batch)."""


class Runtime(Protocol):
    name: str
    input_names: list[str]
    output_names: list[str]

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class Profiled(Runtime, Protocol):
    """A runtime opened with `profile=True`: its own profiler's per-op times of every run."""

    def op_profile(self, skip: int = 0) -> list[dict]:
        """Per run after the first `skip`: {op type: ms, "<op>#count": how many ran}. Call once, after the runs."""
        ...


def register_runtime(*suffixes: str):
    def wrap(cls):
        for suffix in suffixes:
            _RUNTIMES[suffix] = cls
        return cls
    return wrap


def open_runtime(path: str | Path, *, input_names, output_names, threads: int | None = None,
                 seq_len_range: tuple[int, int] | None = None, value_ranges: dict | None = None,
                 max_sequence: int | None = None, profile: bool = False) -> Runtime:
    """Load the model file at `path` in the desktop runtime for its suffix. `seq_len_range`: the lengths a file
    with a bounded sequence takes (its manifest's), refused outside it in one line by its runtime.
    `value_ranges`: input name -> [low, high] (the contract's: ids in the vocabulary), `max_sequence`: the most
    tokens the model embeds. Every `run` checks its inputs first (export/runtimes/_checks.py), in one line.
    `profile`: the runtime's own per-op profiler on (a `Profiled` runtime); refused in one line by runtimes that
    have none (LiteRT, TorchScript)."""
    from ._checks import CheckedRuntime

    path = Path(path)
    suffix = path.suffix
    if suffix not in _MODULES:
        raise ArtifactError(f"{path.name}: unknown model file type {suffix!r}; expected one of {', '.join(_MODULES)}")
    if profile and suffix not in PROFILED:
        raise ArtifactError(f"{path.name}: profile=True needs a runtime with a per-op profiler, which "
                            f"{_MODULES[suffix]} has not; profile one of the formats {', '.join(PROFILED.values())}")
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file; export it first")
    importlib.import_module(f"{__name__}.{_MODULES[suffix]}")
    cls = _RUNTIMES[suffix]
    bounds = {"seq_len_range": tuple(seq_len_range)} if seq_len_range else {}  # only bounded formats take it
    if profile:
        bounds["profile"] = True  # only the profiled formats take it
    try:
        runtime = cls(path, input_names=list(input_names), output_names=list(output_names), threads=threads, **bounds)
    except UserError:
        raise
    except Exception as exc:  # the library's own message, reduced to one line
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ArtifactError(f"{path.name}: cannot be loaded by {cls.name} ({first}); the file is corrupt or "
                            "not this format: export it again") from exc
    return CheckedRuntime(runtime, path.name, value_ranges=value_ranges, max_sequence=max_sequence)


# What a manifest must hold for a reader to trust and open the artifact.
REQUIRED = ("format", "precision", "seq_len", "inputs", "outputs", "file")
_VERIFIED: dict[tuple, str] = {}  # (path, size, mtime) -> sha256: each file hashed once per process


def read_manifest(artifact_dir: str | Path) -> dict:
    """The manifest of an artifact folder, with its required fields present and every file name it lists a plain
    name inside the folder, and every other value of the type and range a reader expects (_manifest.py): one-line
    error otherwise, before any listed file is opened."""
    from ._manifest import check_manifest

    manifest = Path(artifact_dir) / "manifest.json"
    if not manifest.is_file():
        raise ArtifactError(f"{artifact_dir}: no manifest.json; pass an artifact folder written by python -m export")
    if not _inside(Path(artifact_dir), manifest.name):  # as for the files it lists: a link to a name beside is fine
        raise ArtifactError(f"{manifest} is a link leading out of the folder (to {os.readlink(manifest)[:80]}); "
                            "the manifest is not this artifact's: export the artifact again")
    try:
        data = json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{manifest}: not valid JSON ({exc}); export the artifact again") from exc
    missing = [k for k in REQUIRED if k not in data] if isinstance(data, dict) else list(REQUIRED)
    records = [] if missing else _records(data)
    if records is None:
        missing = ["name/bytes/sha256 in every file record"]
    if missing:
        raise ArtifactError(f"{manifest}: no {', '.join(missing)}; the manifest is damaged or not ours: export the "
                            "artifact again")
    for record in records:
        if not _inside(Path(artifact_dir), record["name"]):
            raise ArtifactError(f"{manifest}: lists {record['name'][:80]!r}, which is not a file name inside the "
                                "artifact folder; the manifest is damaged or not ours: export the artifact again")
    check_manifest(data, manifest)
    return data


def _records(data: dict) -> list[dict] | None:
    """Every file record of a manifest (model files and assets), or None when one is malformed."""
    extra, assets = data.get("extra_files", []), data.get("assets", [])
    if not (isinstance(extra, list) and isinstance(assets, list)):
        return None
    records = [data["file"], *extra, *assets]
    ok = all(isinstance(r, dict) and isinstance(r.get("name"), str) and isinstance(r.get("bytes"), int)
             and isinstance(r.get("sha256"), str) for r in records)
    return records if ok else None


def _inside(folder: Path, name: str, hops: int = 8) -> bool:
    """`name` is one plain path component (not `.`/`..`, no separator or NUL, so not absolute either), and if it
    is a symlink, it leads to another such name in the same folder. Links are followed by their text only: nothing
    outside the folder is looked at."""
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        return False
    path = folder / name
    if not path.is_symlink():
        return True
    return hops > 0 and _inside(folder, os.readlink(path), hops - 1)


def verify_files(artifact_dir: str | Path, manifest: dict) -> None:
    """Every file the manifest lists (model files and assets) is there with its size and sha256, or one line
    naming the file. Size first (cheap); each file's hash is computed once per process."""
    from .._files import sha256

    folder, records = Path(artifact_dir), _records(manifest)
    if records is None:
        raise ArtifactError(f"{folder}: the manifest's file records are damaged; export the artifact again")
    for record in records:
        if not _inside(folder, record["name"]):  # a manifest that did not come from read_manifest
            raise ArtifactError(f"{folder}: the manifest lists a file outside the folder; export the artifact again")
        path = folder / record["name"]
        if not path.is_file():
            raise ArtifactError(f"{path}: listed in the manifest but missing; export the artifact again")
        stat = path.stat()
        if stat.st_size != record["bytes"]:
            raise ArtifactError(f"{path}: {stat.st_size} bytes, the manifest says {record['bytes']}: the file is "
                                "damaged or was replaced; export the artifact again")
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if key not in _VERIFIED:
            _VERIFIED[key] = sha256(path)
        if _VERIFIED[key] != record["sha256"]:
            raise ArtifactError(f"{path}: sha256 differs from the manifest's: the file is damaged or was replaced; "
                                "export the artifact again")


def _generation(folder: Path):
    """The folder's identity: an export's commit swaps in another directory (renameat2's exchange), so this
    changes when the folder is replaced; ctime and mtime tell a reused inode number apart."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns, st.st_mtime_ns


READ_ATTEMPTS = 3


def read_consistent(artifact_dir: str | Path, use: Callable[[dict], T]) -> tuple[dict, T]:
    """(manifest, use(manifest)) from one generation of the folder: the manifest is read, its files checked and
    `use` run (opening the model file) while the folder is not replaced; when it was (an export committing
    meanwhile), all of it is done again, a few times, then one line. Never the old manifest with new files."""
    folder = Path(artifact_dir)
    for _ in range(READ_ATTEMPTS):
        before = _generation(folder)
        try:
            manifest = read_manifest(folder)
            verify_files(folder, manifest)
            result = use(manifest)
        except Exception:
            if _generation(folder) == before:
                raise  # not a replacement under way: the folder is like this
            continue  # a file vanished, or the manifest and a file came from different exports
        if _generation(folder) == before:
            return manifest, result
    raise ArtifactError(f"{folder}: replaced by another export each of {READ_ATTEMPTS} times it was read; read it "
                        "again when that export is done")


def read_verified(artifact_dir: str | Path) -> dict:
    """The manifest, after checking every file it lists against it: what every reader of an artifact calls."""
    return read_consistent(artifact_dir, lambda manifest: None)[0]


def open_artifact(artifact_dir: str | Path, *, threads: int | None = None,
                  profile: bool = False) -> tuple[dict, Runtime]:
    """The manifest and the model file opened in its runtime, both of one generation of the folder; the runtime
    checks its inputs against the manifest's limits (vocabulary, sequence). `profile`: as in `open_runtime`."""
    from ._checks import manifest_max_sequence, manifest_value_ranges

    return read_consistent(artifact_dir, lambda manifest: open_runtime(
        Path(artifact_dir) / manifest["file"]["name"],
        input_names=[i["name"] for i in manifest["inputs"]],
        output_names=[o["name"] for o in manifest["outputs"]],
        threads=threads,
        seq_len_range=manifest.get("seq_len_range"),
        value_ranges=manifest_value_ranges(manifest),
        max_sequence=manifest_max_sequence(manifest),
        profile=profile,
    ))


def load_artifact(artifact_dir: str | Path, *, threads: int | None = None, profile: bool = False) -> Runtime:
    """Open the model file of an artifact folder (checked against its manifest), with its input/output names."""
    return open_artifact(artifact_dir, threads=threads, profile=profile)[1]


__all__ = ["PROFILED", "ArtifactError", "InputShapeError", "Profiled", "Runtime", "load_artifact", "open_artifact",
           "open_runtime", "read_consistent", "read_manifest", "read_verified", "register_runtime", "verify_files"]
