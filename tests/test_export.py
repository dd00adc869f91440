"""Output equivalence of TorchScript and ONNX artifacts against PyTorch eager, and their manifests."""
from __future__ import annotations

import json

import numpy as np
import pytest

import export
import models
from export._validate import Tolerance, compare, eager_outputs
from export.runtimes import ArtifactError, load_artifact
from tests.conftest import vouch_for
from tests.test_models import make_fine_tuned_squeezebert

FORMATS = ["torchscript", "onnx"]
ATOL = 1e-4  # fp32 artifacts vs eager, every output


@pytest.fixture(scope="module")
def tiny_models():
    return {(name, task): models.load(name, weights="random", task=task)
            for name in ("squeezebert-tiny", "bert-tiny") for task in models.TASKS}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("task", models.TASKS)
@pytest.mark.parametrize("name", ["squeezebert-tiny", "bert-tiny"])
def test_artifact_matches_eager(tiny_models, tmp_path, name, task, fmt):
    loaded = tiny_models[(name, task)]
    artifact = export.export(export.get_format(fmt), loaded, seq_len=48, out=tmp_path)["fp32"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == artifact.manifest
    assert manifest["file"]["name"] == f"{name}_{task}_fp32{artifact.path.suffix}"
    assert manifest["warning"].startswith("RANDOM WEIGHTS") and manifest["model"]["weights"]["seed"] == 0
    shapes = [(s["batch"], s["seq_len"]) for s in manifest["validation"]["shapes"]]
    assert shapes == [(1, 48), (2, 24)]  # the export shape and another batch and sequence length
    for output in loaded.output_names:
        assert manifest["validation"]["max_abs_diff"][output] <= ATOL
    # Independent check on a shape used neither in export nor validation.
    runtime = load_artifact(tmp_path)
    inputs = loaded.inputs(seq_len=37, batch=3, offset=2)
    got, want = runtime.run(inputs), eager_outputs(loaded, inputs)
    assert list(got) == list(loaded.output_names)
    for output in loaded.output_names:
        assert got[output].shape == want[output].shape
        np.testing.assert_allclose(got[output], want[output], atol=ATOL, rtol=0)


def test_torchscript_ships_a_validated_lite_interpreter_file(tiny_models, tmp_path):
    artifact = export.export(export.get_format("torchscript"), tiny_models[("squeezebert-tiny", "feature-extraction")],
                             seq_len=32, out=tmp_path)["fp32"]
    lite = artifact.manifest["extra_files"][0]
    assert lite["name"].endswith(".ptl") and (tmp_path / lite["name"]).is_file()
    assert artifact.manifest["extra_validation"][lite["name"]]["runtime"] == "torch lite interpreter"
    assert artifact.manifest["extra_validation"][lite["name"]]["max_abs_diff"]["last_hidden_state"] <= ATOL


def test_manifest_records_what_a_user_needs_to_trust_it(tiny_models, tmp_path):
    artifact = export.export(export.get_format("onnx"), tiny_models[("bert-tiny", "feature-extraction")],
                             seq_len=32, out=tmp_path)["fp32"]
    m = artifact.manifest
    assert (m["task"], m["format"], m["precision"], m["seq_len"]) == ("feature-extraction", "onnx", "fp32", 32)
    assert [i["name"] for i in m["inputs"]] == list(models.INPUT_NAMES)
    assert m["inputs"][0] == {"name": "input_ids", "dtype": "int64", "shape": ["batch", "sequence"]}
    assert m["file"]["bytes"] == artifact.path.stat().st_size and len(m["file"]["sha256"]) == 64
    assert {"torch", "transformers", "onnx", "onnxruntime"} <= set(m["tools"])
    assert m["onnx"]["opset"] >= 17 and m["onnx"]["op_census"]["MatMul"] > 0
    assert not list(tmp_path.glob(".*")), "temporary files left behind"


def test_dynamo_exporter_validates_too(tiny_models, tmp_path):
    artifact = export.export(export.get_format("onnx"), tiny_models[("squeezebert-tiny", "feature-extraction")],
                             seq_len=32, out=tmp_path, options={"exporter": "dynamo"})["fp32"]
    assert artifact.manifest["onnx"]["exporter"] == "dynamo" and artifact.manifest["onnx"]["opset"] == 18
    assert artifact.manifest["validation"]["max_abs_diff"]["last_hidden_state"] <= ATOL


def test_deviation_over_tolerance_fails_with_a_per_output_report(tiny_models, tmp_path):
    export.export(export.get_format("onnx"), tiny_models[("squeezebert-tiny", "feature-extraction")],
                  seq_len=32, out=tmp_path)["fp32"]
    other = models.load("squeezebert-tiny", weights="random", seed=1)  # different weights, same graph
    with pytest.raises(export.ValidationError) as err:
        compare(other, load_artifact(tmp_path), [(1, 32)], tolerance=Tolerance(atol=ATOL))
    assert "last_hidden_state [1x32]" in str(err.value)
    assert any(line.startswith("-[x] last_hidden_state [1x32]: max abs diff") for line in err.value.report)


def test_fine_tuned_folder_exports_logits_and_labels(tmp_path):
    folder = make_fine_tuned_squeezebert(tmp_path / "glue")
    loaded = models.load(str(folder))
    artifact = export.export(export.get_format("onnx"), loaded, seq_len=32, out=tmp_path / "out")["fp32"]
    assert artifact.manifest["labels"] == ["contradiction", "entailment", "neutral"]
    assert artifact.manifest["outputs"] == [{"name": "logits", "dtype": "float32", "shape": ["batch", 3]}]
    assert artifact.manifest["validation"]["max_abs_diff"]["logits"] <= ATOL
    assert artifact.manifest["model"]["weights"]["source"] == "folder"
    assert "warning" not in artifact.manifest


def test_real_pretrained_bert_exports_within_tolerance(tmp_path):
    loaded = models.load(str(models.real_bert_dir()))
    for fmt in FORMATS:
        artifact = export.export(export.get_format(fmt), loaded, seq_len=64, out=tmp_path / fmt)["fp32"]
        assert artifact.manifest["validation"]["max_abs_diff"]["last_hidden_state"] <= ATOL
        assert "warning" not in artifact.manifest


@pytest.mark.parametrize("fmt, garbage", [("onnx", b"\x08\x07not an onnx model"), ("torchscript", b"PK\x03\x04junk")])
def test_corrupt_artifact_gives_one_line_error(tiny_models, tmp_path, fmt, garbage):
    artifact = export.export(export.get_format(fmt), tiny_models[("bert-tiny", "feature-extraction")],
                             seq_len=16, out=tmp_path)["fp32"]
    artifact.path.write_bytes(garbage)
    vouch_for(artifact.path)  # past the sha256 check (tests/test_faults.py): the runtime must refuse it
    with pytest.raises(ArtifactError, match="corrupt or not this format") as err:
        load_artifact(tmp_path)
    assert "\n" not in str(err.value)


def test_unknown_format_lists_the_valid_ones():
    with pytest.raises(models.UserError, match="unknown format 'coreml'; choose one of torchscript, onnx"):
        export.get_format("coreml")
