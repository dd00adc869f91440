"""Fault tests of the benchmark's artifact cache and outputs (issue 40): the artifact timed is the one named, no name
leaves the artifacts folder, spreadsheets run no cell, nothing stays on a device, bad results rows and thread counts
are one line. Real exports, real processes, the local device and the real adb server with the loopback device."""
from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_faults_bench import adb_args, one_line_error

ROOT = Path(__file__).resolve().parents[1]
SEQ = 16


def checkpoint(folder: Path, seed: int) -> Path:
    """A bert-tiny checkpoint folder as save_pretrained writes it (weights of `seed`, the uncased tokenizer)."""
    import models

    loaded = models.load("bert-tiny", weights="random", seed=seed)
    loaded.hf_model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return folder


def bench(out: Path, *args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "android_bench", "--seq-len", str(SEQ), "--formats", "onnx",
                           "--precisions", "fp32", "--threads", "1", "--rounds", "1", "--runs", "5", "--cooldown-cap",
                           "0", "--out", str(out), *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_two_model_folders_with_one_last_name_are_each_timed(tmp_path):
    """ck/A/model and ck/B/model: each its own artifact and inputs, so the ratio compares two models."""
    a, b = checkpoint(tmp_path / "A" / "model", 0), checkpoint(tmp_path / "B" / "model", 1)
    out = tmp_path / "out"
    done = bench(out, "--models", f"{a},{b}", "--baseline", str(b), "--device", "local")
    assert done.returncode == 0, done.stderr
    rs = records(out)
    assert [r["model"] for r in rs] == [str(a), str(b)]
    assert rs[0]["artifact_sha256"] != rs[1]["artifact_sha256"], "one artifact timed for two models"
    folders = sorted(p.name for p in (out / "artifacts").iterdir())
    assert len(folders) == 2 and all(name.startswith("model-") for name in folders), folders
    assert len(list((out / "inputs").iterdir())) == 2
    manifests = [json.loads(next((out / "artifacts" / f).iterdir()).joinpath("manifest.json").read_text())
                 for f in folders]
    assert sorted(m["model"]["weights"]["path"] for m in manifests) == sorted([str(a), str(b)])
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["model"], r["baseline"]) for r in summary["ratios"]] == [(str(a), str(b))]


def test_a_cached_artifact_is_reused_only_for_what_its_manifest_says(tmp_path, caplog):
    """Other weights (another folder, or the same folder re-saved), an edited precision: exported again, with a
    warning saying why; the same request: reused as it is."""
    from android_bench.harness.artifacts import ensure_artifact

    root = tmp_path / "artifacts"
    a, b = checkpoint(tmp_path / "a", 0), checkpoint(tmp_path / "b", 1)

    def ensure(weights: str) -> dict:
        folder = ensure_artifact(root, "bert-tiny", "onnx", "fp32", weights=weights, seq_len=SEQ)
        return json.loads((folder / "manifest.json").read_text())

    first = ensure(str(a))
    with caplog.at_level(logging.WARNING, logger="android_bench"):
        assert ensure(str(a))["file"] == first["file"] and not caplog.records  # reused quietly
        second = ensure(str(b))
    assert second["model"]["weights"]["path"] == str(b) and second["file"]["sha256"] != first["file"]["sha256"]
    assert "made from other weights" in caplog.text

    caplog.clear()
    checkpoint(b, 2)  # the same folder, other weights
    with caplog.at_level(logging.WARNING, logger="android_bench"):
        third = ensure(str(b))
    assert third["file"]["sha256"] not in (first["file"]["sha256"], second["file"]["sha256"])
    assert "made from other weights (digest" in caplog.text

    caplog.clear()
    manifest_path = root / "bert-tiny" / f"onnx-fp32-seq{SEQ}" / "manifest.json"
    edited = {**third, "precision": "int8"}
    manifest_path.write_text(json.dumps(edited))
    with caplog.at_level(logging.WARNING, logger="android_bench"):
        again = ensure(str(b))
    assert again["precision"] == "fp32" and "not reusing" in caplog.text
    edited = {**again, "tools": {**again["tools"], "onnx": "0.0.1"}}
    manifest_path.write_text(json.dumps(edited))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="android_bench"):
        assert ensure(str(b))["tools"]["onnx"] != "0.0.1"
    assert "made with onnx 0.0.1" in caplog.text


