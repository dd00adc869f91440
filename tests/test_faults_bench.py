"""Fault tests of the benchmark harness (issue 30): a hostile model name, two writers on one --out, a full disk,
a lost device that comes back under another serial. Real processes, the real adb server and the loopback device."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEQ = "16"


def one_line_error(stderr: str) -> str:
    """The failure's `error:` line: the last one, with no traceback anywhere (a thread's included)."""
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in stderr, stderr
    return lines[-1]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A real checkpoint folder whose name is a shell command that creates `planted` if a shell ever runs it."""
    import models

    base = tmp_path_factory.mktemp("hostile")
    planted = base / "planted"
    b64 = base64.b64encode(str(planted).encode()).decode()
    folder = base / f"m;touch${{IFS}}$(echo${{IFS}}{b64}|base64${{IFS}}-d);x"
    loaded = models.load("bert-tiny", weights="random")
    loaded.hf_model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return folder, planted


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, hostile):
    from android_bench.harness.artifacts import ensure_artifact

    folder = tmp_path_factory.mktemp("fault-artifacts")
    for model in (str(hostile[0]), "squeezebert-tiny", "bert-tiny"):
        ensure_artifact(folder, model, "onnx", "fp32", weights="random", seq_len=int(SEQ))
    return folder


def bench_argv(out: Path, artifacts: Path, models: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "android_bench", "--models", models, "--baseline", "bert-tiny", "--weights",
            "random", "--seq-len", SEQ, "--formats", "onnx", "--precisions", "fp32", "--threads", "1", "--rounds", "1", "--runs", "30",
            "--cooldown-cap", "0", "--artifacts", str(artifacts), "--out", str(out), *args]


def bench(out: Path, artifacts: Path, models: str, *args: str, env: dict | None = None):
    return subprocess.run(bench_argv(out, artifacts, models, *args), cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})})


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def adb_args(adb_server, device) -> list[str]:
    return ["--device", device.serial, "-P", str(adb_server.port), "--runner", "python", "--device-python",
            sys.executable]


# --- 1. no shell runs a name ---------------------------------------------------------------------------------------

def test_remote_names_are_safe_and_distinct(hostile):
    from android_bench.harness.protocol import remote_name

    assert remote_name("bert-tiny") == "bert-tiny"  # a registered name stays readable on the device
    names = [str(hostile[0]), "org/model", "org_model", "/a/b c", "/x/b c", "../..", "-rf", "a" * 300]
    made = [remote_name(n) for n in names]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", m) for m in made), made
    assert len(set(made)) == len(made)


def test_hostile_folder_name_on_the_local_device(tmp_path, hostile, artifacts):
    folder, planted = hostile
    done = bench(tmp_path / "out", artifacts, f"{folder},bert-tiny", "--device", "local")
    assert done.returncode == 0, done.stderr
    assert not planted.exists()
    rs = records(tmp_path / "out")
    assert [r["model"] for r in rs] == [str(folder), "bert-tiny"] and all(len(r["timing"]["samples_ms"]) == 30
                                                                          for r in rs)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [r["model"] for r in summary["ratios"]] == [str(folder)] and summary["ratios"][0]["ratio"] > 0


def test_hostile_folder_name_over_adb(adb_server, loopback_device, tmp_path, hostile, artifacts):
    folder, planted = hostile
    done = bench(tmp_path / "out", artifacts, f"{folder},bert-tiny", *adb_args(adb_server, loopback_device),
                 "--keep-device-files", env=adb_server.env)
    assert done.returncode == 0, done.stderr
    assert not planted.exists()
    rs = records(tmp_path / "out")
    assert [r["model"] for r in rs] == [str(folder), "bert-tiny"] and all("timing" in r for r in rs)
    pushed = sorted(p.name for p in (loopback_device.root / rs[0]["run_id"] / "models").iterdir())
    assert len(pushed) == 2 and all(re.fullmatch(r"[A-Za-z0-9._-]+", name) for name in pushed), pushed


def test_a_run_id_from_results_never_names_a_device_folder(tmp_path, artifacts):
    out = tmp_path / "out"
    out.mkdir()
    planted = tmp_path / "planted"
    (out / "results.jsonl").write_text(json.dumps({"run_id": f"x;touch {planted}", "model": "bert-tiny"}) + "\n")
    done = bench(out, artifacts, "bert-tiny", "--device", "local", "--resume")
    assert done.returncode == 2 and "is not one this harness writes" in one_line_error(done.stderr)
    assert not planted.exists() and not (out / "local-device").exists()


# --- 2. one writer per --out ----------------------------------------------------------------------------------------

