"""The export commands as a user runs them: exit codes, files written, one-line errors without tracebacks."""
from __future__ import annotations

import json
import re

import pytest

from tests.test_models import make_fine_tuned_squeezebert


@pytest.mark.parametrize("module, files", [
    ("export.onnx", ["squeezebert-tiny_feature-extraction_fp32.onnx"]),
    ("export.torchscript", ["squeezebert-tiny_feature-extraction_fp32.pt",
                            "squeezebert-tiny_feature-extraction_fp32.ptl"]),
])
def test_format_command_writes_artifact_and_manifest(cli, tmp_path, module, files):
    done = cli(module, "--model", "squeezebert-tiny", "--weights", "random", "--seq-len", "32", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files + ["manifest.json"])
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["validation"]["max_abs_diff"]["last_hidden_state"] <= 1e-4
    assert "Traceback" not in done.stderr


def test_export_all_formats_from_a_fine_tuned_folder(cli, tmp_path):
    folder = make_fine_tuned_squeezebert(tmp_path / "glue")
    done = cli("export", "--model", str(folder), "--formats", "torchscript,onnx", "--seq-len", "32",
               "--quantize", "int8-dynamic", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    for fmt in ("torchscript", "onnx"):
        manifest = json.loads((tmp_path / "out" / fmt / "manifest.json").read_text())
        assert manifest["task"] == "sequence-classification" and manifest["labels"][0] == "contradiction"
        assert manifest["validation"]["max_abs_diff"]["logits"] <= 1e-4
        int8 = json.loads((tmp_path / "out" / f"{fmt}-int8" / "manifest.json").read_text())
        assert (int8["precision"], int8["quantization"]["recipe"]) == ("int8", "int8-dynamic")
        assert int8["quantization"]["size_bytes"]["fp32"] == manifest["file"]["bytes"]  # the same conversion
        assert int8["validation"]["mean_cosine"]["logits"] >= 0.99
    # one conversion a format: the fp32 conversion is logged once, the int8 artifact as derived from it
    assert done.stderr.count("converting glue") == 2 and done.stderr.count("deriving") == 2


@pytest.mark.parametrize("args, message", [
    (["--formats", "onnx,coreml"], "argument --formats: unknown format 'coreml'; choose one of torchscript, onnx"),
    (["--quantize", "int4"], "argument --quantize: invalid choice: 'int4' (choose from"),
])
def test_export_flags_are_checked_before_any_work(cli, tmp_path, args, message):
    done = cli("export", "--model", "bert-tiny", "--weights", "random", *args, "--out", str(tmp_path))
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "torchscript").exists()


def _unwritable(tmp_path):
    """A folder below a regular file: not creatable, even by root (CI runs as root)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    return str(blocker / "out")


BAD_INPUTS = {
    "unknown model": (["--model", "bert-huge", "--weights", "random"], "unknown model 'bert-huge': choose one of"),
    "missing folder": (["--model", "squeezebert-tiny", "--weights", "/no/such/ckpt"], "--weights '/no/such/ckpt': no such folder"),
    "hub unreachable": (["--model", "squeezebert-mnli-headless"], "use --weights random .* or --weights PATH"),
    "seq len too long": (["--model", "bert-tiny", "--weights", "random", "--seq-len", "1024"],
                         "--seq-len 1024 is outside 2..512"),
    "unknown task": (["--model", "bert-tiny", "--weights", "random", "--task", "qa"], "invalid choice: 'qa'"),
    "missing folder shaped like an HF id": (["--model", "nosuch/folder"], "no local folder of that name"),
    "zero threads": (["--model", "bert-tiny", "--weights", "random", "--threads", "0"],
                     "argument --threads: must be at least 1, got 0"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("module", ["export.onnx", "export.torchscript", "export"])
def test_bad_input_is_one_line_and_non_zero(cli, tmp_path, module, case):
    args, message = BAD_INPUTS[case]
    env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HOME": str(tmp_path / "hf")}
    done = cli(module, *args, "--out", str(tmp_path / "out"), env=env)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, done.stderr
    assert re.search(message, errors[0]), errors[0]


def test_unwritable_out_is_one_line(cli, tmp_path):
    done = cli("export.onnx", "--model", "bert-tiny", "--weights", "random", "--out", _unwritable(tmp_path))
    assert done.returncode == 2 and "cannot write there" in done.stderr and "Traceback" not in done.stderr


def test_verify_remeasures_an_artifact_independently(cli, tmp_path):
    done = cli("export.onnx", "--model", "bert-tiny", "--weights", "random", "--seed", "5", "--seq-len", "32",
               "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    done = cli("export.verify", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "-[✓] last_hidden_state [1x32]" in done.stderr and "-[x]" not in done.stderr
    # The manifest's seed is what makes the reload faithful: tamper with it and verification must fail.
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["model"]["weights"]["seed"] = 6
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    done = cli("export.verify", str(tmp_path))
    assert done.returncode == 2 and "-[x] last_hidden_state" in done.stderr
