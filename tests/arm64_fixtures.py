"""Fixtures of the ARM tier (tests/test_arm64_*.py, marker `arm64`): the artifacts every ARM test runs, made
once per session on this machine, and et_bench_runner cross-built for arm64-v8a."""
from __future__ import annotations

import pytest

MODELS = ("squeezebert-tiny", "bert-tiny")
FORMATS = ("tflite", "onnx", "executorch", "torchscript")
PRECISIONS = ("fp32", "int8")
SEQ_LEN = 32


@pytest.fixture(scope="session")
def arm64_artifacts(arm64_ready, tmp_path_factory):
    """OUT/<model>/<format>-<precision>-seq32 (android_bench's layout, so `--artifacts` reuses them)."""
    from android_bench.harness.artifacts import conversion_order, ensure_artifact

    folder = tmp_path_factory.mktemp("arm64-artifacts")
    made = {}
    for model in MODELS:
        for fmt in FORMATS:
            for precision in conversion_order(PRECISIONS):
                made[model, fmt, precision] = ensure_artifact(folder, model, fmt, precision, weights="random",
                                                              seq_len=SEQ_LEN)
    return folder, made


@pytest.fixture(scope="session")
def arm64_tools(arm64_ready, tmp_path_factory):
    """TOOLS/arm64-v8a/et_bench_runner, cross-compiled and self-contained (android_bench.runners.native.build)."""
    from android_bench.runners.native import build

    tools = tmp_path_factory.mktemp("arm64-tools")
    build.build_runner(tools, abi="arm64-v8a")
    return tools
