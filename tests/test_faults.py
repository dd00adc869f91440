"""Faults, with the real processes: killed exports, damaged artifacts, torn results, Ctrl-C, a full disk."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from export.runtimes import ArtifactError, load_artifact, read_verified

ROOT = Path(__file__).resolve().parents[1]
TINY_ONNX = ["export.onnx", "--model", "bert-tiny", "--weights", "random", "--seq-len", "16"]


def _start(*args: str, **kw) -> subprocess.Popen:
    # SIGINT at its default, as in a terminal: a shell's background job (pytest run with `&`) ignores it, the
    # children inherit that, and Python then installs no KeyboardInterrupt handler
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)


@pytest.fixture(scope="module")
def onnx_artifacts(tmp_path_factory):
    """The same tiny ONNX export with seed 0 and seed 1: (folder, manifest) of each."""
    made = {}
    for seed in (0, 1):
        out = tmp_path_factory.mktemp(f"seed{seed}") / "onnx"
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", *TINY_ONNX, "--seed", str(seed), "--out", str(out)], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        made[seed] = (out, json.loads((out / "manifest.json").read_text()), time.monotonic() - started)
    return made


def test_sigkill_at_any_point_of_an_export_leaves_the_old_or_the_new_artifact(onnx_artifacts, tmp_path):
    """An export builds its folder beside the target and swaps it in at once: kill -9 it at several points and
    every reader sees a whole artifact, the old or the new one, never a mix."""
    import shutil

    old, new = (onnx_artifacts[seed][1]["file"]["sha256"] for seed in (0, 1))
    out = tmp_path / "onnx"
    shutil.copytree(onnx_artifacts[0][0], out)
    seen, duration = set(), onnx_artifacts[1][2]
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.85, 0.95):  # start-up, conversion, validation, commit
        proc = _start(*TINY_ONNX, "--seed", "1", "--out", str(out))
        deadline = time.monotonic() + fraction * duration
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        manifest = read_verified(out)  # every listed file present, with its size and sha256
        assert manifest["file"]["sha256"] in (old, new)
        assert sorted(p.name for p in out.iterdir()) == sorted([manifest["file"]["name"], "manifest.json"])
        seen.add(manifest["file"]["sha256"])
        if manifest["file"]["sha256"] == new:
            shutil.rmtree(out)
            shutil.copytree(onnx_artifacts[0][0], out)
    assert old in seen  # killed before the swap at least once
    done = subprocess.run([sys.executable, "-m", "export.verify", str(out)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "-[x]" not in done.stderr, done.stderr  # what is there re-measures against eager
    # what a killed run leaves beside the target goes with the next export
    proc = _start(*TINY_ONNX, "--seed", "1", "--out", str(out))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not [p for p in tmp_path.iterdir() if p.name.startswith(".onnx.") and p.suffix != ".lock"]:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".onnx.") and p.suffix != ".lock"]
    done = subprocess.run([sys.executable, "-m", *TINY_ONNX, "--seed", "1", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert read_verified(out)["file"]["sha256"] == new
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".onnx.")]  # the lock file goes too


def test_a_killed_tflite_export_takes_onnx2tf_with_it(tmp_path):
    import psutil

    proc = _start("export.tflite", "--model", "bert-tiny", "--weights", "random", "--seq-len", "16",
                  "--out", str(tmp_path / "tflite"))
    child, deadline = None, time.monotonic() + 300
    while child is None and time.monotonic() < deadline and proc.poll() is None:
        child = next((c for c in psutil.Process(proc.pid).children(recursive=True)
                      if "onnx2tf_savedmodel" in " ".join(c.cmdline())), None)
        time.sleep(0.1)
    assert child is not None, "onnx2tf never started"
    os.kill(proc.pid, signal.SIGKILL)  # the exporter only, not its process group
    proc.wait()
    gone, alive = psutil.wait_procs([child], timeout=10)
    assert not alive, "onnx2tf outlived the exporter"
    assert not (tmp_path / "tflite").exists()


def test_sigterm_removes_the_temporary_folders(tmp_path):
    proc = _start(*TINY_ONNX, "--out", str(tmp_path / "onnx"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not [p for p in tmp_path.iterdir() if p.name.startswith(".onnx.") and p.suffix != ".lock"]:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["flipped byte", "edited sha256", "truncated", "missing file", "no file key"])
def test_a_damaged_artifact_is_refused_by_every_reader(onnx_artifacts, tmp_path, damage):
    import shutil

    out = tmp_path / "onnx"
    shutil.copytree(onnx_artifacts[0][0], out)
    manifest = json.loads((out / "manifest.json").read_text())
    model = out / manifest["file"]["name"]
    if damage == "flipped byte":
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0xFF
        model.write_bytes(bytes(data))
    elif damage == "edited sha256":
        manifest["file"]["sha256"] = "0" * 64
    elif damage == "truncated":
        model.write_bytes(model.read_bytes()[:-8])
    elif damage == "missing file":
        model.unlink()
    else:
        del manifest["file"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError) as err:
        load_artifact(out)
    assert "\n" not in str(err.value) and ("export the artifact again" in str(err.value))
    for module in (["export.verify", str(out)],
                   ["quantize", "--in", str(out), "--out", str(tmp_path / "int8")]):
        done = subprocess.run([sys.executable, "-m", *module], cwd=ROOT, capture_output=True, text=True, timeout=300)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
        assert "export the artifact again" in errors[0]
        assert damage == "no file key" or model.name in errors[0]


def test_the_benchmark_exports_a_damaged_artifact_again(onnx_artifacts, tmp_path, caplog):
    import shutil

    from android_bench.harness.artifacts import artifact_folder, ensure_artifact

    folder = artifact_folder(tmp_path, "bert-tiny", "onnx", "fp32", 16)
    shutil.copytree(onnx_artifacts[0][0], folder)
    model = folder / onnx_artifacts[0][1]["file"]["name"]
    data = bytearray(model.read_bytes())
    data[100] ^= 0x01
    model.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger="android_bench"):
        assert ensure_artifact(tmp_path, "bert-tiny", "onnx", "fp32", weights="random", seq_len=16) == folder
    assert "not reusing" in caplog.text and "sha256 differs" in caplog.text
    assert read_verified(folder)["file"]["sha256"] == onnx_artifacts[0][1]["file"]["sha256"]  # exported again


def test_quantize_refuses_out_equal_to_in(onnx_artifacts):
    folder = onnx_artifacts[0][0]
    done = subprocess.run([sys.executable, "-m", "quantize", "--in", str(folder), "--out", str(folder)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "is the --in folder" in done.stderr and "Traceback" not in done.stderr
    assert read_verified(folder)["precision"] == "fp32"


def test_out_holding_other_files_is_refused_before_any_work(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    done = subprocess.run([sys.executable, "-m", *TINY_ONNX, "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "holds other files and no manifest.json" in done.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_torn_results_line_loses_no_record(tmp_path):
    from android_bench.measurement.results import ResultLog

    log = ResultLog(tmp_path / "results.jsonl")
    log.append({"n": 1})
    with open(log.path, "a") as f:
        f.write('{"n": 2, "timing": {"mean')  # a kill mid-write
    assert log.records() == [{"n": 1}]
    log.append({"n": 3})
    assert log.records() == [{"n": 1}, {"n": 3}]
    assert log.path.read_text().count("\n") == 2


def test_every_setting_that_changes_a_measurement_is_in_its_key():
    from android_bench.measurement.results import job_key

    base = {"device": "d", "model": "m", "format": "onnx", "precision": "fp32", "threads": 1, "round": 0,
            "seq_len": 128, "weights": "random", "artifact_sha256": "a" * 64, "settings": {"runs": 30, "warmup": 5}}
    changed = [{"seq_len": 64}, {"weights": "hub"}, {"artifact_sha256": "b" * 64},
               {"settings": {"runs": 50, "warmup": 5}}, {"settings": {"runs": 30, "warmup": 1}}]
    assert len({job_key(base), *(job_key({**base, **c}) for c in changed)}) == 1 + len(changed)


def test_ctrl_c_stops_a_benchmark_within_seconds_and_keeps_a_summary(tmp_path):
    from android_bench.harness.artifacts import ensure_artifact

    artifacts = tmp_path / "artifacts"
    for model in ("squeezebert-tiny", "bert-tiny"):
        ensure_artifact(artifacts, model, "onnx", "fp32", weights="random", seq_len=32)
    out = tmp_path / "out"
    proc = _start("android_bench", "--models", "squeezebert-tiny,bert-tiny", "--baseline", "bert-tiny",
                  "--weights", "random", "--seq-len", "32", "--formats", "onnx", "--precisions", "fp32", "--threads", "1", "--rounds", "20",
                  "--runs", "30", "--device", "local", "--artifacts", str(artifacts), "--out", str(out))
    results = out / "results.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not results.is_file() or len(results.read_text().splitlines()) < 2):
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1]
    interrupted = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - interrupted < 10 and proc.returncode == 130, err
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert 2 <= len(records) < 40 and all("timing" in r for r in records)  # the cut-short job is not a failure
    summary = json.loads((out / "summary.json").read_text())
    assert sum(row["invocations"] for row in summary["latency"]) == len(records) and not summary["errors"]


def test_a_full_disk_is_one_line(tmp_path):
    from tests.conftest import tmpfs

    with tmpfs(tmp_path / "disk", "2m") as disk:
        done = subprocess.run([sys.executable, "-m", *TINY_ONNX, "--out", str(disk / "onnx")], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert done.returncode != 0 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
        assert "no space left" in errors[0]
        assert not (disk / "onnx").exists() and list(disk.iterdir()) == []


def test_a_truncated_safetensors_checkpoint_is_one_line(tmp_path):
    from tests.test_models import make_fine_tuned_squeezebert

    folder = make_fine_tuned_squeezebert(tmp_path / "glue")
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    done = subprocess.run([sys.executable, "-m", "export.onnx", "--model", str(folder), "--out", str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "truncated or damaged" in errors[0] and "save or download the checkpoint again" in errors[0]