def test_no_model_name_leaves_the_artifacts_folder(tmp_path, monkeypatch):
    """`sub/..` and `.` name a model folder; its artifact and inputs stay inside their folders."""
    from android_bench.harness.artifacts import artifact_folder, cache_name, ensure_artifact
    from android_bench.harness.run import inputs_and_flops

    model = checkpoint(tmp_path / "ck", 0)
    (model / "sub").mkdir()
    monkeypatch.chdir(model)
    root, inputs = tmp_path / "art", tmp_path / "inputs"
    for name in ("sub/..", "."):
        made = ensure_artifact(root, name, "onnx", "fp32", weights="random", seq_len=SEQ)
        assert made == artifact_folder(root, name, "onnx", "fp32", SEQ) and made.resolve().parent.parent == root
        fed, _, _ = inputs_and_flops([name], weights="random", seq_lens=[SEQ], folder=inputs)
        assert fed[name][SEQ].resolve().parent == inputs
    assert cache_name("sub/..") == cache_name(".") != cache_name(str(tmp_path))  # the same folder, one name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "ck", "inputs"]


def test_summary_csv_cells_never_start_a_formula(tmp_path):
    """A model folder named =1+2 and a serial starting with -, + or @ are text in a spreadsheet; numbers stay."""
    from android_bench.measurement.report import write_csv

    rows = [{"device": serial, "model": "=1+2", "format": "onnx", "precision": "fp32", "threads": 1, "runner": "python",
             "seq_len": 16, "n": 5, "median_ms": -0.5} for serial in ("-2+3", "+cmd|' /C calc'!A0", "@SUM(1)", "ok")]
    write_csv({"latency": rows, "ratios": []}, tmp_path / "summary.csv")
    cells = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [c["device"] for c in cells] == ["'-2+3", "'+cmd|' /C calc'!A0", "'@SUM(1)", "ok"]
    assert {c["model"] for c in cells} == {"'=1+2"} and {c["median_ms"] for c in cells} == {"-0.5"}


@pytest.fixture(scope="module")
def tiny_artifacts(tmp_path_factory):
    from android_bench.harness.artifacts import ensure_artifact

    folder = tmp_path_factory.mktemp("cache-artifacts")
    ensure_artifact(folder, "bert-tiny", "onnx", "fp32", weights="random", seq_len=SEQ)
    return folder


def test_the_local_device_folder_goes_after_a_run_unless_kept(tmp_path, tiny_artifacts):
    common = ("--models", "bert-tiny", "--baseline", "bert-tiny", "--weights", "random", "--artifacts",
              str(tiny_artifacts), "--device", "local")
    done = bench(tmp_path / "gone", *common)
    assert done.returncode == 0, done.stderr
    run_id = records(tmp_path / "gone")[0]["run_id"]
    assert not (tmp_path / "gone" / "local-device" / run_id).exists()
    done = bench(tmp_path / "kept", *common, "--keep-device-files")
    assert done.returncode == 0, done.stderr
    run_id = records(tmp_path / "kept")[0]["run_id"]
    assert (tmp_path / "kept" / "local-device" / run_id / "models" / "bert-tiny-onnx-fp32" / "manifest.json").is_file()


def test_the_adb_device_folder_goes_after_a_run(adb_server, loopback_device, tmp_path, tiny_artifacts):
    done = bench(tmp_path / "out", "--models", "bert-tiny", "--baseline", "bert-tiny", "--weights", "random",
                 "--artifacts", str(tiny_artifacts), *adb_args(adb_server, loopback_device), env=adb_server.env)
    assert done.returncode == 0, done.stderr
    run_id = records(tmp_path / "out")[0]["run_id"]
    assert not (loopback_device.root / run_id).exists(), "the run's folder was left on the device"


