"""The string-in ONNX (`python -m export.onnx --inputs text`) in ONNX Runtime with onnxruntime-extensions, against
the Hugging Face tokenizer + PyTorch eager: texts and pairs, over-long ones truncated as HF's longest_first."""
from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch
from onnxruntime_extensions import get_library_path

import export
import models
from export.onnx_text import TOKENIZER_DIFFERENCES, tokenizer_only, validation_cases

SEQ = 24  # short, so that many cases are truncated (pair budget 21: odd, single budget 22)
INT8_MIN_COSINE = export._pipeline.INT8_MIN_COSINE


def _session(path):
    """An app's session, built here independently of export/: ORT + the extensions' op library."""
    opts = ort.SessionOptions()
    opts.register_custom_ops_library(get_library_path())
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _eager(loaded, texts):
    enc = loaded.tokenizer(*texts, truncation="longest_first", max_length=SEQ, return_tensors="pt",
                           return_token_type_ids=True)
    with torch.inference_mode():
        out = loaded.module(*[enc[n].long() for n in models.INPUT_NAMES])
    return dict(zip(loaded.output_names, (t.numpy() for t in out))), enc["input_ids"].shape[1]


@pytest.fixture(scope="module")
def text_assets(tmp_path_factory):
    made = {}

    def make(name, task):
        if (name, task) not in made:
            loaded = models.load(name, weights="random", task=task)
            root = tmp_path_factory.mktemp(f"text-{name}")
            artifacts = export.export(export.get_format("onnx"), loaded, seq_len=SEQ, out=root / "fp32",
                                      quantized={"int8-dynamic": root / "int8"}, options={"inputs": "text"})
            made[(name, task)] = loaded, {p: a for p, a in artifacts.items()}
        return made[(name, task)]
    return make


@pytest.mark.parametrize("precision", ["fp32", "int8"])
@pytest.mark.parametrize("name, task", [("squeezebert-tiny", "sequence-classification"),
                                        ("bert-tiny", "feature-extraction")])
def test_string_in_onnx_matches_hf_tokenizer_and_eager(text_assets, name, task, precision):
    loaded, artifacts = text_assets(name, task)
    artifact = artifacts[precision]
    session = _session(artifact.path)
    assert [i.name for i in session.get_inputs()] == ["text"]
    cases = validation_cases()
    singles, pairs = [c for _, c in cases if len(c) == 1], [c for _, c in cases if len(c) == 2]
    assert len(singles) >= 20 and len(pairs) >= 10
    over_long, compared = 0, 0
    for kind, texts in cases:
        if kind in TOKENIZER_DIFFERENCES:  # other ids than HF's (test_tokenizer_differences...): nothing to compare
            continue
        got = dict(zip(loaded.output_names, session.run(list(loaded.output_names),
                                                        {"text": np.array(texts, dtype=object)})))
        want, tokens = _eager(loaded, texts)
        over_long += tokens == SEQ
        compared += 1
        for output, ref in want.items():
            assert got[output].shape == ref.shape, (output, texts)
            if precision == "fp32":
                np.testing.assert_allclose(got[output], ref, atol=1e-4, rtol=0, err_msg=repr(texts))
            else:
                a, b = got[output].reshape(-1, ref.shape[-1]), ref.reshape(-1, ref.shape[-1])
                cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
                assert cos.mean() >= INT8_MIN_COSINE, (output, texts)
    assert compared >= 30
    assert over_long >= 8  # truncation is exercised, singles and pairs
    manifest = artifact.manifest
    assert manifest["inputs"][0]["name"] == "text" and manifest["inputs"][0]["dtype"] == "string"
    assert len(manifest["validation"]["shapes"]) == len(cases)
    assert all(e["same_ids_as_hf"] == (e["kind"] not in TOKENIZER_DIFFERENCES) for e in manifest["validation"]["shapes"])


def _ids(session, texts):
    return dict(zip(models.INPUT_NAMES, session.run(list(models.INPUT_NAMES), {"text": np.array(texts, dtype=object)})))


