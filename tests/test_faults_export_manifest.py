"""Faults of issue 40 (reliability round 4) in what a reader of an artifact trusts: every manifest field, a
manifest that lies about its precision, inputs the file does not take, text that is not UTF-8."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import models
from export.runtimes import ArtifactError, InputShapeError, load_artifact, read_manifest, read_verified
from tests.test_faults_export_out import _one_error, _run


@pytest.fixture(scope="module")
def onnx_seeds(tmp_path_factory):
    """The tiny ONNX artifact (seed 0) and its int8, made by one export: {0: folder, "int8": folder}."""
    import export

    root = tmp_path_factory.mktemp("seed0")
    export.export(export.get_format("onnx"), models.load("bert-tiny", weights="random"), seq_len=16,
                  out=root / "onnx", quantized={"int8-dynamic": root / "onnx-int8"})
    return {0: root / "onnx", "int8": root / "onnx-int8"}


# 6. what a manifest may say


def _edit(folder: Path, **changes) -> None:
    """Set keys of the manifest, a nested one as `outer__inner` (None deletes)."""
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
