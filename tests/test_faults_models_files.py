"""Faults in a checkpoint's files (issue 40): a tokenizer that exists but cannot be read, config values that cannot
build a model, and sizes past any BERT-family model (refused unless SQUEEZEBERT_MOBILE_NO_SIZE_LIMITS is set)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import models
from models import UserError
from tests.conftest import run_cli
from tests.test_faults_models import _checkpoint, _export_cli

SAVE = "save the tokenizer again with tokenizer.save_pretrained"


def _with_bad_vocab(folder: Path) -> None:
    """The uncased vocab.txt with two bytes that are not UTF-8 in the middle of it."""
    data = (models.uncased_vocab_dir() / "vocab.txt").read_bytes()
    (folder / "vocab.txt").write_bytes(data[:5000] + b"\xff\xfe" + data[5000:])


@pytest.mark.parametrize("file, damage, named", [
    ("tokenizer.json", b"\xff\xfe\x00{garbage", "tokenizer.json of"),
    ("tokenizer.json", b'{"version": "1.0"', "tokenizer.json of"),
    ("tokenizer.json", b"{}", "(tokenizer.json, tokenizer_config.json) cannot be read by transformers"),
    ("tokenizer_config.json", b"not json", "tokenizer_config.json of"),
    ("tokenizer_config.json", b"[1, 2]", "tokenizer_config.json of"),
    ("vocab.txt", None, "vocab.txt of"),  # beside a good tokenizer.json: transformers would not read it
    ("vocab.txt alone", None, "vocab.txt of"),
])
def test_a_tokenizer_file_that_cannot_be_read_is_one_line_naming_it(tmp_path, file, damage, named):
    """On main: rc 0, the generic uncased vocabulary used in its place and the manifest saying "checkpoint has
    none" (or, for a tokenizer_config.json holding a list, an AttributeError traceback)."""
    folder = _checkpoint(tmp_path / "ckpt")
    if file.startswith("vocab.txt"):
        _with_bad_vocab(folder)
        if file == "vocab.txt alone":
            (folder / "tokenizer.json").unlink()
    else:
        (folder / file).write_bytes(damage)
    error = _export_cli(folder, tmp_path / "out")
    assert named in error and SAVE in error, error


def test_a_checkpoint_with_no_tokenizer_files_falls_back_and_says_so(tmp_path):
    """Only a checkpoint without any tokenizer file takes the uncased vocabulary, recorded in the manifest."""
    folder = _checkpoint(tmp_path / "ckpt")
    for file in ("tokenizer.json", "tokenizer_config.json"):
        (folder / file).unlink()
    loaded = models.load(str(folder))
    assert loaded.weights["tokenizer"] == "uncased WordPiece (checkpoint has none)"
    assert loaded.tokenizer.get_vocab() == models.uncased_tokenizer().get_vocab()


def _config_folder(folder: Path, family: str = "bert", **changes) -> Path:
    """A folder holding only a config.json: the tiny test config of `family` with `changes` (None drops a field)."""
    config = {**models.REGISTRY[f"{family}-tiny"].config_dict(), **changes}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({k: v for k, v in config.items() if v is not None}))
    return folder


@pytest.mark.parametrize("family, changes, message", [
    ("bert", {"hidden_size": -8}, "hidden_size is -8; it must be at least 1"),
    ("bert", {"hidden_size": 0}, "hidden_size is 0; it must be at least 1"),
    ("bert", {"hidden_size": "64"}, "hidden_size is '64' (str); it must be a whole number of at least 1"),
    ("bert", {"hidden_size": 64.0}, "hidden_size is 64.0 (float); it must be a whole number"),
    ("bert", {"num_hidden_layers": True}, "num_hidden_layers is True (bool); it must be a whole number"),
    ("bert", {"num_attention_heads": 5}, "num_attention_heads is 5, which does not divide hidden_size (64)"),
    ("bert", {"num_attention_heads": 0}, "num_attention_heads is 0; it must be at least 1"),
    ("bert", {"hidden_size": 100, "num_attention_heads": None}, "num_attention_heads is 12, which does not divide"),
    ("bert", {"vocab_size": 0}, "vocab_size is 0; it must be at least 1"),
    ("bert", {"vocab_size": -5}, "vocab_size is -5; it must be at least 1"),
    ("bert", {"num_hidden_layers": 0}, "num_hidden_layers is 0; it must be at least 1"),
    ("bert", {"intermediate_size": 0}, "intermediate_size is 0; it must be at least 1"),
    ("bert", {"max_position_embeddings": 0}, "max_position_embeddings is 0; it must be at least 1"),
    ("bert", {"type_vocab_size": 0}, "type_vocab_size is 0; it must be at least 1"),
    ("bert", {"pad_token_id": 40000}, "pad_token_id is 40000, outside the embedding table of vocab_size 30522"),
    ("squeezebert", {"q_groups": 3}, "q_groups is 3, which does not divide hidden_size (64)"),
    ("squeezebert", {"k_groups": 0}, "k_groups is 0; it must be at least 1"),
    ("squeezebert", {"v_groups": "4"}, "v_groups is '4' (str)"),
    ("squeezebert", {"post_attention_groups": 128}, "post_attention_groups is 128, which does not divide hidden_size"),
    ("squeezebert", {"intermediate_groups": 3}, "intermediate_groups is 3, which does not divide hidden_size (64)"),
    ("squeezebert", {"intermediate_size": 96, "output_groups": 64}, "output_groups is 64, which does not divide "
                                                                    "intermediate_size (96)"),
    ("squeezebert", {"embedding_size": 32}, "embedding_size is 32, but SqueezeBERT needs it equal to hidden_size"),
])
def test_config_values_that_cannot_build_a_model_are_one_line_naming_the_field(tmp_path, family, changes, message):
    """On main: RuntimeError (negative dimension), ZeroDivisionError, IndexError, AssertionError, "in_channels must
    be divisible by groups", transformers' several-line validation text; a 0-layer model even loaded."""
    folder = _config_folder(tmp_path / "ckpt", family, **changes)
    with pytest.raises(UserError) as err:
        models.load(str(folder), weights="random")
    assert message in str(err.value) and "fix config.json" in str(err.value), str(err.value)
    assert str(err.value).startswith(repr(str(folder))) and "\n" not in str(err.value)


