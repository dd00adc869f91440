"""Faults of issue 40 (reliability round 4) in export's --out, with the real processes where a user meets them:
a symlinked, dangling, read-only, over-long or overlapping --out, --seq-len 0, a lock on a read-only folder."""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import models
from export.runtimes import read_verified
from models.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model", "bert-tiny", "--weights", "random", "--seq-len", "16"]
STARTED = "converting"  # the first stage line of an export: absent when it was refused before any work


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=env)


def _one_error(done: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a failed CLI run (exit 2, no traceback, no work started)."""
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert STARTED not in done.stderr, done.stderr
    return errors[0]


@contextlib.contextmanager
def read_only_mount(folder: Path):
    """`folder` as a read-only filesystem (a tmpfs remounted ro: root writes through chmod, not through this);
    skipped where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()[:80]}); needs root")
    try:
        (folder / "inside").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)



@pytest.fixture(scope="module")
def onnx_seed0(tmp_path_factory):
    """The tiny ONNX artifact of seed 0."""
    import export

    out = tmp_path_factory.mktemp("seed0") / "onnx"
    export.export(export.get_format("onnx"), models.load("bert-tiny", weights="random"), seq_len=16, out=out)
    return out


# 1. a symlinked --out


def test_a_symlinked_out_is_followed_and_the_link_stays(onnx_seed0, tmp_path):
    """On main: rc 1 ("Cannot call rmtree on a symbolic link"), the artifact in a new real folder at the link's path
    and the link renamed beside it."""
    real = tmp_path / "real"
    shutil.copytree(onnx_seed0, real)
    (tmp_path / "link").symlink_to("real")
    done = _run("export.onnx", *TINY, "--seed", "1", "--out", str(tmp_path / "link"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "link").is_symlink() and os.readlink(tmp_path / "link") == "real"
    assert read_verified(real)["model"]["weights"]["seed"] == 1 and read_verified(tmp_path / "link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]  # no scratch folder, old link or lock


def test_a_dangling_link_or_a_read_only_out_is_one_line_before_any_work(tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    line = _one_error(_run("export.onnx", *TINY, "--out", str(tmp_path / "link")))
    assert str(tmp_path / "link") in line and str(tmp_path / "gone") in line and "create it" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link"]
    with read_only_mount(tmp_path / "ro") as ro:
        for out in (ro / "onnx", ro / "inside"):
            line = _one_error(_run("export.onnx", *TINY, "--out", str(out)))
            assert str(ro) in line and "choose a writable folder" in line, line


# 2. --seq-len 0


@pytest.mark.parametrize("value", ["0", "-3", "1"])
def test_a_seq_len_below_two_is_refused_in_one_line(tmp_path, value):
    """On main --seq-len 0 exported at the default 128."""
    done = _run("export.onnx", "--model", "bert-tiny", "--weights", "random", "--seq-len", value,
                "--out", str(tmp_path / "o"))
    assert done.returncode == 2 and "--seq-len: must be at least 2" in done.stderr, done.stderr
    assert not (tmp_path / "o").exists()


def test_the_library_refuses_seq_len_zero(tmp_path):
    import export

    loaded = models.load("bert-tiny", weights="random")
    with pytest.raises(UserError, match="--seq-len 0 is outside 2..512"):
        export.export(export.get_format("onnx"), loaded, seq_len=0, out=tmp_path / "o")
    assert list(tmp_path.iterdir()) == []


# 3. --out and the model's own folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from tests.test_models import make_fine_tuned_squeezebert

    return make_fine_tuned_squeezebert(tmp_path_factory.mktemp("ckpt") / "glue")


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.parametrize("args, where", [
    (["export.onnx", "--model", "{ckpt}", "--out", "{ckpt}", "--force"], "is the model folder"),
    (["export.onnx", "--model", "{ckpt}", "--out", "{ckpt}/onnx"], "is inside the model folder"),
    (["export.onnx", "--model", "bert-tiny", "--weights", "{ckpt}", "--out", "{ckpt}/onnx"],
     "is inside the weights folder"),
    (["export.onnx", "--model", "{ckpt}", "--out", "{ckpt}/..", "--force"], "holds the model folder"),
    (["export", "--formats", "onnx", "--model", "{ckpt}", "--out", "{ckpt}"], "is inside the model folder"),
    (["export", "--formats", "onnx", "--model", "{ckpt}", "--out", "{ckpt}/..", "--force"], None),
])
def test_out_overlapping_the_model_folder_is_refused_before_any_work(checkpoint, args, where):
    """On main `--model ./ckpt --out ./ckpt --force` replaced the checkpoint with the artifact."""
    before = _snapshot(checkpoint)
    args = [a.format(ckpt=checkpoint) for a in args]
    done = _run(*args, "--seq-len", "16")
    if where is None:  # python -m export writes <out>/onnx: beside the checkpoint, not over it
        assert done.returncode == 0, done.stderr
        shutil.rmtree(checkpoint.parent / "onnx")
    else:
        line = _one_error(done)
        assert where in line and "choose an --out apart from it" in line, line
    assert _snapshot(checkpoint) == before


def test_the_library_refuses_an_out_inside_the_model_folder(checkpoint):
    import export

    loaded = models.load(str(checkpoint))
    before = _snapshot(checkpoint)
    for out in (checkpoint, checkpoint / "onnx", checkpoint.parent):
        with pytest.raises(UserError, match="the model folder"):
            export.export(export.get_format("onnx"), loaded, seq_len=16, out=out, force=True)
    assert _snapshot(checkpoint) == before


# 4. names the filesystem does not take


@pytest.mark.parametrize("length", [250, 256])
def test_an_out_name_too_long_for_the_filesystem_is_one_line_before_any_work(tmp_path, length):
    """On main a 250-character name failed with `File name too long` after the conversion had run."""
    line = _one_error(_run("export.onnx", *TINY, "--out", str(tmp_path / ("a" * length))))
    assert "choose a shorter --out" in line and "255" in line
    assert list(tmp_path.iterdir()) == []


def test_a_model_file_name_too_long_is_refused_before_the_conversion(tmp_path):
    import export

    loaded = models.load("bert-tiny", weights="random")
    loaded.name = "m" * 240  # a model folder's name is the file's stem
    with pytest.raises(UserError, match="choose a shorter --out or model folder name"):
        export.export(export.get_format("onnx"), loaded, seq_len=16, out=tmp_path / "o")
    assert list(tmp_path.iterdir()) == []


# 5. the lock on a read-only folder


def test_the_lock_on_a_read_only_folder_is_one_line(tmp_path):
    """On main: `Read-only file system: .../.b.lock`, an OSError."""
    from export._files import folder_lock

    with read_only_mount(tmp_path / "ro") as ro:
        for folder in (ro / "b", ro / "inside" / "b"):
            with pytest.raises(UserError) as err:
                with folder_lock(folder):
                    pass
            assert str(folder) in str(err.value) and "choose a writable --out" in str(err.value)
            assert "\n" not in str(err.value)
