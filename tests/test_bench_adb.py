"""android_bench over the REAL adb server against the loopback device (android_bench/devices/loopback), faults included.

Every test runs once with Debian's adb and once with the adb inside the adbutils wheel (the `adb_binary`
fixture). The device runs commands on this machine under bubblewrap, /data/local/tmp mapped to a folder.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import vouch_for

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--models", "squeezebert-tiny,bert-tiny", "--baseline", "bert-tiny", "--weights", "random", "--seq-len", "48"]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("adb-artifacts")
    from android_bench.harness.artifacts import ensure_artifact

    for model in ("squeezebert-tiny", "bert-tiny"):
        for fmt in ("onnx", "executorch"):
            ensure_artifact(folder, model, fmt, "fp32", weights="random", seq_len=48)
    return folder


def bench(adb_server, device, out: Path, artifacts: Path, *args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "android_bench", *TINY, "--device", device.serial, "-P", str(adb_server.port),
           "--artifacts", str(artifacts), "--out", str(out), "--runner", "python", "--device-python", sys.executable,
           "--formats", "onnx", "--precisions", "fp32", "--threads", "1", "--rounds", "1", "--runs", "30", "--cooldown-cap", "0", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **adb_server.env})


def one_line_error(stderr: str) -> bool:
    """The failure is one `error:` line, the last one, and no traceback (progress and library chatter may precede)."""
    lines = stderr.strip().splitlines()
    return bool(lines) and lines[-1].startswith("error: ") and "Traceback" not in stderr


def records(out: Path) -> list[dict]:
    return [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]


def test_whole_flow_over_adb(adb_server, loopback_device, tmp_path, artifacts):
    # two lengths on the device from the one artifact per model made at the longest (the fixture's, at 48)
    done = bench(adb_server, loopback_device, tmp_path, artifacts, "--seq-len", "24,48", "--keep-device-files")
    assert done.returncode == 0, done.stderr
    rs = records(tmp_path)
    assert [(r["seq_len"], r["model"]) for r in rs] == [(n, m) for n in (24, 48)
                                                        for m in ("squeezebert-tiny", "bert-tiny")]
    facts = rs[0]["device_facts"]
    assert facts["model"] == "Pixel 3" and facts["android_version"] == "12" and facts["abi"] == "x86_64"
    serialno = loopback_device.props["ro.serialno"]  # results are keyed on it, the adb serial recorded beside it
    assert all(r["device"] == serialno and r["serial"] == loopback_device.serial and len(r["timing"]["samples_ms"]) == 30
               for r in rs)
    assert all(r["timing"]["extra"]["inputs"]["real_tokens"] == r["seq_len"] for r in rs)  # fed at that length
    run_dir = loopback_device.root / rs[0]["run_id"]  # what was pushed to /data/local/tmp/<run-id>/
    pushed = run_dir / "models" / "bert-tiny-onnx-fp32"
    assert (pushed / "manifest.json").is_file() and (pushed / "inputs-24.npz").is_file()
    assert (run_dir / "py" / "pyrunner.py").is_file() and (run_dir / "result.json").is_file()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {(r["device"], r["seq_len"]) for r in summary["ratios"]} == {(serialno, n) for n in (24, 48)}
    assert len(summary["at_length_distribution"]["results"]) == 2
    assert (tmp_path / "latency_by_length.png").is_file()
    assert "bert-tiny / squeezebert-tiny" in done.stdout


def test_device_lost_mid_run_keeps_what_was_measured(adb_server, loopback_device, tmp_path, artifacts):
    loopback_device.drop_on_command = "/bert-tiny-onnx-fp32 "  # the second model's run: the first is measured
    done = bench(adb_server, loopback_device, tmp_path, artifacts)
    assert done.returncode == 2 and one_line_error(done.stderr), done.stderr
    assert "lost" in done.stderr and "--resume" in done.stderr
    rs = records(tmp_path)
    assert rs[0]["model"] == "squeezebert-tiny" and "timing" in rs[0]
    assert rs[1]["model"] == "bert-tiny" and "lost" in rs[1]["error"]


def test_push_failure_is_one_line(adb_server, loopback_device, tmp_path, artifacts):
    loopback_device.fail_push = True
    done = bench(adb_server, loopback_device, tmp_path, artifacts)
    assert done.returncode == 2 and one_line_error(done.stderr), done.stderr
    assert "push of" in done.stderr and "failed" in done.stderr


def test_runner_exiting_non_zero_is_recorded_and_the_run_goes_on(adb_server, loopback_device, tmp_path,
                                                                 artifacts):
    broken = tmp_path / "artifacts"
    shutil.copytree(artifacts, broken)
    model_file = next((broken / "bert-tiny" / "onnx-fp32-seq48").glob("*.onnx"))
    model_file.write_bytes(b"not an onnx file")
    vouch_for(model_file)  # else the harness would export it again: the runner must fail
    done = bench(adb_server, loopback_device, tmp_path / "out", broken)
    assert done.returncode == 2 and "1 job(s) failed" in done.stderr and "exited 1" in done.stderr
    rs = records(tmp_path / "out")
    assert "timing" in rs[0] and rs[0]["model"] == "squeezebert-tiny"
    assert "error" in rs[1] and "cannot be loaded" in rs[1]["error"]


@pytest.mark.parametrize("fault, state, hint", [
    ({"auth_required": True}, "unauthorized", "accept the USB debugging prompt"),
    ({"silent": True}, "offline", "reconnect it"),
])
def test_unusable_device_is_one_line(adb_server, make_loopback_device, tmp_path, artifacts, fault, state, hint):
    device = make_loopback_device(**fault)
    done = bench(adb_server, device, tmp_path, artifacts)
    assert done.returncode == 2 and one_line_error(done.stderr), done.stderr
    assert f"is {state}" in done.stderr and hint in done.stderr


def test_unknown_serial_lists_the_attached(adb_server, loopback_device, tmp_path, artifacts):
    class Nowhere:
        serial = "127.0.0.1:1"
    done = bench(adb_server, Nowhere, tmp_path, artifacts)
    assert done.returncode == 2 and "not attached" in done.stderr and loopback_device.serial in done.stderr


def test_native_executorch_runner_on_the_device(adb_server, loopback_device, tmp_path, artifacts):
    """The native-binary path for real: et_bench_runner and its libraries pushed over adb with a .pte, run in
    /data/local/tmp on the device, its executor_runner output pulled back and parsed."""
    from android_bench.runners.native import build

    tools = tmp_path / "tools"
    try:
        build.build_runner(tools)
    except build.BuildError as exc:
        pytest.skip(str(exc))
    done = bench(adb_server, loopback_device, tmp_path / "out", artifacts, "--formats", "executorch",
                 "--runner", "native", "--tools", str(tools), "--keep-device-files")
    assert done.returncode == 0, done.stderr
    rs = records(tmp_path / "out")
    assert [r["runner"] for r in rs] == ["executorch-runner"] * 2
    assert all(len(r["timing"]["samples_ms"]) == 30 for r in rs)
    assert (loopback_device.root / rs[0]["run_id"] / "tools" / "et_bench_runner").is_file()
