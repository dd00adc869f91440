"""Artifact folders under attack and contention, with the real processes: a manifest naming files outside its
folder, two writers on one --out, a reader racing an overwrite, files no artifact wrote, a full disk."""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from export.runtimes import ArtifactError, load_artifact, read_manifest, read_verified

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model", "bert-tiny", "--weights", "random", "--seq-len", "16"]
OUTSIDE = Path("/etc/hostname")  # a real file outside any artifact folder


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _one_error(done: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a failed CLI run (exit 2, no traceback)."""
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    return errors[0]


def _beside(folder: Path) -> list[str]:
    """What is left beside an artifact folder (its lock file is removed with the lock: folder_lock)."""
    return sorted(p.name for p in folder.parent.iterdir())


@pytest.fixture(scope="module")
def onnx_seeds(tmp_path_factory):
    """The tiny ONNX artifact with seed 0 and seed 1: {seed: folder}."""
    import export
    import models

    made = {}
    for seed in (0, 1):
        loaded = models.load("bert-tiny", weights="random", seed=seed)
        out = tmp_path_factory.mktemp(f"seed{seed}") / "onnx"
        export.export(export.get_format("onnx"), loaded, seq_len=16, out=out)
        made[seed] = out
    return made


def _list_outside(folder: Path, name: str, key: str = "extra_files") -> None:
    """Make the manifest list `name` with the true size and sha256 of the outside file (the worst case)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    data = OUTSIDE.read_bytes()
    record = {"name": name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if key == "file":
        manifest["file"] = record
    else:
        manifest[key] = [*manifest.get(key, []), record]
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name,key", [("../../../../etc/hostname", "extra_files"), (str(OUTSIDE), "file"),
                                      ("..", "assets"), ("sub/x.onnx", "extra_files"), ("a\\b", "assets"),
                                      ("x\0y", "extra_files"), ("link", "assets")])
def test_a_manifest_naming_a_file_outside_its_folder_is_refused_before_it_is_read(onnx_seeds, tmp_path, name, key):
    folder = tmp_path / "onnx"
    shutil.copytree(onnx_seeds[0], folder)
    if name == "link":  # a symlink inside the folder that leads out of it
        (folder / "link").symlink_to(OUTSIDE)
    _list_outside(folder, name, key)
    for reader in (read_manifest, read_verified, load_artifact):
        with pytest.raises(ArtifactError) as err:
            reader(folder)
        message = str(err.value)
        assert "\n" not in message and "not a file name inside the artifact folder" in message
        assert f"{OUTSIDE.stat().st_size} bytes" not in message and OUTSIDE.read_text().strip() not in message


