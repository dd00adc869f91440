"""TFLite app assets in the client apps really use: MediaPipe Tasks' TextClassifier and TextEmbedder, fed raw
strings, against the Hugging Face tokenizer + PyTorch eager with the same head on the unpadded ids (the assets are
resizable: MediaPipe runs them at the text's length); and MediaPipe's tokenizer read back exactly, length included
(tests/mediapipe_probe.py), on every tokenizer case the asset ships."""
from __future__ import annotations

import json
import subprocess
import sys
import unicodedata

import numpy as np
import pytest
import torch
from ai_edge_litert.interpreter import Interpreter
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.text import TextClassifier, TextClassifierOptions, TextEmbedder, TextEmbedderOptions

import export
import models
from export.tflite.app_asset import TOKENIZER_DIFFERENCES
from tests.conftest import ROOT
from tests.test_models import make_fine_tuned_squeezebert

ATOL = 1e-4  # fp32 against eager
INT8_MIN_COSINE = export._pipeline.INT8_MIN_COSINE  # the project's int8 tolerance (mean cosine vs eager)
SEQ = 48  # the assets' maximum: 2..48 tokens
APP = {"metadata": "mediapipe"}
# Texts MediaPipe's tokenizer turns into Hugging Face's ids (the kinds not in TOKENIZER_DIFFERENCES), within SEQ
SAME_IDS = [text for kind, text in models.TEXTS if kind not in TOKENIZER_DIFFERENCES]


def _classifier(path):
    return TextClassifier.create_from_options(TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(path))))


def _embedder(path):
    return TextEmbedder.create_from_options(TextEmbedderOptions(base_options=BaseOptions(model_asset_path=str(path))))


def _eager(loaded, text: str, seq_len: int) -> np.ndarray:
    """HF tokenizer + eager with the asset's head, on the text's own ids, unpadded (at most `seq_len`): what
    MediaPipe feeds a resizable asset."""
    enc = loaded.tokenizer(text, truncation=True, max_length=seq_len, return_tensors="pt", return_token_type_ids=True)
    with torch.inference_mode():
        return loaded.module(*[enc[n].long() for n in models.INPUT_NAMES])[0][0].numpy()


def _scores(result, labels) -> tuple[np.ndarray, list[str]]:
    """MediaPipe's categories back in label order: (scores, names)."""
    (head,) = result.classifications
    by_index = sorted(head.categories, key=lambda c: c.index)
    assert [c.index for c in by_index] == list(range(len(labels)))
    return np.array([c.score for c in by_index]), [c.category_name for c in by_index]


def _cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def app_assets(tmp_path_factory):
    """(loaded with the app head, {precision: asset folder}) per (model ref, task, seq_len, pooling, normalize)."""
    made = {}

    def make(ref, task=None, seq_len=SEQ, weights="random", **head):
        key = (ref, task, seq_len, weights, tuple(sorted(head.items())))
        if key not in made:
            loaded = models.load(ref, weights=weights, task=task)
            if loaded.task == "sequence-classification":
                _sharpen(loaded.hf_model)
            root = tmp_path_factory.mktemp("app")
            artifacts = export.export(export.get_format("tflite"), loaded, seq_len=seq_len, out=root / "fp32",
                                      quantized={"int8-dynamic": root / "int8"}, options={**APP, **head})
            prepared = export.get_format("tflite").prepare(loaded, {**APP, **head})
            made[key] = prepared, {p: a.dir for p, a in artifacts.items()}
        return made[key]
    return make


def _sharpen(hf_model) -> None:
    """Random heads give every text ~1/labels; a 30x head spreads the probabilities across texts (by over 10x the
    tolerance, which the tests check), so that a wrong token, head or label order cannot hide inside it."""
    with torch.no_grad():
        hf_model.classifier.weight.mul_(30)


