"""Faults in what a user loads (issue 30): checkpoints that carry code, bad vocabularies and labels, unsupported
architectures, bad hub ids; and inputs no runtime may take silently. Real checkpoints saved by transformers, the
real CLI in a subprocess where code could run, the real runtimes on real exports."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models
from export.runtimes import ArtifactError, InputShapeError, load_artifact, open_runtime
from models import UserError
from tests.conftest import ROOT


def _checkpoint(folder: Path, task: str = "feature-extraction", labels: list[str] | None = None) -> Path:
    """A checkpoint folder as save_pretrained leaves it: bert-tiny with random weights and its tokenizer."""
    loaded = models.load("bert-tiny", weights="random", task=task)
    if labels is not None:
        loaded.hf_model.config.id2label = dict(enumerate(labels))
        loaded.hf_model.config.label2id = {label: i for i, label in enumerate(labels)}
    loaded.hf_model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return folder


def _export_cli(folder: Path, out: Path, *, stdin: str = "y\n", env: dict | None = None):
    """`python -m export.onnx --model FOLDER` as a user runs it, answering "y" to any question."""
    done = subprocess.run([sys.executable, "-m", "export.onnx", "--model", str(folder), "--seq-len", "16",
                           "--out", str(out)], cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert not out.exists()
    return errors[0]


@pytest.mark.parametrize("file", ["config.json", "tokenizer_config.json"])
def test_a_checkpoint_asking_for_its_own_code_is_refused_and_none_runs_even_after_yes(tmp_path, file):
    """On main, an auto_map (with a model_type transformers does not know) made transformers ask "Do you wish to
    run the custom code? [y/N]", and its Python file ran as the question was asked."""
    folder = _checkpoint(tmp_path / "ckpt")
    marker = tmp_path / "code-ran"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                                    "from transformers import BertConfig, BertModel, BertTokenizerFast\n"
                                    "class EvilConfig(BertConfig): model_type = 'evilbert'\n"
                                    "class EvilModel(BertModel): config_class = EvilConfig\n"
                                    "class EvilTokenizer(BertTokenizerFast): pass\n")
    data = json.loads((folder / file).read_text())
    if file == "config.json":
        data.update(model_type="evilbert", auto_map={"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"})
    else:
        data.update(tokenizer_class="EvilTokenizer", auto_map={"AutoTokenizer": ["evil.EvilTokenizer", None]})
    (folder / file).write_text(json.dumps(data))
    error = _export_cli(folder, tmp_path / "out")
    assert f"needs its own code ({file} auto_map: evil." in error and "runs no code from a checkpoint" in error
    assert not marker.exists()