def test_no_reader_hashes_copies_or_pushes_an_outside_file(onnx_seeds, tmp_path):
    from android_bench.devices.local import LocalDevice
    from android_bench.harness.protocol import _push_artifact

    folder = tmp_path / "onnx"
    shutil.copytree(onnx_seeds[0], folder)
    _list_outside(folder, "../../../../etc/hostname")
    for module in (["export.verify", str(folder)], ["quantize", "--in", str(folder), "--out", str(tmp_path / "q")]):
        assert "not a file name inside the artifact folder" in _one_error(_run(*module))
    assert not (tmp_path / "q").exists()
    device = LocalDevice(tmp_path / "device")
    with pytest.raises(ArtifactError):
        _push_artifact(device, folder, device.remote_dir("run"))
    assert list((tmp_path / "device").iterdir()) == []  # nothing pushed, not even the manifest


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def test_two_exports_on_one_out_exactly_one_proceeds(tmp_path):
    """The first export holds --out's lock (paused while holding it, so the two surely overlap); the second is
    refused at once naming it, and the folder then holds the first one's artifact."""
    from export._files import lock_path

    out = tmp_path / "onnx"
    first = _start("export.onnx", *TINY, "--seed", "1", "--out", str(out))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and f"pid {first.pid}" not in (
            lock_path(out).read_text() if lock_path(out).exists() else ""):
        time.sleep(0.02)
    os.killpg(first.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        second = _run("export.onnx", *TINY, "--seed", "2", "--out", str(out), timeout=120)
        assert f"is being written by pid {first.pid}" in _one_error(second)
        assert time.monotonic() - started < 30 and "wrote" not in second.stderr  # at once, before the model loads
    finally:
        os.killpg(first.pid, signal.SIGCONT)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert read_verified(out)["model"]["weights"]["seed"] == 1


def test_quantize_refuses_an_out_another_process_writes(onnx_seeds, tmp_path):
    from export._files import folder_lock

    with folder_lock(tmp_path / "int8"):  # this test process is the other writer
        line = _one_error(_run("quantize", "--in", str(onnx_seeds[0]), "--out", str(tmp_path / "int8"), timeout=120))
    assert f"is being written by pid {os.getpid()}" in line
    assert not (tmp_path / "int8").exists()


def test_verify_racing_repeated_overwrites_never_reports_a_mix(onnx_seeds, tmp_path):
    """A writer commits seed 0 and seed 1 in turn, the way an export does (a staged folder swapped in at once);
    verify, meanwhile, re-measures against eager of the seed its manifest names: a manifest of one with the
    file of the other would be far off. Every run is within tolerance or says the folder kept being replaced."""
    from export._files import swap_in
    from export.verify import verify

    out = tmp_path / "onnx"
    shutil.copytree(onnx_seeds[0], out)
    stop, swaps = threading.Event(), [0]

    def overwrite():
        rng = random.Random(0)
        while not stop.is_set():
            stage = tmp_path / f".onnx.export-{swaps[0]}"
            shutil.copytree(onnx_seeds[(swaps[0] + 1) % 2], stage)
            swap_in(stage, out)
            swaps[0] += 1
            time.sleep(rng.uniform(0.02, 0.4))  # exports commit seconds apart; this is harsher

    writer = threading.Thread(target=overwrite)
    writer.start()
    outcomes, deadline = [], time.monotonic() + 300
    try:  # at least 25 reads across at least 25 swaps (how many fit in a read depends on the machine's speed)
        while (len(outcomes) < 25 or swaps[0] <= 25) and time.monotonic() < deadline:
            try:
                diffs = verify(out)
                outcomes.append("ok" if max(diffs.values()) < 1e-4 else f"mix {diffs}")
            except ArtifactError as exc:
                assert "replaced by another export" in str(exc), exc
                outcomes.append("replaced")
    finally:
        stop.set()
        writer.join()
    assert swaps[0] > 25 and not [o for o in outcomes if o.startswith("mix")], outcomes
    assert outcomes.count("ok") >= 5, outcomes  # and it does read a folder that keeps changing


def test_out_holding_files_no_artifact_wrote_is_refused_unless_force(onnx_seeds, tmp_path):
    out = tmp_path / "onnx"
    shutil.copytree(onnx_seeds[0], out)
    (out / "NOTES.txt").write_text("mine")
    shutil.copytree(onnx_seeds[1], out / "nested")  # another artifact folder inside
    before = read_verified(out)
    line = _one_error(_run("export.onnx", *TINY, "--seed", "1", "--out", str(out)))
    assert "NOTES.txt and 1 more" in line and "--force" in line
    line = _one_error(_run("quantize", "--in", str(onnx_seeds[0]), "--out", str(out)))
    assert "NOTES.txt" in line and "--force" in line
    assert (out / "NOTES.txt").read_text() == "mine" and read_verified(out / "nested")
    assert read_verified(out) == before
    done = _run("export.onnx", *TINY, "--seed", "1", "--force", "--out", str(out))
    assert done.returncode == 0, done.stderr
    manifest = read_verified(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(["manifest.json", manifest["file"]["name"]])
    assert "force" not in manifest["options"]  # not a format option: nothing re-derives it


@pytest.fixture
def small_disk(tmp_path):
    from tests.conftest import tmpfs

    with tmpfs(tmp_path / "disk", "2m") as disk:
        yield disk


def test_torchscript_export_and_quantize_to_a_full_disk_are_one_line(tmp_path, small_disk):
    """torch's file writers abort the process on a full disk (exit 134, a C++ backtrace)."""
    done = _run("export.torchscript", *TINY, "--out", str(tmp_path / "ts"))
    assert done.returncode == 0, done.stderr
    for args in (["export.torchscript", *TINY, "--out", str(small_disk / "ts")],
                 ["quantize", "--in", str(tmp_path / "ts"), "--out", str(small_disk / "int8")]):
        line = _one_error(_run(*args))
        assert "no space left on the disk" in line
        assert _beside(small_disk / "ts") == []  # no partial artifact, temp file or lock file


def test_a_failed_atomic_write_leaves_no_temp_file(small_disk):
    from export._files import write_text_atomic
    from models.errors import UserError

    with open(small_disk / "filler", "wb") as f:  # fill the disk
        with pytest.raises(OSError):
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
    with pytest.raises(UserError) as err:
        write_text_atomic(small_disk / "manifest.json", "x" * (1 << 16))
    assert "no space left" in str(err.value)
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]