@pytest.mark.parametrize("row, said", [
    ({"timing": {"mean_ms": 1.0, "samples_ms": [1.0, "fast"]}}, "timing.samples_ms"),
    ({"timing": {"mean_ms": "1", "samples_ms": [1.0]}}, "timing.mean_ms"),
    ({"threads": "2", "timing": {"mean_ms": 1.0, "samples_ms": [1.0]}}, "threads '2'"),
    ([1, 2], "a JSON list"),
    ({"device": None, "round": None}, "a job's row without device, round"),
])
def test_a_results_row_of_the_wrong_type_is_one_line_on_resume(tmp_path, tiny_artifacts, row, said):
    out = tmp_path / "out"
    out.mkdir()
    good = {"run_id": "run-20261208-010203-abcdef", "device": "local", "model": "bert-tiny", "format": "onnx",
            "precision": "fp32", "threads": 1, "round": 0, "timing": {"mean_ms": 1.0, "samples_ms": [1.0]}}
    bad = {**good, **row} if isinstance(row, dict) else row
    (out / "results.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    done = bench(out, "--models", "bert-tiny", "--baseline", "bert-tiny", "--weights", "random", "--artifacts",
                 str(tiny_artifacts), "--device", "local", "--resume")
    line = one_line_error(done.stderr)
    assert done.returncode == 2 and "results.jsonl line 2: " in line and said in line and "delete that line" in line


def test_threads_above_the_cores_are_refused_unless_asked_for(tmp_path, tiny_artifacts):
    over = str(os.cpu_count() + 1)
    common = ("--models", "bert-tiny", "--baseline", "bert-tiny", "--weights", "random", "--artifacts",
              str(tiny_artifacts), "--device", "local", "--threads", over)
    done = bench(tmp_path / "no", *common)
    line = one_line_error(done.stderr)
    assert done.returncode == 2 and f"{over} is more than the {os.cpu_count()} cores" in line
    assert "SQUEEZEBERT_MOBILE_NO_SIZE_LIMITS=1" in line and not (tmp_path / "no" / "results.jsonl").exists()
    done = bench(tmp_path / "yes", *common, env={"SQUEEZEBERT_MOBILE_NO_SIZE_LIMITS": "1"})
    assert done.returncode == 0, done.stderr
    assert "oversubscribed" in done.stderr and records(tmp_path / "yes")[0]["threads"] == int(over)


def test_a_disk_full_before_any_measurement_names_the_folder_and_no_results(tmp_path):
    from tests.conftest import tmpfs

    with tmpfs(tmp_path / "disk", "6m") as disk:
        done = bench(disk / "out", "--models", "squeezebert-tiny,bert-tiny", "--baseline", "bert-tiny", "--weights",
                     "random", "--device", "local")
        line = one_line_error(done.stderr)
        assert done.returncode == 2 and "ENOSPC" in line and str(disk / "out") in line
        assert "nothing was measured yet" in line and "results.jsonl" not in line


def test_a_foreign_file_in_the_artifacts_folder_is_named_with_advice_the_command_takes(tmp_path):
    """android_bench has no --force: the line names the file and what to do with this command's flags."""
    folder = tmp_path / "art" / "bert-tiny" / f"onnx-fp32-seq{SEQ}"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    done = bench(tmp_path / "out", "--models", "bert-tiny", "--baseline", "bert-tiny", "--weights", "random",
                 "--artifacts", str(tmp_path / "art"), "--device", "local")
    line = one_line_error(done.stderr)
    assert done.returncode == 2 and "notes.txt" in line and "--artifacts" in line and "--force" not in line
    assert (folder / "notes.txt").read_text() == "mine"
