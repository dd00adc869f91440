"""The model zoo: registry, bundled configs, loading from every weights source, tokenizer, sample inputs."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import models
from models import UserError


def test_every_registered_family_has_a_tiny_test_model():
    """Equivalence tests run on tiny configs: a registered family without one would go untested."""
    tiny = {s.family for s in models.REGISTRY.values() if s.testing}
    published = {s.family for s in models.REGISTRY.values() if not s.testing}
    assert published <= tiny, f"families without a tiny test config: {published - tiny}"


@pytest.mark.parametrize("name", [n for n, s in models.REGISTRY.items() if not s.testing])
def test_bundled_configs_match_their_family(name):
    spec = models.REGISTRY[name]
    config = spec.config_dict()
    assert config["model_type"] == spec.family
    assert config["num_hidden_layers"] == 12 and config["hidden_size"] == 768
    if spec.family == "squeezebert":  # the grouped pointwise layers the paper is about
        assert (config["q_groups"], config["intermediate_groups"], config["output_groups"]) == (4, 4, 4)


@pytest.mark.parametrize("name", ["squeezebert-tiny", "bert-tiny"])
@pytest.mark.parametrize("task", models.TASKS)
def test_random_weights_are_seeded_and_flagged(name, task):
    a = models.load(name, weights="random", task=task, seed=3)
    b = models.load(name, weights="random", task=task, seed=3)
    c = models.load(name, weights="random", task=task, seed=4)
    x = {k: torch.from_numpy(v) for k, v in a.inputs(seq_len=16).items()}
    out = lambda m: m.module(x["input_ids"], x["attention_mask"], x["token_type_ids"])[0]
    with torch.no_grad():
        assert torch.equal(out(a), out(b))
        assert not torch.equal(out(a), out(c))
    assert a.weights == {"source": "random", "seed": 3, "warning": models.RANDOM_WEIGHTS_WARNING}
    assert a.output_names == models.OUTPUT_NAMES[task]


def test_tiny_squeezebert_keeps_grouped_convolutions():
    m = models.load("squeezebert-tiny", weights="random")
    convs = [c for c in m.hf_model.modules() if isinstance(c, torch.nn.Conv1d)]
    assert len(convs) == 2 * 6 and {c.groups for c in convs} == {1, 4}


def test_sample_inputs_are_real_sentence_pairs_padded_to_seq_len():
    m = models.load("bert-tiny", weights="random")
    x = m.inputs(seq_len=64, batch=3)
    assert {k: v.shape for k, v in x.items()} == {k: (3, 64) for k in models.INPUT_NAMES}
    assert all(v.dtype == np.int64 for v in x.values())
    ids = x["input_ids"][0]
    assert ids[0] == 101 and (ids == 102).sum() == 2  # [CLS] premise [SEP] hypothesis [SEP]
    assert x["attention_mask"][0].sum() < 64 and ids[-1] == 0  # padded
    assert set(np.unique(x["token_type_ids"][0])) == {0, 1}
    text = m.tokenizer.decode(ids, skip_special_tokens=True)
    assert text.startswith(models.SENTENCE_PAIRS[0][0].lower()[:20])


def test_random_weights_use_the_uncased_wordpiece_vocab():
    m = models.load("squeezebert-tiny", weights="random")
    vocab = models.tokenizer_vocab_file(m.tokenizer)
    assert vocab is not None and len(vocab.read_text().splitlines()) == 30522
    assert m.tokenizer.convert_tokens_to_ids("[CLS]") == 101


def test_local_fine_tuned_folder_brings_its_head_labels_and_tokenizer(tmp_path):
    folder = make_fine_tuned_squeezebert(tmp_path / "glue")
    m = models.load(str(folder))
    assert m.task == "sequence-classification"
    assert m.labels == ["contradiction", "entailment", "neutral"]
    assert m.weights["source"] == "folder" and m.weights["tokenizer"] == "checkpoint"
    from transformers import SqueezeBertForSequenceClassification

    ref = SqueezeBertForSequenceClassification.from_pretrained(folder).eval()
    assert torch.equal(m.hf_model.classifier.weight, ref.classifier.weight)


def test_real_pretrained_weights_load_offline():
    m = models.load(str(models.real_bert_dir()))
    assert m.family == "bert" and m.config.hidden_size == 384 and m.weights["source"] == "folder"
    # Real weights: two paraphrases are closer than an unrelated sentence (mean-pooled, as MiniLM is trained).
    tok = m.tokenizer(["A man is playing a guitar.", "Someone plays the guitar.", "Stock prices fell sharply."],
                      padding=True, return_tensors="pt")
    with torch.no_grad():
        h = m.hf_model(**tok).last_hidden_state
    e = torch.nn.functional.normalize((h * tok["attention_mask"][..., None]).sum(1) / tok["attention_mask"].sum(1,
                                      keepdim=True), dim=-1)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3


def test_hub_id_loads_from_the_hf_cache_offline(tmp_path):
    """The real `from_pretrained` hub path, served by a populated HF cache, with the hub unreachable.
    A subprocess, because huggingface_hub reads its cache location when it is imported."""
    snapshot = tmp_path / "hub" / "models--offline-org--minilm" / "snapshots" / ("0" * 40)
    shutil.copytree(models.real_bert_dir(), snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    env = {"HF_HOME": str(tmp_path), "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "0",
           "HF_ENDPOINT": "http://127.0.0.1:9"}  # nothing listens there: the hub is unreachable
    code = ("import models; m = models.load('offline-org/minilm'); "
            "print(m.weights['source'], m.weights['id'], m.config.hidden_size, m.weights['tokenizer'])")
    done = _python(code, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["hub", "offline-org/minilm", "384", "checkpoint"]


def _python(code: str, env: dict):
    import subprocess
    import sys

    from tests.conftest import ROOT

    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


@pytest.mark.parametrize("offline", ["1", None])
def test_hub_unreachable_without_cache_names_both_ways_out(tmp_path, monkeypatch, offline):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(UserError, match=r"--weights random .*--weights PATH") as err:
        models.load("squeezebert-mnli-headless")
    assert "\n" not in str(err.value)


def test_headless_checkpoint_cannot_fake_a_classification_head(tmp_path):
    from transformers import SqueezeBertConfig, SqueezeBertModel

    config = SqueezeBertConfig(**{k: v for k, v in models.REGISTRY["squeezebert-tiny"].config_dict().items()
                                  if k != "architectures"})
    SqueezeBertModel(config).save_pretrained(tmp_path)
    with pytest.raises(UserError, match="no trained classification head"):
        models.load(str(tmp_path), task="sequence-classification")


@pytest.mark.parametrize("bad, match", [
    ("no-such-model", "unknown model 'no-such-model': choose one of squeezebert-uncased"),
    ("bert-tiny@@", "unknown model"),
])
def test_unknown_model_lists_the_valid_names(bad, match):
    with pytest.raises(UserError, match=match):
        models.load(bad, weights="random")


def test_seq_len_over_max_positions_is_refused():
    m = models.load("bert-tiny", weights="random")
    with pytest.raises(UserError, match="--seq-len 513 is outside 2..512"):
        m.inputs(seq_len=513)


def make_fine_tuned_squeezebert(folder: Path) -> Path:
    """What run_glue.py leaves behind: a SqueezeBertForSequenceClassification with 3 labels + tokenizer."""
    from transformers import SqueezeBertConfig, SqueezeBertForSequenceClassification

    labels = ["contradiction", "entailment", "neutral"]
    cfg = {k: v for k, v in models.REGISTRY["squeezebert-tiny"].config_dict().items() if k != "architectures"}
    config = SqueezeBertConfig(**cfg, num_labels=3, id2label=dict(enumerate(labels)),
                               label2id={l: i for i, l in enumerate(labels)})
    torch.manual_seed(7)
    SqueezeBertForSequenceClassification(config).save_pretrained(folder)
    models.uncased_tokenizer().save_pretrained(folder)
    return folder
