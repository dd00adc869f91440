"""models.weights_identity (issue 40): what the benchmark's artifact cache keys on. It must change when the weights
change, not when the folder moves, agree with what load() records, and cost no torch import."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import models
from tests.conftest import ROOT
from tests.test_faults_models import _checkpoint


def _resave(folder: Path, seed: int) -> None:
    """bert-tiny's weights saved again into `folder` with another seed: same path, other weights."""
    models.load("bert-tiny", weights="random", seed=seed).hf_model.save_pretrained(folder)


def test_a_folder_is_named_by_what_it_holds_not_where_it_is(tmp_path):
    folder = _checkpoint(tmp_path / "ckpt")
    first = models.weights_identity(str(folder))
    assert first == models.weights_identity(str(folder), "hub") == models.weights_identity("bert-tiny", str(folder))
    assert first["source"] == "folder" and first["path"] == str(folder.resolve()) and len(first["digest"]) == 64

    copy = shutil.copytree(folder, tmp_path / "elsewhere")
    assert models.weights_identity(str(copy)) == {**first, "path": str(copy.resolve())}

    # run_glue leaves checkpoint-* folders and training files beside the model: they change no export
    (folder / "checkpoint-500").mkdir()
    (folder / "checkpoint-500" / "model.safetensors").write_bytes(b"older weights")
    (folder / "training_args.bin").write_bytes(b"args")
    (folder / "README.md").write_text("notes")
    assert models.weights_identity(str(folder)) == first

    _resave(folder, seed=1)
    changed = models.weights_identity(str(folder))
    assert changed["path"] == first["path"] and changed["digest"] != first["digest"]


@pytest.mark.parametrize("file", ["config.json", "vocab.txt"])
def test_the_digest_covers_config_and_tokenizer_files(tmp_path, file):
    folder = _checkpoint(tmp_path / "ckpt")
    before = models.weights_identity(str(folder))["digest"]
    if file == "config.json":
        config = json.loads((folder / file).read_text())
        (folder / file).write_text(json.dumps({**config, "layer_norm_eps": 1e-6}))
    else:
        (folder / file).write_text("[PAD]\n[UNK]\n")
    assert models.weights_identity(str(folder))["digest"] != before


def test_a_file_is_hashed_once_per_process_until_it_changes(tmp_path):
    """Same path, size, mtime and inode: the cached sha256 is reused (the bytes are not read again)."""
    folder = _checkpoint(tmp_path / "ckpt")
    weights = folder / "model.safetensors"
    before = models.weights_identity(str(folder))
    stat = weights.stat()
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    with open(weights, "r+b") as f:  # in place: same inode and size
        f.write(data)
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert models.weights_identity(str(folder)) == before
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))  # a rewrite a checkpoint save would make
    assert models.weights_identity(str(folder))["digest"] != before["digest"]


@pytest.mark.parametrize("source", ["random", "folder"])
def test_load_records_what_weights_identity_says(tmp_path, source):
    if source == "random":
        model, weights = "bert-tiny", "random"
    else:
        model, weights = str(_checkpoint(tmp_path / "ckpt")), "hub"
    identity = models.weights_identity(model, weights, seed=5)
    loaded = models.load(model, weights=weights, seed=5)
    assert identity["source"] == source
    assert all(loaded.weights.get(k) == v for k, v in identity.items()), (identity, loaded.weights)
    assert ("tokenizer" in loaded.weights) == (source == "folder")  # the record keeps its own keys


def test_weights_identity_refuses_what_load_refuses(tmp_path):
    with pytest.raises(models.UserError, match="no such folder"):
        models.weights_identity("bert-tiny", str(tmp_path / "missing"))
    with pytest.raises(models.UserError, match="test-only model without published weights"):
        models.weights_identity("bert-tiny")


def test_weights_identity_of_a_hub_model_is_its_cached_snapshot_and_imports_no_torch(tmp_path):
    """An HF cache snapshot (files linked into blobs, as huggingface_hub stores them): its digest is that of the
    same files in a folder, and load() records the same; an uncached id has digest None, found without the network
    (a subprocess: huggingface_hub reads its cache location when it is imported)."""
    folder = _checkpoint(tmp_path / "ckpt")
    repo = tmp_path / "hub" / "models--some-org--tiny"
    snapshot = repo / "snapshots" / ("1" * 40)
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for file in folder.iterdir():
        blob = repo / "blobs" / file.name
        shutil.copy(file, blob)
        (snapshot / file.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("1" * 40)
    code = ("import json, sys, models\n"
            "found = [models.weights_identity('some-org/tiny'), models.weights_identity('other/none'),"
            " models.weights_identity(sys.argv[1]), 'torch' in sys.modules, 'transformers' in sys.modules]\n"
            "print(json.dumps([*found, models.load('some-org/tiny').weights]))")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    hub, uncached, local, torch_imported, transformers_imported, loaded = json.loads(done.stdout.splitlines()[-1])
    assert hub == {"source": "hub", "id": "some-org/tiny", "digest": local["digest"]}
    assert uncached == {"source": "hub", "id": "other/none", "digest": None}
    assert not torch_imported and not transformers_imported
    assert all(loaded.get(k) == v for k, v in hub.items()) and loaded["revision"] == "1" * 40, loaded
