"""Parsers on REAL outputs of the upstream tools (tests/fixtures/tools/, sources in SOURCES.md there)."""
from __future__ import annotations

from pathlib import Path

import pytest

from android_bench import runners
from android_bench.runners import ParseError, Runner
from android_bench.runners.executorch import parse_executor_runner
from android_bench.runners.onnxruntime import parse_onnxruntime_perf_test
from android_bench.runners.tflite import parse_tflite_benchmark_model
from android_bench.runners.torch_lite import parse_speed_benchmark_torch

FIXTURES = Path(__file__).parent / "fixtures" / "tools"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_tflite_desktop_scientific_notation():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_desktop_op_profiling.txt"))
    assert t.mean_ms == pytest.approx(2950.34)  # avg=2.95034e+06 us
    assert t.count == 50  # the timed run, not the warm-up's count=1
    assert t.extra["min_ms"] == pytest.approx(2727.568)
    assert t.extra["init_ms"] == pytest.approx(17.187)
    assert t.extra["memory_overall_mb"] == pytest.approx(46.0859)


def test_tflite_peak_memory_format():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_peak_memory.txt"))
    assert t.mean_ms == pytest.approx(249.684)
    assert t.extra["memory_overall_mb"] == pytest.approx(138.809)


def test_tflite_apk_logcat_prefix():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_apk_logcat.txt"))
    assert t.mean_ms == pytest.approx(1.68792)
    assert t.extra["init_ms"] == pytest.approx(1007.529)


def test_tflite_percentiles_and_scientific_mean():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_percentiles_sci.txt"))
    assert t.mean_ms == pytest.approx(1240.27)  # "Inference (avg): 1.24027e+06"
    assert t.count == 50  # the timed run, not the warm-up's "count=1 curr=... p5=..."
    assert t.extra["median_ms"] == pytest.approx(1239.807)
    assert t.extra["p5_ms"] == pytest.approx(1238.753) and t.extra["p95_ms"] == pytest.approx(1247.415)
    assert t.extra["min_ms"] == pytest.approx(1238.588) and t.extra["std_ms"] == pytest.approx(2.565)
    assert t.extra["memory_init_mb"] == pytest.approx(6.36328)
    assert t.extra["memory_overall_mb"] == pytest.approx(109.832)
    assert t.extra["load_ms"] == pytest.approx(5.579) and t.extra["first_inference_ms"] == pytest.approx(1357.602)
    assert "delegation" not in t.extra and "delegates_applied" not in t.extra  # --use_xnnpack=false


def test_tflite_percentiles_with_partial_xnnpack():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_percentiles_xnnpack.txt"))
    assert t.mean_ms == pytest.approx(899.641) and t.count == 50
    assert t.extra["median_ms"] == pytest.approx(899.281)
    assert t.extra["delegates_applied"] == [{"delegate": "XNNPACK", "executed": "partially", "delegate_kernels": 1}]
    assert t.extra["memory_init_mb"] == pytest.approx(146.363)
    assert t.extra["memory_overall_mb"] == pytest.approx(150.141)


def test_tflite_delegate_coverage_on_android():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_nnapi_delegate.txt"))
    assert t.mean_ms == pytest.approx(1.88574) and t.count == 520  # not the warm-up's "count=1 curr=637079"
    assert t.extra["delegation"] == {"delegate": "TfLiteNnapiDelegate", "nodes_delegated": 31, "nodes_total": 31,
                                     "partitions": 1, "coverage": 1.0, "subgraphs": 1}
    assert "delegations" not in t.extra  # one delegate
    assert t.extra["delegates_applied"] == [{"delegate": "NNAPI", "executed": "completely", "delegate_kernels": None}]
    assert t.extra["memory_overall_mb"] == pytest.approx(7.83203)
    assert "median_ms" not in t.extra  # TF 2.15 printed no percentiles


def test_tflite_peak_memory_via_monitoring_and_gpu_delegate():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_peak_memory_gpu.txt"))
    assert t.mean_ms == pytest.approx(35.1349) and t.count == 1694
    assert t.extra["memory_peak_mb"] == t.extra["peak_rss_mb"] == pytest.approx(74.6641)
    assert "memory_overall_mb" not in t.extra
    delegation = t.extra["delegation"]
    assert delegation["delegate"] == "TfLiteGpuDelegateV2" and delegation["coverage"] == 1.0
    assert (delegation["nodes_delegated"], delegation["nodes_total"], delegation["partitions"]) == (58, 58, 1)


