"""int8 dynamic quantization: every format is smaller, close to fp32, and really quantizes the pointwise
layers (SqueezeBERT's grouped convolutions) — each checked by reading the artifact itself."""
from __future__ import annotations

import json
from collections import Counter

import numpy as np
import onnx
import pytest
import torch

import export
import models
from export.tflite.ops import weight_dtypes
from export._validate import eager_outputs, mean_cosine
from export.runtimes import load_artifact
from quantize import quantize_artifact
from tests.test_models import make_fine_tuned_squeezebert

FORMATS = ["torchscript", "onnx", "tflite", "executorch"]
# Tiny squeezebert, 2 layers: per layer q+k+v (fused), intermediate, output x 4 groups + post-attention 1 = 13
# linears, plus the pooler's dense.
POINTWISE = 2 * 13 + 1
# groups="batched" (ONNX's int8): per layer q+k+v, post-attention, intermediate, output; the pooler
BATCHED_POINTWISE = 2 * 4 + 1


@pytest.fixture(scope="module")
def int8(tmp_path_factory):
    made = {}

    def make(fmt, name="squeezebert-tiny", weights="random", task=None, groups=None):
        key = (fmt, name, weights, task, groups)
        if key not in made:
            root = tmp_path_factory.mktemp(f"{fmt}-{task}")
            loaded = models.load(name, weights=weights, task=task)
            made_by_run = export.export(export.get_format(fmt), loaded, seq_len=48, out=root / "fp32",
                                        quantized={"int8-dynamic": root / "int8"},  # one conversion, both
                                        options={"groups": groups} if groups else None)
            made[key] = (loaded, made_by_run["fp32"], made_by_run["int8"])
        return made[key]
    return make


@pytest.mark.parametrize("fmt", FORMATS)
def test_int8_is_smaller_and_close_to_eager(int8, fmt):
    loaded, fp32, q = int8(fmt)
    assert q.path.name.endswith(f"_int8{fp32.path.suffix}") and q.manifest["precision"] == "int8"
    assert q.path.stat().st_size <= 0.35 * fp32.path.stat().st_size
    assert q.manifest["quantization"]["size_bytes"]["ratio"] <= 0.35
    runtime = load_artifact(q.dir)
    inputs = loaded.inputs(seq_len=48, batch=1, offset=4)
    got, want = runtime.run(inputs), eager_outputs(loaded, inputs)
    assert mean_cosine(got["last_hidden_state"], want["last_hidden_state"]) >= 0.99
    assert q.manifest["validation"]["mean_cosine"]["last_hidden_state"] >= 0.99


def test_torchscript_int8_runs_quantized_linears(int8):
    _, _, q = int8("torchscript")
    graph = str(torch.jit.load(str(q.path)).graph)
    assert graph.count("aten::_int_mm") == POINTWISE
    assert "aten::linear" not in graph and "aten::conv1d" not in graph
    assert graph.count("aten::embedding") == 2 * 3  # int8 rows and their scales: word, position, token type


@pytest.mark.parametrize("groups", [None, "linears"])
def test_onnx_int8_has_integer_matmuls_only(int8, groups):
    """Whatever form the fp32 file takes (--groups), int8 quantizes the batched one (export.onnx.INT8_GROUPS)."""
    loaded, fp32, q = int8("onnx", groups=groups)
    fp32_ops = Counter(n.op_type for n in onnx.load(str(fp32.path)).graph.node)
    # the fp32 default: one grouped Conv a grouped layer (q+k+v, intermediate, output)
    assert fp32_ops["Conv"] == (2 * 3 if groups is None else 0)
    graph = onnx.load(str(q.path)).graph
    ops = Counter(n.op_type for n in graph.node)
    assert q.manifest["onnx"]["op_census"] == dict(ops) and q.manifest["onnx"]["nodes"] == len(graph.node)
    weights = {i.name for i in graph.initializer}
    assert ops["MatMulIntegerToFloat"] == BATCHED_POINTWISE
    assert ops["MatMulInteger"] == ops["ConvInteger"] == ops["Conv"] == ops["Split"] == 0
    # each activation quantized once: one per-token chain a MatMulIntegerToFloat (a grouped layer's per token and group)
    assert ops["QuantizeLinear"] == BATCHED_POINTWISE
    int8_weights = {i.name: len(i.dims) for i in graph.initializer if i.data_type == onnx.TensorProto.INT8}
    batched = [n for n in graph.node if n.op_type == "MatMulIntegerToFloat" and int8_weights.get(n.input[1]) == 3]
    assert len(batched) == 2 * 3  # every grouped layer (q+k+v, FFN) with an int8 [g, K, N]
    inputs = loaded.inputs(seq_len=48, batch=2, offset=1)  # the batched layout at a batch of 2
    got, want = load_artifact(q.dir).run(inputs), eager_outputs(loaded, inputs)
    assert mean_cosine(got["last_hidden_state"], want["last_hidden_state"]) >= 0.99
    float_weight_matmuls = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm")
                            and any(i in weights for i in n.input)]
    assert float_weight_matmuls == []


def test_tflite_int8_quantizes_every_large_weight(int8):
    _, _, q = int8("tflite")
    dtypes = weight_dtypes(q.path)
    # every grouped layer one BATCH_MATMUL with an int8 [g, K/g, N/g] weight; post-attention and pooler: FC
    assert dtypes["BATCH_MATMUL"] == {"INT8": 2 * 3} and dtypes["FULLY_CONNECTED"] == {"INT8": 2 + 1}
    assert "CONV_2D" not in dtypes


