"""TFLite app assets through onnx2tf: one resizable file, equivalent to eager at every length it takes in the stock
LiteRT interpreter, refusing the others in one line; no Flex ops; the asset folder."""
from __future__ import annotations

import json

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import export
import models
from export.runtimes import InputShapeError, load_artifact
from export.tflite.ops import flex_ops, op_census
from export._validate import eager_outputs
from tests.test_models import make_fine_tuned_squeezebert

ATOL = 1e-4  # issue ceiling 1e-3; we hold fp32 TFLite to the same 1e-4 as every other format


@pytest.fixture(scope="module")
def assets(exported):
    """(loaded, asset folder) per (model, task), taking 2..48 tokens."""
    def make(name, task):
        loaded, artifact = exported("tflite", name, task, 48)
        return loaded, artifact.dir
    return make


@pytest.mark.parametrize("task", models.TASKS)
@pytest.mark.parametrize("name", ["squeezebert-tiny", "bert-tiny"])
def test_tflite_matches_eager_through_the_signature_runner(assets, name, task):
    loaded, out = assets(name, task)
    manifest = json.loads((out / "manifest.json").read_text())
    model_file = out / manifest["file"]["name"]
    assert model_file.name == f"{name}_{task}_fp32.tflite"
    # Independent check: the stock interpreter, by signature and input name, int32 inputs as an app feeds them.
    interpreter = Interpreter(model_path=str(model_file), num_threads=2)
    assert interpreter.get_signature_list() == {"serving_default": {
        "inputs": sorted(models.INPUT_NAMES), "outputs": sorted(loaded.output_names)}}
    runner = interpreter.get_signature_runner("serving_default")
    details = runner.get_input_details()
    assert {n: d["dtype"] for n, d in details.items()} == {n: np.int32 for n in models.INPUT_NAMES}
    assert {n: d["shape_signature"].tolist() for n, d in details.items()} == {n: [1, -1] for n in models.INPUT_NAMES}
    for seq_len in (48, 5, 29):  # lengths validation did not use, one file resized at each call
        inputs = loaded.inputs(seq_len=seq_len, batch=1, offset=3)
        got = runner(**{k: v.astype(np.int32) for k, v in inputs.items()})
        want = eager_outputs(loaded, inputs)
        for output in loaded.output_names:
            assert got[output].shape == want[output].shape
            np.testing.assert_allclose(got[output], want[output], atol=ATOL, rtol=0)
    for output in loaded.output_names:
        assert manifest["validation"]["max_abs_diff"][output] <= ATOL
    assert (manifest["seq_len"], manifest["seq_len_range"]) == (48, [2, 48])
    assert manifest["dynamic_shapes"] is True and manifest["dynamic_batch"] is False
    assert [(s["batch"], s["seq_len"]) for s in manifest["validation"]["shapes"]] == [(1, n) for n in (2, 8, 16, 32, 48)]
    assert manifest["inputs"][0] == {"name": "input_ids", "dtype": "int32", "shape": [1, "sequence"]}
    assert manifest["tflite"]["shape_signature"] == {n: [1, -1] for n in models.INPUT_NAMES}
    assert manifest["tflite"]["seq_len_range"] == [2, 48]


@pytest.mark.parametrize("seq_len, batch, message", [
    (49, 1, "takes 2..48 tokens (seq_len_range in its manifest), got 49: truncate the input to 48 tokens or export "
            "with --seq-len 49"),
    (1, 1, "takes 2..48 tokens (seq_len_range in its manifest), got 1: every text tokenizes to at least [CLS] [SEP]"),
    (16, 2, "takes attention_mask of shape [1, any], got [2, 16]: feed that shape"),
])
def test_a_shape_outside_the_range_fails_in_one_line(assets, seq_len, batch, message):
    loaded, out = assets("squeezebert-tiny", "feature-extraction")
    runtime = load_artifact(out)
    inputs = {n: np.ones((batch, seq_len), dtype=np.int64) for n in models.INPUT_NAMES}
    with pytest.raises(InputShapeError) as error:
        runtime.run(inputs)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_file_itself_refuses_a_length_over_its_maximum(assets):
    """The position table has 48 rows: past it the interpreter fails too (an app that skips our checks)."""
    _, out = assets("squeezebert-tiny", "feature-extraction")
    manifest = json.loads((out / "manifest.json").read_text())
    runner = Interpreter(model_path=str(out / manifest["file"]["name"])).get_signature_runner("serving_default")
    ones = {n: np.ones((1, 48), dtype=np.int32) for n in models.INPUT_NAMES}
    runner(**ones)
    with pytest.raises(RuntimeError):
        runner(**{n: np.ones((1, 49), dtype=np.int32) for n in models.INPUT_NAMES})


