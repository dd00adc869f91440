"""Faults of issue 40 (reliability round 4) in the export layer, with the real processes where a user meets them:
a symlinked, dangling, read-only, over-long or overlapping --out, --seq-len 0, a lock on a read-only folder, and
what a reader trusts (the manifest's every field, extra inputs, text that is not UTF-8)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models
from export.runtimes import ArtifactError, InputShapeError, load_artifact, read_manifest, read_verified
from models.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model", "bert-tiny", "--weights", "random", "--seq-len", "16"]
OUTSIDE = Path("/etc/hostname")
STARTED = "converting"  # the first stage line of an export: absent when it was refused before any work


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)


def _one_error(done: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a failed CLI run (exit 2, no traceback, no work started)."""
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert STARTED not in done.stderr, done.stderr
    return errors[0]


@contextlib.contextmanager
def read_only_mount(folder: Path):
    """`folder` as a read-only filesystem (a tmpfs remounted ro: root writes through chmod, not through this);
    skipped where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()[:80]}); needs root")
    try:
        (folder / "inside").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture(scope="module")
def onnx_seeds(tmp_path_factory):
    """The tiny ONNX artifact with seed 0 and 1, and seed 0's int8: {0: folder, 1: folder, "int8": folder}."""
    import export

    made = {}
    for seed in (0, 1):
        loaded = models.load("bert-tiny", weights="random", seed=seed)
        root = tmp_path_factory.mktemp(f"seed{seed}")
        quantized = {"int8-dynamic": root / "onnx-int8"} if seed == 0 else {}
        export.export(export.get_format("onnx"), loaded, seq_len=16, out=root / "onnx", quantized=quantized)
        made[seed] = root / "onnx"
        if seed == 0:
            made["int8"] = root / "onnx-int8"
    return made


# 1. a symlinked --out