def test_a_bad_config_is_refused_by_the_cli_before_any_work(tmp_path):
    folder = _config_folder(tmp_path / "ckpt", hidden_size=-8)
    error = _export_cli(folder, tmp_path / "out")
    assert "config.json hidden_size is -8; it must be at least 1" in error


@pytest.mark.parametrize("field, value, bound", [
    ("num_hidden_layers", 1_000_000, 96), ("hidden_size", 16392, 16384), ("intermediate_size", 65537, 65536),
    ("vocab_size", 1_000_001, 1_000_000), ("max_position_embeddings", 70_000, 65536), ("type_vocab_size", 2000, 1024),
])
def test_sizes_past_any_bert_are_refused_naming_the_override(tmp_path, field, value, bound):
    """On main num_hidden_layers: 1000000 climbed in memory until the process was killed."""
    folder = _config_folder(tmp_path / "ckpt", **{field: value})
    with pytest.raises(UserError) as err:
        models.load(str(folder), weights="random")
    assert f"config.json {field} is {value}, above the bound of {bound}" in str(err.value)
    assert "SQUEEZEBERT_MOBILE_NO_SIZE_LIMITS=1" in str(err.value) and "\n" not in str(err.value)


def test_every_real_bert_family_size_is_within_the_bounds():
    """bert-large, Megatron-BERT 3.9B, multilingual BERT, an 8192-position BERT: none is refused."""
    from models._config_checks import check_config_values

    for sizes in ({"num_hidden_layers": 24, "hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16},
                  {"num_hidden_layers": 48, "hidden_size": 2560, "intermediate_size": 10240, "num_attention_heads": 40},
                  {"vocab_size": 119547, "max_position_embeddings": 512, "type_vocab_size": 2},
                  {"vocab_size": 250002, "max_position_embeddings": 8192, "type_vocab_size": 1}):
        check_config_values({"model_type": "bert", **sizes}, "real")


def test_the_size_bounds_can_be_lifted_on_purpose(tmp_path, monkeypatch, caplog):
    """A tiny model over one bound (70000 positions) builds with the variable set, with a warning."""
    folder = _config_folder(tmp_path / "ckpt", max_position_embeddings=70_000)
    monkeypatch.setenv("SQUEEZEBERT_MOBILE_NO_SIZE_LIMITS", "1")
    with caplog.at_level(logging.WARNING, logger="models"):
        loaded = models.load(str(folder), weights="random")
    assert loaded.max_seq_len == 70_000
    assert "max_position_embeddings is 70000, above the bound of 65536; building it anyway" in caplog.text


def test_the_override_works_for_a_command_without_new_flags(tmp_path):
    folder = _config_folder(tmp_path / "ckpt", max_position_embeddings=70_000)
    args = ["export.onnx", "--model", str(folder), "--weights", "random", "--seq-len", "16"]
    refused = run_cli(*args, "--out", str(tmp_path / "refused"), timeout=300)
    assert refused.returncode == 2 and "SQUEEZEBERT_MOBILE_NO_SIZE_LIMITS=1" in refused.stderr, refused.stderr
    assert not (tmp_path / "refused").exists()
    done = run_cli(*args, "--out", str(tmp_path / "out"), env={"SQUEEZEBERT_MOBILE_NO_SIZE_LIMITS": "1"}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "above the bound of 65536; building it anyway" in done.stderr
    manifest = json.loads(next((tmp_path / "out").rglob("manifest.json")).read_text())
    assert manifest["model"]["weights"]["source"] == "random"
