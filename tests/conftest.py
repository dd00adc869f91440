"""Shared fixtures. The adb loopback device's fixtures live in tests/loopback_fixtures.py."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.loopback_fixtures", "tests.arm64_fixtures"]

# Never touch the network: loading code must work from bundled configs and local folders.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def vouch_for(model_file: Path) -> None:
    """Make the manifest beside `model_file` record its current size and sha256: a file that passes the integrity
    check, so what is tested is how a runtime takes a corrupt model."""
    import hashlib
    import json

    manifest_path = model_file.parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["file"].update(bytes=model_file.stat().st_size, sha256=hashlib.sha256(model_file.read_bytes()).hexdigest())
    manifest_path.write_text(json.dumps(manifest))


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m <args>` from the repo root as a user would; text output captured."""
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """exported(fmt, name, task, seq_len) -> (loaded, artifact): one export per combination per test module,
    shared by its tests (converters take seconds even on tiny configs)."""
    import export
    import models

    made = {}

    def make(fmt, name, task, seq_len):
        key = (fmt, name, task, seq_len)
        if key not in made:
            loaded = models.load(name, weights="random", task=task)
            out = tmp_path_factory.mktemp(f"{fmt}-{name}-{task}")
            made[key] = (loaded, export.export(export.get_format(fmt), loaded, seq_len=seq_len, out=out)["fp32"])
        return made[key]
    return make


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    """A small disk: a tmpfs of `size` mounted at `folder` (made here) for the block; the test is skipped, with the
    reason, where mounting is not allowed (it needs root)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()[:80] or 'mount failed'}); needs root")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