def test_a_symlinked_out_is_followed_and_the_link_stays(onnx_seeds, tmp_path):
    """On main: rc 1 ("Cannot call rmtree on a symbolic link"), the artifact in a new real folder at the link's path
    and the link renamed beside it."""
    real = tmp_path / "real"
    shutil.copytree(onnx_seeds[0], real)
    (tmp_path / "link").symlink_to("real")
    done = _run("export.onnx", *TINY, "--seed", "1", "--out", str(tmp_path / "link"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link").is_symlink() and os.readlink(tmp_path / "link") == "real"
    assert read_verified(real)["model"]["weights"]["seed"] == 1 and read_verified(tmp_path / "link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]  # no scratch folder, old link or lock


def test_a_dangling_link_or_a_read_only_out_is_one_line_before_any_work(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    line = _one_error(_run("export.onnx", *TINY, "--out", str(tmp_path / "link")))
    assert str(tmp_path / "link") in line and str(tmp_path / "gone") in line and "create it" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link"]
    with read_only_mount(tmp_path / "ro") as ro:
        for out in (ro / "onnx", ro / "inside"):
            line = _one_error(_run("export.onnx", *TINY, "--out", str(out)))
            assert str(ro) in line and "choose a writable folder" in line, line


# 2. --seq-len 0


@pytest.mark.parametrize("value", ["0", "-3", "1"])
def test_a_seq_len_below_two_is_refused_in_one_line(tmp_path, value):
    """On main --seq-len 0 exported at the default 128."""
    done = _run("export.onnx", "--model", "bert-tiny", "--weights", "random", "--seq-len", value,
                "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and "--seq-len: must be at least 2" in done.stderr, done.stderr
    assert not (tmp_path / "o").exists()


def test_the_library_refuses_seq_len_zero(tmp_path):
    import export

    loaded = models.load("bert-tiny", weights="random")
    with pytest.raises(UserError, match="--seq-len 0 is outside 2..512"):
        export.export(export.get_format("onnx"), loaded, seq_len=0, out=tmp_path / "o")
    assert list(tmp_path.iterdir()) == []


# 3. --out and the model's own folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from tests.test_models import make_fine_tuned_squeezebert

    return make_fine_tuned_squeezebert(tmp_path_factory.mktemp("ckpt") / "glue")


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.parametrize("args, where", [
    (["export.onnx", "--model", "{ckpt}", "--out", "{ckpt}", "--force"], "is the model folder"),
    (["export.onnx", "--model", "{ckpt}", "--out", "{ckpt}/onnx"], "is inside the model folder"),
    (["export.onnx", "--model", "bert-tiny", "--weights", "{ckpt}", "--out", "{ckpt}/onnx"],
     "is inside the weights folder"),
    (["export.onnx", "--model", "{ckpt}", "--out", "{ckpt}/..", "--force"], "holds the model folder"),
    (["export", "--formats", "onnx", "--model", "{ckpt}", "--out", "{ckpt}"], "is inside the model folder"),
    (["export", "--formats", "onnx", "--model", "{ckpt}", "--out", "{ckpt}/..", "--force"], None),
])
def test_out_overlapping_the_model_folder_is_refused_before_any_work(checkpoint, args, where):
    """On main `--model ./ckpt --out ./ckpt --force` replaced the checkpoint with the artifact."""
    before = _snapshot(checkpoint)
    args = [a.format(ckpt=checkpoint) for a in args]
    done = _run(*args, "--seq-len", "16")
    if where is None:  # python -m export writes <out>/onnx: beside the checkpoint, not over it
        assert done.returncode == 0, done.stderr
        shutil.rmtree(checkpoint.parent / "onnx")
    else:
        line = _one_error(done)
        assert where in line and "choose an --out apart from it" in line, line
    assert _snapshot(checkpoint) == before


def test_the_library_refuses_an_out_inside_the_model_folder(checkpoint):
    import export

    loaded = models.load(str(checkpoint))
    before = _snapshot(checkpoint)
    for out in (checkpoint, checkpoint / "onnx", checkpoint.parent):
        with pytest.raises(UserError, match="the model folder"):
            export.export(export.get_format("onnx"), loaded, seq_len=16, out=out, force=True)
    assert _snapshot(checkpoint) == before


# 4. names the filesystem does not take


@pytest.mark.parametrize("length", [250, 256])
def test_an_out_name_too_long_for_the_filesystem_is_one_line_before_any_work(tmp_path, length):
    """On main a 250-character name failed with `File name too long` after the conversion had run."""
    line = _one_error(_run("export.onnx", *TINY, "--out", str(tmp_path / ("a" * length))))
    assert "choose a shorter --out" in line and "255" in line
    assert list(tmp_path.iterdir()) == []


def test_a_model_file_name_too_long_is_refused_before_the_conversion(tmp_path):
    import export

    loaded = models.load("bert-tiny", weights="random")
    loaded.name = "m" * 240  # a model folder's name is the file's stem
    with pytest.raises(UserError, match="choose a shorter --out or model folder name"):
        export.export(export.get_format("onnx"), loaded, seq_len=16, out=tmp_path / "o")
    assert list(tmp_path.iterdir()) == []


# 5. the lock on a read-only folder


def test_the_lock_on_a_read_only_folder_is_one_line(tmp_path):
    """On main: `Read-only file system: .../.b.lock`, an OSError."""
    from export._files import folder_lock

    with read_only_mount(tmp_path / "ro") as ro:
        for folder in (ro / "b", ro / "inside" / "b"):
            with pytest.raises(UserError) as err:
                with folder_lock(folder):
                    pass
            assert str(folder) in str(err.value) and "choose a writable --out" in str(err.value)
            assert "\n" not in str(err.value)


# 6. what a manifest may say


def _edit(folder: Path, **changes) -> None:
    """Set dotted keys of the manifest (None deletes)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        node = manifest
        for p in parents:
            node = node[p]
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))


BAD = [
    ({"model__max_position_embeddings": 10 ** 30}, "model.max_position_embeddings"),
    ({"model__vocab_size": 0}, "model.vocab_size"),
    ({"model__type_vocab_size": "2"}, "model.type_vocab_size"),
    ({"model": []}, "model"),
    ({"outputs": []}, "outputs"),
    ({"inputs": [{"dtype": "int64"}]}, "inputs"),
    ({"inputs": "input_ids"}, "inputs"),
    ({"validation__tolerance": "x"}, "validation.tolerance"),
    ({"validation__tolerance": {"atol": "x", "min_cosine": None}}, "validation.tolerance"),
    ({"validation__tolerance": {"min_cosine": 0.99}}, "validation.tolerance"),  # the kind of an int8 artifact
    ({"seq_len": 0}, "seq_len"),
    ({"seq_len": 600}, "seq_len"),
    ({"seq_len": 16.0}, "seq_len"),
    ({"seq_len_range": [16, 2]}, "seq_len_range"),
    ({"seq_len_range": [2]}, "seq_len_range"),
    ({"precision": "int4"}, "precision"),
    ({"format": "coreml"}, "format"),
    ({"quantization": "yes"}, "quantization"),
    ({"precision": "int8"}, "quantization"),  # an int8 manifest without its record
    ({"dynamic_shapes": "yes"}, "dynamic_shapes"),
]


@pytest.mark.parametrize("changes, field", BAD, ids=[f for _, f in BAD])
def test_every_manifest_field_is_checked_before_use(onnx_seeds, tmp_path, changes, field):
    folder = tmp_path / "onnx"
    shutil.copytree(onnx_seeds[0], folder)
    _edit(folder, **changes)
    for reader in (read_manifest, read_verified, load_artifact):
        with pytest.raises(ArtifactError) as err:
            reader(folder)
        assert f": {field} " in str(err.value) and "\n" not in str(err.value), str(err.value)
    assert field in _one_error(_run("export.verify", str(folder)))


def test_a_manifest_link_leading_out_of_its_folder_is_refused(onnx_seeds, tmp_path):
    folder = tmp_path / "onnx"
    shutil.copytree(onnx_seeds[0], folder)
    outside = tmp_path / "elsewhere.json"
    (folder / "manifest.json").rename(outside)
    (folder / "manifest.json").symlink_to(outside)
    with pytest.raises(ArtifactError, match="manifest.json is a link leading out of the folder"):
        read_manifest(folder)
    (folder / "manifest.json").unlink()
    shutil.move(outside, folder / "real.json")
    (folder / "manifest.json").symlink_to("real.json")  # to a name inside the folder: as for its files
    assert read_verified(folder)["format"] == "onnx"


def test_artifacts_of_every_writer_still_read(onnx_seeds, tmp_path):
    """The pipeline's fp32 and int8 manifests, and android_bench's peers' (schema 1, `weights` at the top)."""
    from android_bench.studies.peers import ensure_peer

    assert read_verified(onnx_seeds[0])["precision"] == "fp32"
    assert read_verified(onnx_seeds["int8"])["precision"] == "int8"
    loaded = models.load("bert-tiny", weights="random")
    for name in ("peer-onnx", "peer-onnx-int8"):
        folder = ensure_peer(tmp_path, name, loaded, weights="random", seq_len=16)
        assert read_verified(folder)["weights"] == "random"
        load_artifact(folder).run(loaded.inputs(seq_len=16))


def test_verify_refuses_an_fp32_file_whose_manifest_claims_int8(onnx_seeds, tmp_path):
    """On main verify passed it (the manifest says int8, the tolerance was fp32's, the file fp32's)."""
    folder = tmp_path / "onnx"
    shutil.copytree(onnx_seeds[0], folder)
    int8 = read_verified(onnx_seeds["int8"])
    _edit(folder, precision="int8", quantization=int8["quantization"], validation__tolerance={"min_cosine": 0.99})
    line = _one_error(_run("export.verify", str(folder)))
    assert "the manifest does not describe the file" in line and "not quantized" in line, line
    _edit(folder, quantization__size_bytes={"fp32": 10 ** 9, "int8": read_verified(folder)["file"]["bytes"]})
    assert "not quantized" in _one_error(_run("export.verify", str(folder)))  # the file is read, not the record


def test_verify_ends_with_a_one_line_verdict(onnx_seeds):
    for folder, what in ((onnx_seeds[0], "onnx fp32"), (onnx_seeds["int8"], "onnx int8")):
        done = _run("export.verify", str(folder))
        assert done.returncode == 0, done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith(f"verified: {folder} ({what}) within tolerance"), last


# 7. inputs the model file does not take


def test_an_unknown_extra_input_is_refused_with_the_accepted_names(onnx_seeds):
    runtime = load_artifact(onnx_seeds[0])
    feed = models.load("bert-tiny", weights="random").inputs(seq_len=16)
    with pytest.raises(InputShapeError) as err:
        runtime.run({**feed, "position_ids": np.zeros((1, 16), np.int64)})
    assert "position_ids" in str(err.value) and "input_ids, attention_mask, token_type_ids" in str(err.value)
    runtime.run(feed)


# 8. text that is not UTF-8


def test_the_string_in_onnx_refuses_text_that_is_not_utf8(tmp_path):
    import export

    loaded = models.load("bert-tiny", weights="random")
    artifact = export.export(export.get_format("onnx"), loaded, seq_len=16, out=tmp_path / "text",
                             options={"inputs": "text"})["fp32"]
    runtime = load_artifact(artifact.dir)
    for bad in ([b"\xff\xfe"], ["\udcff"], ["a cat", b"\xc3"]):
        with pytest.raises(InputShapeError) as err:
            runtime.run({"text": np.array(bad, dtype=object)})
        assert "must be valid UTF-8" in str(err.value) and "\n" not in str(err.value), str(err.value)
    assert runtime.run({"text": np.array(["a cat"], dtype=object)})["last_hidden_state"].shape[0] == 1