def test_tokenizer_differences_are_exactly_the_documented_kinds_and_the_advice_fixes_them():
    tokenizer = models.uncased_tokenizer()
    session = _session_proto(tokenizer_only(tokenizer, max_length=SEQ))
    differs = set()
    for kind, texts in validation_cases():
        want = tokenizer(*texts, truncation="longest_first", max_length=SEQ, return_tensors="np",
                         return_token_type_ids=True)
        got = _ids(session, texts)
        if not all(np.array_equal(got[n], want[n]) for n in models.INPUT_NAMES):
            differs.add(kind)
        # the manifest's advice (NFD, combining marks dropped, before the session) fixes all but what it names
        fixed = _ids(session, tuple(_nfd_without_marks(t) for t in texts))
        fixed_same = all(np.array_equal(fixed[n], want[n]) for n in models.INPUT_NAMES)
        assert fixed_same == (kind not in ("partly unknown words", "Korean")), (kind, texts)
    assert differs == set(TOKENIZER_DIFFERENCES)


def _nfd_without_marks(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def test_pairs_are_truncated_like_hugging_face_longest_first():
    """The tokenizer graph alone, on pairs of every length mix around the budget (odd and even, equal lengths)."""
    tokenizer = models.uncased_tokenizer()
    session = _session_proto(tokenizer_only(tokenizer, max_length=SEQ))
    words = [f"w{i}" for i in range(40)]
    for a in (0, 1, 5, 10, 11, 12, 20):
        for b in (0, 1, 5, 10, 11, 12, 20):
            texts = (" ".join(words[:a]), " ".join(words[:b]))
            got = dict(zip(models.INPUT_NAMES, session.run(list(models.INPUT_NAMES),
                                                           {"text": np.array(texts, dtype=object)})))
            want = tokenizer(*texts, truncation="longest_first", max_length=SEQ, return_tensors="np",
                             return_token_type_ids=True)
            for name in models.INPUT_NAMES:
                np.testing.assert_array_equal(got[name], want[name], err_msg=f"{name} for {a} and {b} words")
            assert got["input_ids"].shape[1] <= SEQ


def _session_proto(model):
    opts = ort.SessionOptions()
    opts.register_custom_ops_library(get_library_path())
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def test_manifest_says_which_op_library_and_how_to_register_it(text_assets):
    loaded, artifacts = text_assets("squeezebert-tiny", "sequence-classification")
    for artifact in artifacts.values():
        section = artifact.manifest["text_input"]
        library = section["custom_op_library"]
        assert library["domain"] == "ai.onnx.contrib" and library["ops"] == ["BertTokenizer"]
        assert "registerCustomOpLibrary" in library["android"] and "OrtxPackage.getLibraryPath()" in library["android"]
        assert library["onnxruntime-extensions"] == "0.15.2"
        assert section["max_tokens"] == SEQ and section["op_attributes"]["strip_accents"] == 1
        assert section["tokenizer_vs_hugging_face"]["differs_on"] == TOKENIZER_DIFFERENCES
        names = [a["name"] for a in artifact.manifest["assets"]]
        assert names == ["labels.txt", models.CASES_FILE]
        cases = models.read_tokenizer_cases(artifact.dir / models.CASES_FILE)
        assert len(cases) == len(models.TEXTS) + len(models.PAIRS)
        assert max(len(c["input_ids"]) for c in cases) == SEQ  # at the asset's length, not padded


def test_cli_and_verify_on_a_string_in_model(cli, tmp_path):
    done = cli("export.onnx", "--model", "bert-tiny", "--weights", "random", "--seq-len", "32", "--inputs", "text",
               "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["options"]["inputs"] == "text"
    done = cli("export.verify", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "-[x]" not in done.stderr and "-[✓] last_hidden_state" in done.stderr


def test_bad_inputs_flag_fails_before_work(cli, tmp_path):
    done = cli("export.onnx", "--model", "bert-tiny", "--weights", "random", "--inputs", "strings",
               "--out", str(tmp_path / "out"))
    assert done.returncode == 2 and "argument --inputs: invalid choice: 'strings'" in done.stderr
    assert not (tmp_path / "out").exists()