def test_executorch_int8_quantizes_every_linear(int8):
    _, _, q = int8("executorch")
    layers = q.manifest["quantization"]["layers"]
    assert layers["quantized"]["linear (XNNPACK dynamic int8)"] == POINTWISE
    assert layers["quantized"]["int8 embeddings"] == 3 and layers["float"] == {}
    from executorch.exir._serialize._program import deserialize_pte_binary

    program = deserialize_pte_binary(q.path.read_bytes())
    program = getattr(program, "program", program)
    operators = {op.name for plan in program.execution_plan for op in plan.operators}
    assert not operators & {"aten::linear", "aten::mm", "aten::addmm", "aten::convolution"}  # all in XNNPACK


# all-MiniLM-L6-v2 (BERT family, real weights) is where per-tensor activation scales failed: torch quantize_dynamic
# 0.957, ORT's quantize_dynamic 0.986 (the FFN output's GELU input has outliers). Every format now scales per token.
@pytest.mark.parametrize("fmt", FORMATS)
def test_real_weights_keep_cosine_on_real_sentences(int8, fmt):
    loaded, _, q = int8(fmt, name=str(models.real_bert_dir()), weights="hub")
    runtime = load_artifact(q.dir)
    cosines = []
    for offset in range(0, len(models.SENTENCE_PAIRS)):
        inputs = loaded.inputs(seq_len=48, batch=1, offset=offset)
        cosines.append(mean_cosine(runtime.run(inputs)["last_hidden_state"],
                                   eager_outputs(loaded, inputs)["last_hidden_state"]))
    assert np.mean(cosines) >= 0.99, cosines


@pytest.mark.parametrize("fmt", FORMATS)
def test_fine_tuned_logits_keep_their_argmax(int8, tmp_path_factory, fmt):
    folder = make_fine_tuned_squeezebert(tmp_path_factory.mktemp("glue") / "glue")
    loaded, _, q = int8(fmt, name=str(folder), weights="hub")
    runtime = load_artifact(q.dir)
    inputs = loaded.inputs(seq_len=48, batch=len(models.SENTENCE_PAIRS))
    got = np.concatenate([runtime.run(loaded.inputs(seq_len=48, batch=1, offset=i))["logits"]
                          for i in range(len(models.SENTENCE_PAIRS))])
    want = eager_outputs(loaded, inputs)["logits"]
    assert (got.argmax(-1) == want.argmax(-1)).all()


def test_quantize_artifact_rederives_the_same_int8_artifact(int8, tmp_path):
    """`python -m quantize` on an fp32 folder re-derives the conversion from its manifest: the int8 file it writes
    computes what the one-run int8 artifact computes."""
    loaded, fp32, q = int8("onnx")
    again = quantize_artifact(fp32.dir, tmp_path / "int8")
    assert again.path.name == q.path.name and again.manifest["quantization"] == q.manifest["quantization"]
    inputs = loaded.inputs(seq_len=48, batch=1, offset=2)
    got, want = load_artifact(again.dir).run(inputs), load_artifact(q.dir).run(inputs)
    for name in loaded.output_names:
        np.testing.assert_allclose(got[name], want[name], atol=1e-6, rtol=0)


def test_quantize_cli_refuses_a_mismatched_format(cli, int8, tmp_path):
    _, fp32, _ = int8("onnx")
    done = cli("quantize", "--format", "tflite", "--in", str(fp32.dir), "--out", str(tmp_path))
    assert done.returncode == 2 and "--format tflite but" in done.stderr and "Traceback" not in done.stderr
    done = cli("quantize", "--in", str(tmp_path / "nothing"), "--out", str(tmp_path))
    assert done.returncode == 2 and "no manifest.json" in done.stderr


def denormals_flushed() -> bool:
    """Whether this thread's float math flushes denormals to zero (FTZ/DAZ), read off a product that is one."""
    return np.float32(1e-39) * np.float32(0.5) == 0


def test_bench_writes_interleaved_timings_for_each_precision(tmp_path):
    """The benchmark script runs end to end (tiny model, few runs); the numbers themselves are not asserted."""
    from android_bench.studies.precision import main

    assert main(["--models", "bert-tiny", "--formats", "onnx", "--runs", "3", "--warmup", "1", "--threads", "1",
                 "--rounds", "1", "--weights", "random", "--out", str(tmp_path)]) == 0
    bench = json.loads((tmp_path / "bench.json").read_text())
    (row,) = bench["results"]
    assert (row["model"], row["format"], row["runs"]) == ("bert-tiny", "onnx", 3)
    assert len(row["times_ms"]["fp32"]) == len(row["times_ms"]["int8"]) == 3
    assert row["int8_speedup"] == pytest.approx(row["fp32_median_ms"] / row["int8_median_ms"])
    assert bench["denormals"].startswith("flushed")
    assert not denormals_flushed()  # the flush ends with the run: this process keeps denormals


def test_onnx_sessions_keep_a_denormal_flush(int8):
    """android_bench.measurement.timing.denormals("flush") survives opening an ORT session (ORT resets the flag unless told)."""
    from android_bench.measurement.timing import denormals

    _, fp32, _ = int8("onnx")
    with denormals("flush"):
        load_artifact(fp32.dir, threads=1)
        assert denormals_flushed()
    assert not denormals_flushed()
