"""Parsers on REAL outputs of the upstream tools (tests/fixtures/tools/, sources in SOURCES.md there)."""
from __future__ import annotations

from pathlib import Path

import pytest

from android_bench.parsers import (ParseError, parse_executor_runner, parse_onnxruntime_perf_test,
                                   parse_speed_benchmark_torch, parse_tflite_benchmark_model)

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


def test_tflite_legacy_summary():
    t = parse_tflite_benchmark_model(fixture("tflite_benchmark_model_legacy.txt"))
    assert t.mean_ms == pytest.approx(79.7609)
    assert t.count == 50 and t.extra["std_ms"] == pytest.approx(1.929)


def test_onnxruntime_current():
    t = parse_onnxruntime_perf_test(fixture("onnxruntime_perf_test_current.txt"))
    assert t.mean_ms == pytest.approx(17.735) and t.count == 8
    assert t.extra["p50_ms"] == pytest.approx(16.7086)
    assert t.extra["peak_working_set_mb"] == pytest.approx(35299328 / 2**20)


def test_onnxruntime_old_format_with_truncated_last_line():
    t = parse_onnxruntime_perf_test(fixture("onnxruntime_perf_test_old_readme.txt"))
    assert t.mean_ms == pytest.approx(58.8053) and t.count == 1000
    assert t.extra["p99_ms"] == pytest.approx(61.9517)
    assert t.extra["p999_ms"] == pytest.approx(62.3472)  # "0.0623472se": cut in the original


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
    (parse_onnxruntime_perf_test, "onnxruntime_perf_test_current.txt", 3),
    (parse_executor_runner, "executorch_executor_runner_new.txt", 2),  # iterations, no final line
    (parse_speed_benchmark_torch, "speed_benchmark_torch.txt", 5),
])
def test_truncated_output_is_a_clear_error(parser, name, keep):
    truncated = "\n".join(fixture(name).splitlines()[:keep])
    with pytest.raises(ParseError, match="no timing in the output of .*last line"):
        parser(truncated)


def test_empty_output():
    with pytest.raises(ParseError, match="no output"):
        parse_executor_runner("")