def test_two_runs_on_one_out_exactly_one_proceeds(tmp_path, artifacts):
    out = tmp_path / "out"
    first = subprocess.Popen(bench_argv(out, artifacts, "bert-tiny", "--device", "local", "--resume", "--rounds", "3"),
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".out.lock"
    deadline = time.monotonic() + 120
    while f"pid {first.pid} " not in (lock.read_text() if lock.is_file() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    second = bench(out, artifacts, "bert-tiny", "--device", "local", "--resume", "--rounds", "3")
    assert first.poll() is None, "the first run should still hold --out"
    assert second.returncode == 2 and f"is being written by pid {first.pid} " in one_line_error(second.stderr)
    assert first.wait(timeout=600) == 0, first.stderr.read()
    assert sorted(r["round"] for r in records(out)) == [0, 1, 2]  # every job once


@pytest.mark.parametrize("command, args", [
    ("android_bench.studies.efficiency", ["--models", "bert-tiny"]),
    ("android_bench.studies.precision", ["--models", "bert-tiny"]),
    ("android_bench.studies.op_profile", ["--models", "bert-tiny"]),
])
def test_desktop_benchmarks_refuse_a_busy_out(tmp_path, command, args):
    """This process holds the lock, as a running benchmark would: the command refuses before any work."""
    from export._files import folder_lock

    out = tmp_path / "out"
    with folder_lock(out):
        done = subprocess.run([sys.executable, "-m", command, *args, "--weights", "random", "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and f"is being written by pid {os.getpid()} " in one_line_error(done.stderr)
    assert not out.exists()


# --- 3. a full disk -------------------------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    from tests.conftest import tmpfs

    with tmpfs(tmp_path / "disk", "64m") as disk:
        yield disk


def test_full_disk_mid_run_is_one_line_and_keeps_the_measurements(small_disk, artifacts, hostile):
    out = small_disk / "out"
    run = subprocess.Popen(bench_argv(out, artifacts, "squeezebert-tiny,bert-tiny", "--device", "local"),
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 300
    while not (results.is_file() and results.read_text().count("\n")) and time.monotonic() < deadline:
        time.sleep(0.02)
    first = results.read_text().splitlines()[0]
    with open(small_disk / "filler", "wb") as filler:  # the disk fills up before the second model is measured
        try:
            while True:
                filler.write(b"\0" * (1 << 20))
                filler.flush()
        except OSError:
            pass
    _, stderr = run.communicate(timeout=600)
    assert run.returncode != 0
    line = one_line_error(stderr)
    assert "ENOSPC" in line and "free some space" in line and "--resume" in line and "Exception in thread" not in stderr
    assert results.read_text().splitlines()[0] == first and "timing" in json.loads(first)  # what was measured is kept
    left = [p.name for p in out.rglob("*") if ".tmp-" in p.name]
    assert not left, left


# --- 4. a lost device -----------------------------------------------------------------------------------------------

def test_lost_device_is_one_short_line_and_resumes_under_a_new_serial(adb_server, make_loopback_device, tmp_path,
                                                                     artifacts):
    props = {"ro.serialno": "8ABX0Y1Z"}  # the phone's serial number: the same under any adb serial
    device = make_loopback_device(props=props, drop_on_command="/bert-tiny-onnx-fp32/")
    assert adb_server.wait_for_state(device.serial, {"device"}) == "device"
    out = tmp_path / "out"
    done = bench(out, artifacts, "squeezebert-tiny,bert-tiny", *adb_args(adb_server, device), env=adb_server.env)
    line = one_line_error(done.stderr)
    assert done.returncode == 2 and line.count(device.serial) == 1 and "8ABX0Y1Z" not in line
    assert "lost during the python run" in line and "reconnect it and rerun with --resume" in line
    assert "('" not in line and len(line) < 250 + len(str(out)), line
    before = records(out)
    assert [("timing" in r, r["device"], r["serial"]) for r in before] == [(True, "8ABX0Y1Z", device.serial),
                                                                           (False, "8ABX0Y1Z", device.serial)]

    again = make_loopback_device(props=props)  # reconnected: a new port, so a new adb serial
    assert adb_server.wait_for_state(again.serial, {"device"}) == "device" and again.serial != device.serial
    done = bench(out, artifacts, "squeezebert-tiny,bert-tiny", "--resume", *adb_args(adb_server, again),
                 env=adb_server.env)
    assert done.returncode == 0, done.stderr
    after = records(out)
    assert after[:2] == before and len(after) == 3  # only the job the loss cut short is measured again
    assert (after[2]["model"], after[2]["device"], after[2]["serial"]) == ("bert-tiny", "8ABX0Y1Z", again.serial)
    summary = json.loads((out / "summary.json").read_text())
    assert [(r["device"], r["model"]) for r in summary["ratios"]] == [("8ABX0Y1Z", "squeezebert-tiny")]


def test_two_devices_sharing_a_serial_number_keep_their_adb_serials(adb_server, make_loopback_device):
    """Emulators of one release report one ro.serialno: their results must not be mixed."""
    from android_bench.devices import identify
    from android_bench.devices.adb import AdbDevice

    made = [make_loopback_device(props={"ro.serialno": "EMULATOR34X1X0X0"}) for _ in range(2)]
    made.append(make_loopback_device(props={"ro.serialno": "8ABX0Y1Z"}))
    for device in made:
        assert adb_server.wait_for_state(device.serial, {"device"}) == "device"
    devices = [AdbDevice(d.serial, port=adb_server.port) for d in made]
    identify(devices)
    assert [d.id for d in devices] == [made[0].serial, made[1].serial, "8ABX0Y1Z"]


def test_an_artifact_of_a_model_folder_is_reused_not_exported_again(artifacts, hostile):
    """The manifest records a folder model by its absolute path (`ref`): a later run finds it and reuses it."""
    from android_bench.harness.artifacts import artifact_folder, ensure_artifact

    made = artifact_folder(artifacts, str(hostile[0]), "onnx", "fp32", int(SEQ))
    before = (made / "manifest.json").stat().st_ino
    assert ensure_artifact(artifacts, str(hostile[0]), "onnx", "fp32", weights="random", seq_len=int(SEQ)) == made
    assert (made / "manifest.json").stat().st_ino == before, "exported again instead of reused"