def test_no_flex_ops_and_the_census_is_recorded(assets):
    loaded, out = assets("squeezebert-tiny", "feature-extraction")
    manifest = json.loads((out / "manifest.json").read_text())
    census = op_census(out / manifest["file"]["name"])
    assert flex_ops(census) == [] and manifest["tflite"]["flex_ops"] == []
    assert manifest["tflite"]["op_census"] == census
    # The mobile graph (groups="broadcast"): each grouped layer (q+k+v, intermediate, output) one BATCH_MATMUL with
    # a constant weight, 2 more a layer for attention; the post-attention layer and the pooler are FULLY_CONNECTED.
    # No convolution and no slicing of groups: one SPLIT a layer (q, k, v heads), no CONCATENATION.
    layers = loaded.config.num_hidden_layers
    assert "CONV_2D" not in census and census["BATCH_MATMUL"] == 5 * layers
    assert census["FULLY_CONNECTED"] == layers + 1 and census["SPLIT"] == layers and "CONCATENATION" not in census
    assert manifest["tflite"]["transpose_count"] == census.get("TRANSPOSE", 0)
    # GELU is one builtin op a layer (its groups batched), not Erf's ~20-op polynomial (EXP, ABS, ...).
    assert census["GELU"] == layers
    assert "EXP" not in census


def test_flex_check_names_select_tf_ops():
    assert flex_ops({"FlexErf": 2, "ADD": 3, "CONV_2D": 1}) == ["FlexErf"]


def test_asset_folder_vocab_is_byte_identical_and_labels_in_id_order(tmp_path):
    folder = make_fine_tuned_squeezebert(tmp_path / "glue")
    loaded = models.load(str(folder))
    out = tmp_path / "assets"
    export.export(export.get_format("tflite"), loaded, seq_len=32, out=out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["glue_sequence-classification_fp32.tflite", "vocab.txt", "labels.txt", "tokenizer_cases.jsonl",
         "manifest.json"])
    # transformers 5 saved only tokenizer.json: vocab.txt is rebuilt, and must equal the original WordPiece file
    assert not (folder / "vocab.txt").exists()
    assert (out / "vocab.txt").read_bytes() == (models.uncased_vocab_dir() / "vocab.txt").read_bytes()
    assert (out / "labels.txt").read_text() == "contradiction\nentailment\nneutral\n"
    manifest = json.loads((out / "manifest.json").read_text())
    assert [a["name"] for a in manifest["assets"]] == ["vocab.txt", "labels.txt", "tokenizer_cases.jsonl"]
    assert "mediapipe" not in manifest and "head" not in manifest  # the library default: the plain tensors
    assert manifest["validation"]["max_abs_diff"]["logits"] <= ATOL


def test_feature_extraction_assets_have_an_empty_labels_file(assets):
    _, out = assets("bert-tiny", "feature-extraction")
    assert (out / "labels.txt").read_text() == ""
    assert (out / "vocab.txt").read_bytes() == (models.uncased_vocab_dir() / "vocab.txt").read_bytes()


def test_cli_bad_inputs_are_one_line(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = cli("export.tflite", "--model", "bert-tiny", "--weights", "random", "--out", str(blocker / "sub"))
    assert done.returncode == 2 and "cannot write there" in done.stderr and "Traceback" not in done.stderr
    done = cli("export.tflite", "--model", "bert-tiny", "--weights", "random", "--seq-len", "513",
               "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and "--seq-len 513 is outside 2..512" in done.stderr
    assert "Traceback" not in done.stderr