def test_tflite_legacy_delegate_line_without_total():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_legacy_delegate_line.txt"))
    assert t.mean_ms == pytest.approx(1.38086) and t.count is None
    assert t.extra["delegation"] == {"delegate": "TfLiteNnapiDelegate", "nodes_delegated": 31, "nodes_total": None,
                                     "partitions": 1, "coverage": None, "subgraphs": 1}


def test_tflite_legacy_summary():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_legacy.txt"))
    assert t.mean_ms == pytest.approx(79.7609)
    assert t.count == 50 and t.extra["std_ms"] == pytest.approx(1.929)


def test_onnxruntime_average_total_format():
    # Current perftest (microsoft/onnxruntime PR #25895): "Average inference time cost total: X ms".
    t = parse_onnxruntime_perf_test(fixture("onnxruntime_perf_test_total.txt"))
    assert t.mean_ms == pytest.approx(98.961997) and t.count == 5
    assert t.extra["median_ms"] == pytest.approx(99.5086)  # "P50 Latency: 0.0995086 s": prefer it to the mean
    assert t.extra["p50_ms"] == pytest.approx(99.5086)
    assert t.extra["p90_ms"] == t.extra["p95_ms"] == t.extra["p99_ms"] == t.extra["p999_ms"] == pytest.approx(101.519)
    assert t.extra["min_ms"] == pytest.approx(95.8204) and t.extra["max_ms"] == pytest.approx(101.519)
    assert t.extra["peak_memory_bytes"] == 271122432
    assert t.extra["peak_rss_mb"] == pytest.approx(271122432 / 2**20)
    assert t.extra["inferences_per_second"] == pytest.approx(10.104)
    assert t.extra["load_ms"] == t.extra["session_creation_ms"] == pytest.approx(217.932)
    assert t.extra["first_inference_ms"] == pytest.approx(196)
    assert "submission_mean_ms" not in t.extra  # printed only with CUDA IO binding


def test_onnxruntime_current():
    t = parse_onnxruntime_perf_test(fixture("onnxruntime_perf_test_current.txt"))
    assert t.mean_ms == pytest.approx(17.735) and t.count == 8
    assert t.extra["p50_ms"] == t.extra["median_ms"] == pytest.approx(16.7086)
    assert t.extra["peak_working_set_mb"] == pytest.approx(35299328 / 2**20)
    assert t.extra["peak_memory_bytes"] == 35299328


def test_onnxruntime_2020_format_without_spaces():
    t = parse_onnxruntime_perf_test(fixture("onnxruntime_perf_test_2020.txt"))
    assert t.mean_ms == pytest.approx(734.606) and t.count == 1
    assert t.extra["session_creation_ms"] == pytest.approx(1841.49)
    assert "median_ms" not in t.extra  # no -s: no latency statistics printed


def test_onnxruntime_old_format_with_truncated_last_line():
    t = parse_onnxruntime_perf_test(fixture("onnxruntime_perf_test_old_readme.txt"))
    assert t.mean_ms == pytest.approx(58.8053) and t.count == 1000
    assert t.extra["p99_ms"] == pytest.approx(61.9517)
    assert t.extra["p999_ms"] == pytest.approx(62.3472)  # "0.0623472se": cut in the original
    assert t.extra["median_ms"] == pytest.approx(58.7108)


def test_executor_runner_new_per_iteration():
    t = parse_executor_runner(fixture("executorch_executor_runner_new.txt"))
    assert t.samples_ms == [pytest.approx(241.944288)] and t.count == 1
    assert t.extra["load_ms"] == pytest.approx(4463.268273)


def test_executor_runner_old_total_only():
    t = parse_executor_runner(fixture("executorch_executor_runner_old.txt"))
    assert t.mean_ms == pytest.approx(15.013292) and t.samples_ms == []


def test_speed_benchmark_torch():
    t = parse_speed_benchmark_torch(fixture("speed_benchmark_torch.txt"))
    assert t.samples_ms == [pytest.approx(599.746), pytest.approx(570.505), pytest.approx(583.396)]
    assert t.mean_ms == pytest.approx(584.558)