def _sharp_fine_tuned_folder(folder):
    """make_fine_tuned_squeezebert's run_glue-style folder, with its head sharpened and saved again."""
    from transformers import SqueezeBertForSequenceClassification

    make_fine_tuned_squeezebert(folder)
    model = SqueezeBertForSequenceClassification.from_pretrained(folder)
    _sharpen(model)
    model.save_pretrained(folder)
    return folder


def _model_file(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    return folder / manifest["file"]["name"], manifest


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_squeezebert_classifier_in_mediapipe_equals_eager(app_assets, precision):
    loaded, folders = app_assets("squeezebert-tiny", "sequence-classification")
    path, manifest = _model_file(folders[precision])
    labels = (folders[precision] / "labels.txt").read_text().splitlines()
    assert labels == loaded.labels and manifest["outputs"][0]["name"] == "probabilities"
    worst, seen = 0.0, []
    with _classifier(path) as classifier:
        for text in SAME_IDS:
            scores, names = _scores(classifier.classify(text), labels)
            want = _eager(loaded, text, SEQ)
            seen.append(want)
            assert names == labels  # categories named by labels.txt, attached as TENSOR_AXIS_LABELS
            assert abs(scores.sum() - 1) < 1e-5  # probabilities: softmax is in the graph
            if precision == "fp32":
                np.testing.assert_allclose(scores, want, atol=ATOL, rtol=0)
            else:
                assert _cosine(scores, want) >= INT8_MIN_COSINE
            worst = max(worst, float(np.abs(scores - want).max()))
    assert np.ptp(np.array(seen), axis=0).max() > 10 * ATOL  # the texts' answers differ: the check can fail
    print(f"squeezebert-tiny classifier {precision}: max |MediaPipe - eager| {worst:.3g} over {len(SAME_IDS)} texts")


def test_fine_tuned_folder_classifier_through_the_cli(cli, tmp_path):
    """The app-asset command as a user runs it (metadata on by default), from a run_glue-style folder."""
    folder = _sharp_fine_tuned_folder(tmp_path / "glue")
    out = tmp_path / "asset"
    done = cli("export.tflite", "--model", str(folder), "--out", str(out))  # no --seq-len: the model's 512 tokens
    assert done.returncode == 0, done.stderr
    path, manifest = _model_file(out)
    assert manifest["seq_len_range"] == [2, 512] and manifest["mediapipe"]["max_tokens"] == 512
    assert manifest["mediapipe"]["task"] == "TextClassifier" and manifest["head"]["output"] == "probabilities"
    assert manifest["mediapipe"]["min_parser_version"] == "1.1.0"  # BertTokenizer process unit: schema 1.1.0
    loaded = models.load(str(folder)).with_head(models.OutputHead("sequence-classification"))
    labels = (out / "labels.txt").read_text().splitlines()
    assert labels == ["contradiction", "entailment", "neutral"]
    seen = []
    with _classifier(path) as classifier:
        for text in SAME_IDS:
            scores, names = _scores(classifier.classify(text), labels)
            assert names == labels and abs(scores.sum() - 1) < 1e-5
            seen.append(_eager(loaded, text, 512))
            np.testing.assert_allclose(scores, seen[-1], atol=ATOL, rtol=0)
    assert np.ptp(np.array(seen), axis=0).max() > 10 * ATOL
    result = _classifier_top(path, text="a short test sentence", max_results=1)  # top-k on probabilities
    assert len(result.classifications[0].categories) == 1
    # re-measured independently, and its int8 re-derived with the options the manifest records
    done = cli("export.verify", str(out))
    assert done.returncode == 0 and "-[✓] probabilities [1x512]" in done.stderr, done.stderr
    done = cli("quantize", "--in", str(out), "--out", str(tmp_path / "int8"))
    assert done.returncode == 0, done.stderr
    path8, manifest8 = _model_file(tmp_path / "int8")
    assert manifest8["mediapipe"]["task"] == "TextClassifier" and manifest8["precision"] == "int8"
    with _classifier(path8) as classifier:
        for text, want in zip(SAME_IDS, seen):
            scores, names = _scores(classifier.classify(text), labels)
            assert names == labels and _cosine(scores, want) >= INT8_MIN_COSINE


def _classifier_top(path, *, text, max_results):
    options = TextClassifierOptions(base_options=BaseOptions(model_asset_path=str(path)), max_results=max_results)
    with TextClassifier.create_from_options(options) as classifier:
        return classifier.classify(text)


def test_the_same_file_runs_in_the_plain_litert_interpreter(app_assets):
    loaded, folders = app_assets("squeezebert-tiny", "sequence-classification")
    path, manifest = _model_file(folders["fp32"])
    assert manifest["file"]["sha256"] == export.sha256(path)  # the file with metadata is what the manifest lists
    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    for seq_len in (SEQ, 13):  # one file, resized by the signature runner at each call
        inputs = loaded.inputs(seq_len=seq_len, batch=1, offset=2)
        got = runner(**{k: v.astype(np.int32) for k, v in inputs.items()})["probabilities"]
        with torch.inference_mode():
            want = loaded.module(*[torch.from_numpy(inputs[n]) for n in models.INPUT_NAMES])[0].numpy()
        np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
    assert manifest["validation"]["max_abs_diff"]["probabilities"] <= ATOL


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_real_minilm_embeds_through_text_embedder(app_assets, precision):
    """all-MiniLM-L6-v2's real weights, masked mean pooling (how it was trained)."""
    loaded, folders = app_assets(str(models.real_bert_dir()), seq_len=64, weights="hub")  # its own weights
    path, manifest = _model_file(folders[precision])
    assert manifest["head"] == {"output": "embedding", "pooling": "mean", "normalize": False,
                                "what": "mean of last_hidden_state over the tokens the attention mask keeps"}
    with _embedder(path) as embedder:
        vectors = {}
        for text in SAME_IDS[:10]:
            got = np.asarray(embedder.embed(text).embeddings[0].embedding)
            want = _eager(loaded, text, 64)
            assert got.shape == (loaded.config.hidden_size,)
            if precision == "fp32":
                np.testing.assert_allclose(got, want, atol=ATOL, rtol=0)
            else:
                assert _cosine(got, want) >= INT8_MIN_COSINE
            vectors[text] = got
        similar = embedder.embed("A man is playing a guitar.").embeddings[0]
        paraphrase = embedder.embed("Someone plays the guitar.").embeddings[0]
        unrelated = embedder.embed("Stock prices fell sharply on Monday.").embeddings[0]
        related = TextEmbedder.cosine_similarity(similar, paraphrase)
        other = TextEmbedder.cosine_similarity(similar, unrelated)
    print(f"MiniLM {precision}: cosine related {related:.3f}, unrelated {other:.3f}")
    assert related > 0.6 and related > other + 0.4


def test_pooling_and_normalize_flags_shape_the_embedding(app_assets):
    loaded, folders = app_assets("bert-tiny", "feature-extraction", pooling="cls", normalize=True)
    path, manifest = _model_file(folders["fp32"])
    assert manifest["head"]["pooling"] == "cls" and manifest["head"]["normalize"] is True
    with _embedder(path) as embedder:
        for text in SAME_IDS[:5]:
            got = np.asarray(embedder.embed(text).embeddings[0].embedding)
            np.testing.assert_allclose(got, _eager(loaded, text, SEQ), atol=ATOL, rtol=0)
            assert abs(np.linalg.norm(got) - 1) < 1e-5


def _mediapipe_ids(probe, text: str) -> dict[str, list[int]]:
    """The ids, mask and segment ids MediaPipe fed the resizable probe, at the length it fed them."""
    flat = np.asarray(probe.embed(text).embeddings[0].embedding).round().astype(np.int64)
    return dict(zip(("input_ids", "attention_mask", "token_type_ids"), flat.reshape(3, -1).tolist()))


@pytest.fixture(scope="module")
def probe(app_assets, tmp_path_factory):
    """MediaPipe's tokenizer, read back: the id-echo model with an asset's own metadata writer and vocab.txt."""
    from export.tflite.app_asset import general_info
    from export.tflite.ops import signature_tensors

    loaded, folders = app_assets("squeezebert-tiny", "feature-extraction")
    folder = tmp_path_factory.mktemp("probe")
    path = folder / "probe.tflite"
    done = subprocess.run([sys.executable, "-m", "tests.mediapipe_probe", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    inputs = signature_tensors(path)["inputs"]
    spec = {"model": str(path), "task": "embedder", "general": general_info(loaded, "fp32"),
            "vocab": str(folders["fp32"] / "vocab.txt"), "labels": None, "output": "embedding",
            "output_description": "the ids, mask and segment ids MediaPipe fed",
            "tensors": {"ids": inputs["input_ids"], "mask": inputs["attention_mask"],
                        "segment": inputs["token_type_ids"]}, "json_out": str(folder / "metadata.json")}
    (folder / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, "-m", "export.tflite.metadata", str(folder / "spec.json")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with _embedder(path) as embedder:
        yield embedder, folders["fp32"]


def test_mediapipe_tokenizer_differs_exactly_where_the_manifest_says(probe):
    embedder, folder = probe
    cases = models.read_tokenizer_cases(folder / models.CASES_FILE)
    kinds = {c["kind"] for c in cases}
    assert {"punctuation", "numbers", "unknown words", "accents", "Cyrillic", "CJK", "Korean", "truncation", "empty",
            "pair", "pair truncation"} <= kinds  # what the issue asks the cases to cover
    differs, same = set(), set()
    for case in (c for c in cases if "text_pair" not in c):  # MediaPipe takes one string
        got = _mediapipe_ids(embedder, case["text"])
        want = {k: case[k] for k in got}
        (same if got == want else differs).add(case["kind"])
    print("MediaPipe differs on", sorted(differs), "| same ids on", sorted(same))
    assert differs == set(TOKENIZER_DIFFERENCES)
    assert not differs & same  # a kind differs on every one of its cases, or on none
    manifest = json.loads((folder / "manifest.json").read_text())
    findings = manifest["mediapipe"]["tokenizer_vs_hugging_face"]
    assert findings["differs_on"] == TOKENIZER_DIFFERENCES and set(findings["same_ids_on"]) == same


def _app_side_normalisation(text: str) -> str:
    """What WHAT_TO_DO tells an app to do before calling MediaPipe (the Kotlin calls in README, in Python)."""
    text = unicodedata.normalize("NFD", text.lower())
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Mn" or (category in ("Cc", "Cf") and ch not in "\t\n\r"):
            continue
        out.append(" " if ch == "\u00a0" else ch)
    return "".join(out)


def test_the_advice_makes_mediapipe_match_hugging_face(probe):
    embedder, folder = probe
    for case in models.read_tokenizer_cases(folder / models.CASES_FILE):
        if "text_pair" in case:
            continue
        got = _mediapipe_ids(embedder, _app_side_normalisation(case["text"]))
        if case["kind"] == "truncation":  # MediaPipe feeds every token: HF's truncated ids, then the rest
            assert len(got["input_ids"]) > SEQ and got["input_ids"][:SEQ - 1] == case["input_ids"][:-1]
            continue
        assert got == {k: case[k] for k in got}, (case["kind"], case["text"][:40])


def test_mediapipe_feeds_a_resizable_asset_the_real_length(probe):
    """MediaPipe pads nothing: the tensors it feeds are as long as the text's tokens, every one attended."""
    embedder, _ = probe
    tokenizer = models.uncased_tokenizer()  # the probe's vocab.txt is the asset's: the uncased WordPiece one
    lengths = set()
    for text in SAME_IDS:
        got = _mediapipe_ids(embedder, text)
        assert len(got["input_ids"]) == len(tokenizer(text)["input_ids"]) and all(got["attention_mask"])
        lengths.add(len(got["input_ids"]))
    assert min(lengths) == 2 and len(lengths) >= 10  # the empty text, and many lengths from one file


def test_a_text_over_the_maximum_fails_in_mediapipe_as_the_manifest_says(app_assets):
    """MediaPipe truncates nothing for a resizable model: SEQ tokens run, SEQ + 1 fail the call (the position
    table has SEQ rows), and the task stays broken after it."""
    loaded, folders = app_assets("squeezebert-tiny", "sequence-classification")
    path, manifest = _model_file(folders["fp32"])
    assert manifest["mediapipe"]["max_tokens"] == SEQ and f"over {SEQ} tokens" in manifest["mediapipe"]["longer_text"]
    fits, over = "word " * (SEQ - 2), "word " * (SEQ - 1)  # one token a word, plus [CLS] and [SEP]
    assert len(loaded.tokenizer(over)["input_ids"]) == SEQ + 1
    labels = (folders["fp32"] / "labels.txt").read_text().splitlines()
    with _classifier(path) as classifier:
        scores, _ = _scores(classifier.classify(fits), labels)
    np.testing.assert_allclose(scores, _eager(loaded, fits, SEQ), atol=ATOL, rtol=0)
    # The broken task in a process of its own: a second close() of it (its __del__ after the failed close) never
    # returns, which would hang whatever process holds it.
    done = subprocess.run([sys.executable, "-c", _BROKEN_TASK, str(path), over], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["classify:failed", "classify:failed", "close:failed"], done.stdout


_BROKEN_TASK = """
import os, sys
from mediapipe.tasks.python.core.base_options import BaseOptions
from mediapipe.tasks.python.text import TextClassifier, TextClassifierOptions
task = TextClassifier.create_from_options(TextClassifierOptions(base_options=BaseOptions(model_asset_path=sys.argv[1])))
calls = [("classify", lambda: task.classify(sys.argv[2])), ("classify", lambda: task.classify("a short text")),
         ("close", task.close)]
for name, call in calls:
    try:
        call()
        print(name + ":ran")
    except RuntimeError:
        print(name + ":failed")
sys.stdout.flush()
os._exit(0)  # not through the task's __del__, which would close it again and hang
"""


def test_every_asset_ships_its_tokenizer_cases(app_assets):
    loaded, folders = app_assets("squeezebert-tiny", "sequence-classification")
    for folder in folders.values():
        manifest = json.loads((folder / "manifest.json").read_text())
        assert models.CASES_FILE in [a["name"] for a in manifest["assets"]]
        cases = models.read_tokenizer_cases(folder / models.CASES_FILE)
        assert len(cases) == len(models.TEXTS) + len(models.PAIRS)
        # unpadded, at most the asset's maximum: what the resizable file is fed
        assert all(2 <= len(c["input_ids"]) <= SEQ and all(c["attention_mask"]) for c in cases)
        assert len(next(c for c in cases if c["kind"] == "plain")["input_ids"]) < SEQ
        long_pair = next(c for c in cases if c["kind"] == "pair truncation")
        assert len(long_pair["input_ids"]) == SEQ


@pytest.mark.parametrize("args, message", [
    (["--metadata", "none", "--pooling", "cls"], "--pooling shape the MediaPipe embedding, which --metadata none "
                                                 "does not make; drop --pooling or use --metadata mediapipe"),
    (["--task", "sequence-classification", "--normalize"], "--normalize shape a feature-extraction embedding; a "
                                                           "sequence-classification asset outputs softmax probabilities"),
    (["--metadata", "json"], "argument --metadata: invalid choice: 'json'"),
    (["--pooling", "max"], "argument --pooling: invalid choice: 'max'"),
])
def test_bad_app_flags_fail_in_one_line_before_work(cli, tmp_path, args, message):
    done = cli("export.tflite", "--model", "bert-tiny", "--weights", "random", *args, "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if "error:" in line]) == 1
    assert "converting" not in done.stderr and not (tmp_path / "o").exists()
