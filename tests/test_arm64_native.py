"""et_bench_runner cross-compiled for arm64-v8a (`python -m android_bench.runners.native.build --abi arm64-v8a`): an
aarch64 folder that carries glibc's loader and every library it needs, proved by running a .pte pushed over
real adb to a device that has nothing but a static busybox: no libc of its own, as on an Android phone."""
from __future__ import annotations

import re

import pytest

from android_bench.runners.native import build, cross
from android_bench.runners.executorch import parse_executor_runner
from tests.arm64_fixtures import SEQ_LEN

pytestmark = [pytest.mark.arm64, pytest.mark.timeout(900)]
EM_AARCH64 = 183


def elf_machine(path) -> int | None:
    head = path.read_bytes()[:20]
    return int.from_bytes(head[18:20], "little") if head[:4] == b"\x7fELF" else None


def test_folder_is_aarch64_and_self_contained(arm64_tools):
    folder = arm64_tools / "arm64-v8a"
    wrapper = folder / build.BINARY
    assert wrapper.read_text().startswith("#!/bin/sh") and "ld-linux-aarch64.so.1" in wrapper.read_text()
    elves = [p for p in folder.iterdir() if elf_machine(p) is not None]
    assert {p.name for p in elves} >= {"et_bench_runner.bin", "ld-linux-aarch64.so.1", "libc.so.6", "libm.so.6",
                                       "libstdc++.so.6", "libgcc_s.so.1", "libexecutorch.so",
                                       "libexecutorch_backend_xnnpack.so"}
    assert all(elf_machine(p) == EM_AARCH64 for p in elves)
    target = cross.target("arm64-v8a")
    for elf in elves:  # every library any of them needs is in the folder
        assert set(cross.needed(elf, target)) <= {p.name for p in elves}, elf.name


def test_rebuild_is_skipped_when_up_to_date(arm64_tools):
    binary = arm64_tools / "arm64-v8a" / "et_bench_runner.bin"
    stamp = binary.stat().st_mtime_ns
    assert build.build_runner(arm64_tools, abi="arm64-v8a") == arm64_tools / "arm64-v8a" / build.BINARY
    assert binary.stat().st_mtime_ns == stamp


def test_unknown_abi_and_missing_cross_compiler_are_one_line(tmp_path, monkeypatch):
    with pytest.raises(cross.CrossError, match="no cross build for ABI 'mips'"):
        build.build_runner(tmp_path, abi="mips")
    monkeypatch.setattr(cross.shutil, "which", lambda name: None)
    with pytest.raises(cross.CrossError, match="apt-get install --no-install-recommends g\\+\\+-aarch64-linux-gnu"):
        cross.compiler(cross.target("arm64-v8a"))


def test_runs_a_pte_on_a_device_without_libc(make_arm64_device, arm64_adb_server, arm64_tools, arm64_artifacts):
    from android_bench.runners import Settings, input_value_ranges
    from export.runtimes import read_verified

    _, made = arm64_artifacts
    artifact = made["squeezebert-tiny", "executorch", "int8"]
    manifest = read_verified(artifact)
    ranges = input_value_ranges(manifest, Settings(threads=1))  # ids in the vocabulary, mask 1, types 0
    device = make_arm64_device(bare=True)
    adb = lambda *args: arm64_adb_server.adb("-s", device.serial, *args, timeout=300)
    assert adb("shell", "ls /lib /usr").returncode != 0  # nothing of a libc on the device
    assert adb("push", str(arm64_tools / "arm64-v8a"), "/data/local/tmp/").returncode == 0
    assert adb("push", str(artifact / manifest["file"]["name"]), "/data/local/tmp/model.pte").returncode == 0
    # the binary on its own needs /lib/ld-linux-aarch64.so.1, which the device lacks: only the folder runs
    alone = adb("shell", "cd /data/local/tmp && ./arm64-v8a/et_bench_runner.bin --model model.pte")
    assert alone.returncode != 0 and "Iteration" not in alone.stdout
    done = adb("shell", f"cd /data/local/tmp && ./arm64-v8a/et_bench_runner --model model.pte --warmup 1 "
                        f"--num-runs 3 --threads 1 --input-value-range "
                        f"{':'.join(f'{lo},{hi}' for lo, hi in ranges.values())} --input-shapes "
                        f"{','.join([f'1x{SEQ_LEN}'] * len(ranges))}")
    assert done.returncode == 0, done.stdout + done.stderr
    timing = parse_executor_runner(done.stdout)
    assert timing.count == 3 and all(ms > 0 for ms in timing.samples_ms)
    assert re.search(r"^Peak resident set size: \d+ kB$", done.stdout, re.M)