@pytest.mark.parametrize("parser, name, keep", [
    (parse_tflite_benchmark_model, "tflite_benchmark_model_desktop_op_profiling.txt", 11),  # before the timed run
    (parse_tflite_benchmark_model, "tflite_benchmark_model_percentiles_sci.txt", 12),  # warm-up stats only
    (parse_tflite_benchmark_model, "tflite_benchmark_model_nnapi_delegate.txt", 21),  # warm-up "count=1 curr="
    (parse_onnxruntime_perf_test, "onnxruntime_perf_test_total.txt", 6),
    (parse_onnxruntime_perf_test, "onnxruntime_perf_test_current.txt", 3),
    (parse_executor_runner, "executorch_executor_runner_new.txt", 2),  # iterations, no final line
    (parse_speed_benchmark_torch, "speed_benchmark_torch.txt", 5),
])
def test_truncated_output_is_a_clear_error(parser, name, keep):
    truncated = "\n".join(fixture(name).splitlines()[:keep])
    with pytest.raises(ParseError, match="no timing in the output of .*last line"):
        parser(truncated)


@pytest.mark.parametrize("parser", [parse_tflite_benchmark_model, parse_onnxruntime_perf_test, parse_executor_runner,
                                    parse_speed_benchmark_torch])
@pytest.mark.parametrize("garbage", [
    "Segmentation fault\n",
    "/system/bin/sh: ./tools/benchmark_model: not found\n",
    "INFO: STARTING!\nERROR: Failed to allocate tensors!\nERROR: Benchmarking failed.\n",
    "Run failed:Load model from model.onnx failed\n",
    "count=0\nAverage time cost: nan ms\nModel executed successfully 0 time(s) in ms.\n",
    "Model executed successfully 0 time(s) in 0.000000 ms.\n",
])
def test_garbage_is_a_parse_error(parser, garbage):
    with pytest.raises(ParseError, match="no timing in the output of"):
        parser(garbage)


def test_empty_output():
    with pytest.raises(ParseError, match="no output"):
        parse_executor_runner("")


def test_runners_are_one_module_each_and_found_by_the_registry():
    """A runner is one module of android_bench/runners: its class (argv `command` and output `parse`) registers
    itself and runner_for finds it by format, with no list to edit (docs/benchmarking.md, "Adding a runner")."""
    from export import available_formats

    registered = runners.registered_runners()
    assert runners.PYTHON_RUNNER in registered
    for name, cls in registered.items():
        assert cls.name == name and cls.__module__.rpartition(".")[0] == "android_bench.runners"
        assert "command" in vars(cls) and "parse" in vars(cls), f"{cls.__module__} must define command and parse"
        assert not cls.tool or cls.where_to_get, f"{name}: say where its binary comes from"
    native = runners.native_runners()
    for fmt in available_formats():
        assert fmt in native or fmt in runners.PYTHON_ONLY, f"{fmt}: no native runner, nor a PYTHON_ONLY entry"
        assert fmt in registered[runners.PYTHON_RUNNER].formats
        if fmt in native:
            assert type(runners.runner_for(fmt, kind="adb", tools=Path("tools"), python="python3")) is native[fmt]
            local_native = runners.runner_for(fmt, kind="local", tools=None, python="python3", prefer="native")
            assert type(local_native) is native[fmt]
        # no --tools on a device: the runtime bundle's runner, from its folder on the device
        bundled = runners.runner_for(fmt, kind="adb", tools=None, python="python3", abi="arm64-v8a")
        assert bundled.bundle_parts[0] == "base" and ("torch" in bundled.bundle_parts) == (fmt == "torchscript")
        assert (bundled.device_tools or bundled.python).startswith(f"{runners.bundle_dir('arm64-v8a')}/base/")
        for kind, prefer in (("local", "auto"), ("adb", "python")):
            chosen = runners.runner_for(fmt, kind=kind, tools=None, python="python3", prefer=prefer)
            assert type(chosen) is registered[runners.PYTHON_RUNNER]
    with pytest.raises(ValueError, match="already has the native runner"):
        type("SecondOnnxRunner", (Runner,), {"name": "second-onnx", "tool": "t", "formats": ("onnx",)})
    assert "second-onnx" not in runners.registered_runners()
