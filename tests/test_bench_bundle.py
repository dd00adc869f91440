"""The phone benchmark with no build (issue 41), on what an x86_64 emulator offers: a bare loopback device (nothing
but a static busybox, no libc) through Debian's real adb, no --tools. The runtime bundle is built here, pushed once,
and runs every format and precision; a second run pushes nothing; a push cut off is redone; a device without room
says so before anything is pushed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.loopback_fixtures import ADB_BINARIES, attached, running_adb_server

ROOT = Path(__file__).resolve().parents[1]
SEQ = 16
MODELS = ("bert-tiny",)  # one model keeps the default run short; the ARM tier runs both through the bundle
FORMATS = ("tflite", "onnx", "executorch", "torchscript")
PRECISIONS = ("fp32", "int8")
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_adb_server(str(ADB_BINARIES["debian"]), tmp_path_factory.mktemp("bundle-adb-home")) as adb:
        yield adb


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    from android_bench.harness.artifacts import conversion_order, ensure_artifact

    folder = tmp_path_factory.mktemp("bundle-artifacts")
    for model in MODELS:
        for fmt in FORMATS:
            for precision in conversion_order(PRECISIONS):
                ensure_artifact(folder, model, fmt, precision, weights="random", seq_len=SEQ)
    return folder


def bare_device(root: Path):
    from android_bench.devices.loopback.bare import BareLoopbackDevice

    return BareLoopbackDevice(root)


def argv(server, device, out: Path, artifacts: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "android_bench", "--models", ",".join(MODELS), "--baseline", "bert-tiny",
            "--weights", "random", "--seq-len", str(SEQ), "--device", device.serial, "-P", str(server.port),
            "--artifacts", str(artifacts), "--out", str(out), "--threads", "1", "--rounds", "1", "--runs", "5",
            "--warmup", "1", "--cooldown-cap", "0", *args]


def bench(server, device, out: Path, artifacts: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv(server, device, out, artifacts, *args), cwd=ROOT, capture_output=True, text=True,
                          timeout=1500, env=env(server))


def env(server) -> dict:
    """The adb server's environment sets HOME (its own adb keys): the cache (the runtime bundle) stays the user's."""
    from android_bench.devices.cache import ENV, cache_home

    return {**os.environ, **server.env, ENV: str(cache_home())}


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def on_device(device) -> Path:
    from android_bench.runners import bundle_dir

    return device.root / Path(bundle_dir("x86_64")).relative_to("/data/local/tmp")


def test_every_format_runs_on_a_bare_device_without_tools_and_the_bundle_is_pushed_once(server, artifacts,
                                                                                         tmp_path):
    with attached(server, bare_device(tmp_path / "device")) as device:
        done = bench(server, device, tmp_path / "first", artifacts, "--formats", ",".join(FORMATS), "--precisions",
                     ",".join(PRECISIONS))
        assert done.returncode == 0, done.stderr[-3000:]
        rs = records(tmp_path / "first")
        assert {(r["model"], r["format"], r["precision"]) for r in rs} == {
            (m, f, p) for m in MODELS for f in FORMATS for p in PRECISIONS}
        assert all("timing" in r and len(r["timing"]["samples_ms"]) == 5 for r in rs), [r.get("error") for r in rs]
        assert {r["runner"] for r in rs if r["format"] == "executorch"} == {"executorch-runner"}
        assert {r["runner"] for r in rs if r["format"] != "executorch"} == {"python"}
        assert "pushing the runtime bundle's base part" in done.stderr
        assert "pushing the runtime bundle's torch part" in done.stderr  # TorchScript (and FTZ) take torch
        markers = {p.name: p.stat().st_mtime_ns for p in on_device(device).glob("*.sha256")}
        assert sorted(markers) == ["base.sha256", "torch.sha256"] and not list(on_device(device).glob("*.tar"))
        summary = json.loads((tmp_path / "first" / "summary.json").read_text())
        assert len(summary["latency"]) == 8 and all(r["emulated"] for r in summary["latency"])  # ro.kernel.qemu=1

        again = bench(server, device, tmp_path / "second", artifacts, "--formats", "onnx,torchscript",
                      "--precisions", "fp32")
        assert again.returncode == 0, again.stderr[-3000:]
        assert "is on the device already" in again.stderr and "pushing the runtime bundle" not in again.stderr
        assert {p.name: p.stat().st_mtime_ns for p in on_device(device).glob("*.sha256")} == markers

        gone = bench(server, device, tmp_path / "third", artifacts, "--formats", "onnx", "--precisions", "fp32",
                     "--remove-bundle")
        assert gone.returncode == 0, gone.stderr[-3000:]
        assert not on_device(device).exists()


def test_a_push_cut_off_is_redone_not_used(server, artifacts, tmp_path):
    with attached(server, bare_device(tmp_path / "device")) as device:
        # --denormals keep: the base part alone (flushing takes torch)
        keep = ("--formats", "onnx", "--precisions", "fp32", "--denormals", "keep")
        run = subprocess.Popen(argv(server, device, tmp_path / "killed", artifacts, *keep),
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=env(server), start_new_session=True)
        tar = on_device(device) / "base.tar"
        deadline = time.monotonic() + 600
        while not (tar.is_file() and tar.stat().st_size > (1 << 20)) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        assert tar.is_file(), "the push never started"
        assert not (on_device(device) / "base.sha256").exists()  # no marker: the device has no usable bundle
        done = bench(server, device, tmp_path / "again", artifacts, *keep)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "pushing the runtime bundle's base part" in done.stderr and "torch part" not in done.stderr
        assert (on_device(device) / "base.sha256").is_file() and not tar.exists()


def test_too_little_room_on_the_device_is_one_line_before_anything_is_pushed(server, artifacts, tmp_path):
    from tests.conftest import tmpfs

    with tmpfs(tmp_path / "small", "48m") as small, attached(server, bare_device(small / "device")) as device:
        done = bench(server, device, tmp_path / "out", artifacts, "--formats", "onnx", "--precisions", "fp32")
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and lines[-1].startswith("error: ") and "Traceback" not in done.stderr
        assert "MB free in /data/local/tmp" in lines[-1] and "needs" in lines[-1], lines[-1]
        assert not on_device(device).exists()  # nothing pushed
