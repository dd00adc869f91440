"""The real harness on the arm64 device through real adb: `--runner python` with the aarch64 LiteRT and ONNX
Runtime, `--runner native` with the cross-built ExecuTorch runner (on the bare, libc-less variant), both tiny
models. The timings are emulated and every report says so."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from android_bench.devices.arm64.rootfs import guest_python
from tests.arm64_fixtures import SEQ_LEN

pytestmark = [pytest.mark.arm64, pytest.mark.timeout(1800)]
ROOT = Path(__file__).resolve().parents[1]


def bench(server, device, out: Path, artifacts: Path, *args) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "android_bench", "--models", "squeezebert-tiny,bert-tiny", "--baseline", "bert-tiny",
           "--weights", "random", "--seq-len", str(SEQ_LEN), "--device", device.serial, "-P", str(server.port),
           "--artifacts", str(artifacts), "--out", str(out), "--threads", "1", "--rounds", "1", "--runs", "5",
           "--warmup", "1", "--cooldown-cap", "0", "--precisions", "fp32,int8", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1500, env=env(server))


def env(server) -> dict:
    """The adb server's environment sets HOME (its own adb keys): the cache (the arm64 root, the runtime bundle)
    stays the user's."""
    from android_bench.devices.cache import ENV, cache_home

    return {**os.environ, **server.env, ENV: str(cache_home())}


def check_reports(out: Path, done, device, runners: set[str]) -> list[dict]:
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["runner"] for r in records} == runners and all("timing" in r for r in records)
    assert {r["model"] for r in records} == {"squeezebert-tiny", "bert-tiny"}
    facts = records[0]["device_facts"]
    assert facts["abi"] == "arm64-v8a" and facts["emulated"].startswith("qemu-user, QEMU_CPU=cortex-a76")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["emulated"] == {device.props["ro.serialno"]: facts["emulated"]}
    assert all(row["emulated"] for row in summary["latency"])
    assert summary["ratios"] and all(r["verdict"].startswith("EMULATED (qemu-user") for r in summary["ratios"])
    assert all(row["emulated"] for row in csv.DictReader((out / "summary.csv").open()))
    assert (out / "latency.png").stat().st_size > 0
    assert "not phone speed" in done.stdout
    return records


def test_python_runner_with_the_aarch64_runtimes(make_arm64_device, arm64_adb_server, arm64_artifacts, tmp_path):
    artifacts, _ = arm64_artifacts
    device = make_arm64_device(profile="a76")
    # --denormals keep: flushing needs torch on the device, and there is no CPU torch for this runner to use
    done = bench(arm64_adb_server, device, tmp_path, artifacts, "--formats", "tflite,onnx", "--runner", "python",
                 "--device-python", guest_python(), "--denormals", "keep")
    records = check_reports(tmp_path, done, device, {"python"})
    assert {(r["format"], r["precision"]) for r in records} == {(f, p) for f in ("tflite", "onnx")
                                                                 for p in ("fp32", "int8")}
    assert {r["timing"]["extra"]["runtime"] for r in records} == {"litert", "onnxruntime"}


def test_native_runner_on_a_device_without_libc(make_arm64_device, arm64_adb_server, arm64_artifacts, arm64_tools,
                                                tmp_path):
    artifacts, _ = arm64_artifacts
    device = make_arm64_device(profile="a76", bare=True)
    done = bench(arm64_adb_server, device, tmp_path, artifacts, "--formats", "executorch", "--runner", "native",
                 "--tools", str(arm64_tools), "--keep-device-files")
    records = check_reports(tmp_path, done, device, {"executorch-runner"})
    assert all(len(r["timing"]["samples_ms"]) == 5 for r in records)
    assert (device.root / records[0]["run_id"] / "tools" / "ld-linux-aarch64.so.1").is_file()


def test_no_build_benchmark_on_a_bare_arm64_device(make_arm64_device, arm64_adb_server, arm64_artifacts, tmp_path):
    """A phone with only USB debugging: no --tools, no Python on the device, no libc; the runtime bundle (the aarch64
    builds that `android_bench.arm64 count` counts) is pushed once and times all four formats."""
    from android_bench.runners import bundle_dir

    artifacts, _ = arm64_artifacts
    device = make_arm64_device(profile="a76", bare=True)
    done = bench(arm64_adb_server, device, tmp_path / "first", artifacts, "--formats",
                 "tflite,onnx,executorch,torchscript")
    records = check_reports(tmp_path / "first", done, device, {"python", "executorch-runner"})
    assert {(r["format"], r["precision"]) for r in records} == {
        (f, p) for f in ("tflite", "onnx", "executorch", "torchscript") for p in ("fp32", "int8")}
    assert {r["timing"]["extra"]["runtime"] for r in records if r["runner"] == "python"} == {
        "litert", "onnxruntime", "torch.jit"}
    on_device = device.root / bundle_dir("arm64-v8a").removeprefix("/data/local/tmp/")
    markers = {p.name: p.stat().st_mtime_ns for p in on_device.glob("*.sha256")}
    assert sorted(markers) == ["base.sha256", "torch.sha256"]
    again = bench(arm64_adb_server, device, tmp_path / "second", artifacts, "--formats", "onnx",
                  "--precisions", "fp32", "--models", "bert-tiny")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "is on the device already" in again.stderr and "pushing the runtime bundle" not in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in on_device.glob("*.sha256")} == markers
