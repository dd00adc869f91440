"""android_bench/runners/native: et_bench_runner built with g++ against the executorch wheel runs an XNNPACK .pte
from a copied folder ($ORIGIN), prints executor_runner's format, and fails in one line on bad files."""
from __future__ import annotations

import math
import re
import shutil
import subprocess

import pytest

from android_bench.runners.native import build
from android_bench.runners.executorch import parse_executor_runner
from android_bench.runners import Settings, input_value_ranges

SEQ_LEN = 64


@pytest.fixture(scope="module")
def tools(tmp_path_factory):
    """The runner's folder (binary + libraries), built once and then copied elsewhere: every run below uses
    the copy, so it proves the $ORIGIN layout rather than the build folder or the wheel."""
    try:
        binary = build.build_runner(tmp_path_factory.mktemp("native-build"))
    except build.BuildError as exc:
        pytest.skip(str(exc))
    assert binary.parent.name == build.android_abi()  # OUT/<abi>/et_bench_runner, as --tools DIR expects
    copy = tmp_path_factory.mktemp("elsewhere") / "tools" / binary.parent.name
    shutil.copytree(binary.parent, copy)
    return copy / build.BINARY


@pytest.fixture(scope="module")
def pte(exported):
    _, artifact = exported("executorch", "squeezebert-tiny", "feature-extraction", SEQ_LEN)
    return artifact


def ranges_arg(manifest: dict) -> str:
    """Per-input ranges in input order, as android_bench feeds the other native tools (ids, mask 1, types 0)."""
    return ":".join(f"{lo},{hi}" for lo, hi in input_value_ranges(manifest, Settings(threads=1)).values())


def run(binary, *args, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_abi_names():
    assert build.android_abi("x86_64") == "x86_64"
    assert build.android_abi("aarch64") == "arm64-v8a"
    with pytest.raises(build.BuildError, match="no Android ABI"):
        build.android_abi("sparc64")


def test_folder_layout_is_self_contained(tools):
    assert tools.parent.name == build.android_abi()
    for name in ("libexecutorch.so", "libexecutorch_backend_xnnpack.so", "libexecutorch_kernels_optimized.so"):
        assert (tools.parent / name).is_file()
    if shutil.which("ldd"):  # every ExecuTorch library resolves inside the copied folder, none from the wheel
        listing = subprocess.run(["ldd", str(tools)], capture_output=True, text=True).stdout
        resolved = re.findall(r"(libexecutorch\S*) => (\S+)", listing)
        assert resolved and all(path.startswith(str(tools.parent)) for _, path in resolved), resolved


def test_runs_a_delegated_pte_in_executor_runner_format(tools, pte):
    runs = 7
    done = run(tools, "--model", pte.path, "--warmup", 2, "--num-runs", runs, "--threads", 1,
               "--input-value-range", ranges_arg(pte.manifest), "--input-shapes", ",".join([f"1x{SEQ_LEN}"] * 3))
    assert done.returncode == 0, done.stderr
    iterations = re.findall(r"^Iteration (\d+) of (\d+): ([0-9.]+) ms$", done.stdout, re.M)
    assert [(int(i), int(n)) for i, n, _ in iterations] == [(i, runs) for i in range(1, runs + 1)]
    total = re.search(r"^Model executed successfully (\d+) time\(s\) in ([0-9.]+) ms\.$", done.stdout, re.M)
    assert total and int(total[1]) == runs
    samples = [float(ms) for _, _, ms in iterations]
    assert all(ms > 0 for ms in samples)
    assert math.isclose(float(total[2]), sum(samples), abs_tol=runs * 1e-6 + 1e-9)  # printed with 6 decimals
    timing = parse_executor_runner(done.stdout)  # the parser android_bench uses for upstream's runner
    assert timing.count == runs and timing.samples_ms == samples and timing.extra["load_ms"] > 0
    assert "Threads: 1" in done.stdout


def test_defaults_use_the_declared_shape(tools, pte):
    # No --input-shapes: the declared shape, the dynamic sequence axis's upper bound (512 here).
    done = run(tools, "--model", pte.path, "--warmup", 0, "--num-runs", 2,
               "--input-value-range", ranges_arg(pte.manifest))
    assert done.returncode == 0, done.stderr
    assert len(re.findall(r"^Iteration \d+ of 2: ", done.stdout, re.M)) == 2


def test_one_range_for_token_type_ids_fails_in_one_line_with_a_hint(tools, pte):
    done = run(tools, "--model", pte.path, "--warmup", 0, "--num-runs", 1, "--input-value-range", "0,1000")
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "one range per input" in done.stderr, done.stderr
    assert "executed successfully" not in done.stdout


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0
    assert done.stderr.endswith("\n") and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("et_bench_runner: error: ")
    assert "Iteration" not in done.stdout
    return done.stderr


def test_missing_file_is_one_line(tools, tmp_path):
    assert "not found" in one_line_error(run(tools, "--model", tmp_path / "nope.pte"))


@pytest.mark.parametrize("corrupt", ["truncated", "garbage", "empty"])
def test_corrupt_pte_is_one_line(tools, pte, tmp_path, corrupt):
    data = pte.path.read_bytes()
    bad = tmp_path / "bad.pte"
    bad.write_bytes({"truncated": data[:1000], "garbage": bytes(range(256)) * 16, "empty": b""}[corrupt])
    assert "cannot load program" in one_line_error(run(tools, "--model", bad))


def test_bad_arguments_are_one_line(tools, pte):
    one_line_error(run(tools, "--model", pte.path, "--num-runs", "zero"))
    one_line_error(run(tools, "--model", pte.path, "--input-value-range", "1,2:3,4"))  # 2 ranges, 3 inputs
    one_line_error(run(tools, "--model", pte.path, "--bogus", 1))


def test_build_is_skipped_when_up_to_date(tools, tmp_path):
    first = build.build_runner(tmp_path)
    stamp = first.stat().st_mtime_ns
    assert build.build_runner(tmp_path) == first and first.stat().st_mtime_ns == stamp


def test_missing_compiler_or_headers_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("CXX", "no-such-g++")
    with pytest.raises(build.BuildError, match=r"install g\+\+") as err:
        build.build_runner(tmp_path / "a")
    assert "\n" not in str(err.value)
    monkeypatch.setattr(build, "executorch_root", lambda: tmp_path / "empty-wheel")
    with pytest.raises(build.BuildError, match="no ExecuTorch C\\+\\+ headers.*pip install executorch"):
        build.build_runner(tmp_path / "b")