def test_a_hub_checkpoint_asking_for_its_own_code_is_refused_too(tmp_path):
    """The hub path: an HF cache snapshot with an auto_map in tokenizer_config.json (a subprocess: huggingface_hub
    reads its cache location when it is imported)."""
    snapshot = tmp_path / "hub" / "models--some-org--custom" / "snapshots" / ("0" * 40)
    shutil.copytree(models.real_bert_dir(), snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    config = json.loads((snapshot / "tokenizer_config.json").read_text())
    (snapshot / "tokenizer_config.json").write_text(json.dumps({**config, "auto_map": {"AutoTokenizer": ["t.T", None]}}))
    code = "import models\ntry: models.load('some-org/custom')\nexcept models.UserError as e: print(e)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HOME": str(tmp_path), "HF_HUB_CACHE": str(tmp_path / "hub"),
                               "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    assert "'some-org/custom' needs its own code (tokenizer_config.json auto_map: t.T)" in done.stdout


def test_a_pickled_checkpoint_is_refused_in_one_line_and_not_run(tmp_path):
    """A pytorch_model.bin whose pickle calls os.system: torch.load weights_only refuses it (passed explicitly,
    so TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD cannot turn it off), in one line."""
    import torch

    folder = _checkpoint(tmp_path / "ckpt")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "pickle-ran"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)
    torch.save({"bert.embeddings.word_embeddings.weight": Payload()}, folder / "pytorch_model.bin")
    error = _export_cli(folder, tmp_path / "out", env={"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
    assert "a pickle holding more than tensors" in error and "nothing in it was run" in error
    assert not marker.exists()


@pytest.mark.parametrize("family", ["gpt2", "distilbert"])
def test_an_unsupported_architecture_is_refused_before_any_work(tmp_path, family):
    """On main: IndexError (GPT-2) and KeyError: 'pooler_output' (DistilBERT) from deep in the export."""
    from transformers import DistilBertConfig, DistilBertModel, GPT2Config, GPT2Model

    model = (GPT2Model(GPT2Config(n_layer=1, n_embd=32, n_head=2)) if family == "gpt2" else
             DistilBertModel(DistilBertConfig(n_layers=1, dim=32, n_heads=2, hidden_dim=64)))
    model.save_pretrained(tmp_path / family)
    with pytest.raises(UserError) as err:
        models.load(str(tmp_path / family))
    assert f"is a {family} model" in str(err.value) and "supported families: bert, squeezebert" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("bad", ["org/..", "org/a--b", "../name", "org/name.", "-org/name"])
def test_a_bad_hub_id_is_one_line(bad):
    with pytest.raises(UserError) as err:
        models.load(bad)
    assert repr(bad) in str(err.value) and "\n" not in str(err.value)


def test_good_hub_ids_still_pass():
    for good in ("google-bert/bert-base-uncased", "sentence-transformers/all-MiniLM-L6-v2", "org/name_v1.0"):
        assert models.check_model_name(good) == good


@pytest.mark.parametrize("vocab", [None, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"])
def test_a_tokenizer_without_a_vocabulary_is_refused(tmp_path, vocab):
    """On main: exported with rc 0, vocab.txt of the 5 special tokens and every text [UNK]."""
    folder = _checkpoint(tmp_path / "ckpt")
    (folder / "tokenizer.json").unlink()
    if vocab is not None:
        (folder / "vocab.txt").write_text(vocab)
    with pytest.raises(UserError) as err:
        models.load(str(folder))
    assert "has no vocabulary" in str(err.value) and "special tokens only" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_tokenizer_past_the_model_embeddings_is_refused(tmp_path):
    """The uncased tokenizer (30522 tokens) beside a model that embeds 1000: every id past 999 would fail."""
    from transformers import BertConfig, BertModel

    config = {k: v for k, v in models.REGISTRY["bert-tiny"].config_dict().items() if k != "architectures"}
    BertModel(BertConfig(**{**config, "vocab_size": 1000})).save_pretrained(tmp_path)
    models.uncased_tokenizer().save_pretrained(tmp_path)
    with pytest.raises(UserError, match=r"makes ids up to 30521, but the model embeds 1000 tokens"):
        models.load(str(tmp_path))


@pytest.mark.parametrize("labels, named", [
    (["good\nnews", "bad"], "control characters or empty ('good\\nnews')"),
    (["ok", "tab\there"], "control characters or empty ('tab\\there')"),
    (["ok", " "], "control characters or empty (' ')"),
    (["pos", "pos"], "duplicate labels ('pos')"),
])
def test_labels_an_app_cannot_list_are_refused_naming_them(tmp_path, labels, named):
    folder = _checkpoint(tmp_path / "ckpt", task="sequence-classification", labels=labels)
    with pytest.raises(UserError) as err:
        models.load(str(folder))
    assert named in str(err.value) and "\n" not in str(err.value)


def test_weights_that_do_not_fit_their_config_are_one_line(tmp_path):
    """config.json edited to 3 labels beside a 2-label head: transformers' own error points at a report above."""
    folder = _checkpoint(tmp_path / "ckpt", task="sequence-classification", labels=["a", "b"])
    config = json.loads((folder / "config.json").read_text())
    config.update(id2label={"0": "a", "1": "b", "2": "c"}, label2id={"a": 0, "b": 1, "c": 2})
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="do not fit its config.json") as err:
        models.load(str(folder))
    assert "\n" not in str(err.value)


def test_a_checkpoint_with_good_labels_and_vocab_still_loads(tmp_path):
    folder = _checkpoint(tmp_path / "ckpt", task="sequence-classification", labels=["négatif", "positif 😀"])
    m = models.load(str(folder))
    assert m.labels == ["négatif", "positif 😀"] and m.weights["tokenizer"] == "checkpoint"


# --- the runtimes' inputs, checked against the I/O contract --------------------------------------------------

RUNTIMES = ["onnx", "torchscript", "executorch", "tflite"]
VOCAB = 30522  # bert-tiny's vocab_size


def _feed(seq: int = 16, **changes) -> dict:
    feed = {n: np.ones((1, seq), dtype=np.int64) for n in models.INPUT_NAMES}
    feed.update(changes)
    return {k: v for k, v in feed.items() if v is not None}


@pytest.mark.parametrize("fmt", RUNTIMES)
@pytest.mark.parametrize("change, message", [
    ({"input_ids": np.full((1, 16), -1)}, "takes input_ids in 0..30521, got -1"),
    ({"input_ids": np.full((1, 16), VOCAB)}, "takes input_ids in 0..30521, got 30522"),
    ({"input_ids": np.full((1, 16), 1.7)}, "takes integer input_ids (token ids, int64 or int32), got float64"),
    ({"attention_mask": np.full((1, 16), 2)}, "takes attention_mask in 0..1, got 2"),
    ({"token_type_ids": np.full((1, 16), 2)}, "takes token_type_ids in 0..1, got 2"),
    ({"attention_mask": None, "token_type_ids": None}, "no attention_mask, token_type_ids in the inputs"),
    ({"input_ids": np.ones((1, 1, 16), dtype=np.int64)}, "takes input_ids of shape [batch, sequence]"),
])
def test_every_runtime_refuses_inputs_outside_the_contract_in_one_line(exported, fmt, change, message):
    """On main ONNX Runtime and LiteRT answered ids of -1 and 1.7, a missing input was a bare KeyError, and
    TorchScript's errors were pages of interpreter text. vocab_size reaches the runtime from the manifest."""
    _, artifact = exported(fmt, "bert-tiny", "feature-extraction", 16)
    runtime = load_artifact(artifact.dir)
    with pytest.raises(InputShapeError) as err:
        runtime.run(_feed(**change))
    assert str(err.value).startswith(artifact.path.name) and message in str(err.value)
    assert "\n" not in str(err.value)
    assert list(runtime.run(_feed())) == [o["name"] for o in artifact.manifest["outputs"]]  # and still runs


def test_more_tokens_than_the_model_embeds_is_one_line(exported):
    _, artifact = exported("onnx", "bert-tiny", "feature-extraction", 16)
    with pytest.raises(InputShapeError, match=r"takes at most 512 tokens \(max_position_embeddings\), got 600"):
        load_artifact(artifact.dir).run(_feed(600))


@pytest.mark.parametrize("fmt", ["torchscript", "tflite"])
def test_a_runtime_failure_is_one_line_and_does_not_repeat_earlier_ones(exported, fmt):
    """Opened without the contract's ranges (as a peer file is), an id past the vocabulary fails in the runtime
    itself: one line, the same each time (LiteRT's text used to pile up every earlier error)."""
    loaded, artifact = exported(fmt, "bert-tiny", "feature-extraction", 16)
    runtime = open_runtime(artifact.path, input_names=loaded.input_names,
                           output_names=[o["name"] for o in artifact.manifest["outputs"]])
    messages = []
    for _ in range(2):
        with pytest.raises(ArtifactError) as err:
            runtime.run(_feed(input_ids=np.full((1, 16), 10 ** 6)))
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "\n" not in messages[0] and "failed on these inputs" in messages[0]
    assert ("index out of range" if fmt == "torchscript" else "gather index out of bounds") in messages[0]
    assert messages[0].count("gather") <= 1


def test_the_string_in_onnx_takes_one_text_or_a_pair(tmp_path):
    """On main it answered for 3 strings (the first two, silently)."""
    import export

    loaded = models.load("bert-tiny", weights="random")
    artifact = export.export(export.get_format("onnx"), loaded, seq_len=16, out=tmp_path / "text",
                             options={"inputs": "text"})["fp32"]
    runtime = load_artifact(artifact.dir)
    for texts in (["a cat"], ["a cat", "sat on the mat"]):
        assert runtime.run({"text": np.array(texts, dtype=object)})["last_hidden_state"].shape[0] == 1
    for bad in (["a", "b", "c"], [], [["a", "b"]]):
        with pytest.raises(InputShapeError, match=r"takes text as one text or a pair \[text, text_pair\]"):
            runtime.run({"text": np.array(bad, dtype=object)})
    with pytest.raises(InputShapeError, match="no text in the inputs"):
        runtime.run(_feed())
