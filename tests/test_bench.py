"""android_bench on this machine (the `local` device): the whole flow, resume after a kill, statistics."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from android_bench.devices.facts import parse_facts
from android_bench.harness.protocol import big_core_mask, plan
from android_bench.measurement.results import ratio_with_ci, summarize, verdict

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--models", "squeezebert-tiny,bert-tiny", "--baseline", "bert-tiny", "--weights", "random", "--seq-len", "48",
        "--precisions", "fp32"]  # the shared default is fp32,int8 (harness.flags)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """Tiny TFLite and ONNX artifacts of both models, exported once for the module through the harness."""
    folder = tmp_path_factory.mktemp("bench-artifacts")
    from android_bench.harness.artifacts import ensure_artifact

    for model in ("squeezebert-tiny", "bert-tiny"):
        for fmt in ("onnx", "tflite"):
            ensure_artifact(folder, model, fmt, "fp32", weights="random", seq_len=48)
    return folder


def test_reusing_an_artifact_from_other_code_warns(artifacts, tmp_path, caplog):
    import shutil

    from android_bench.harness.artifacts import ensure_artifact
    from export import PIPELINE, pipeline_revision

    folder = tmp_path / "bert-tiny" / "onnx-fp32-seq48"
    shutil.copytree(artifacts / "bert-tiny" / "onnx-fp32-seq48", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["tools"][PIPELINE] == pipeline_revision()
    with caplog.at_level("WARNING", logger="android_bench"):
        assert ensure_artifact(tmp_path, "bert-tiny", "onnx", "fp32", weights="random", seq_len=48) == folder
    assert not caplog.records  # made by this code: reused quietly
    manifest["tools"][PIPELINE] = "0123456789ab"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level("WARNING", logger="android_bench"):
        assert ensure_artifact(tmp_path, "bert-tiny", "onnx", "fp32", weights="random", seq_len=48) == folder
    assert "made by squeezebert-mobile 0123456789ab" in caplog.text and "delete the folder" in caplog.text


def bench(*args, out: Path, artifacts: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "android_bench", *TINY, "--artifacts", str(artifacts),
                           "--out", str(out), *args], cwd=ROOT, capture_output=True, text=True, timeout=600, **kw)


def lines(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_local_run_writes_every_report(tmp_path, artifacts):
    # --out relative, as in the README: the runners start inside the device folder and must still find it.
    # Two lengths from the one artifact per model and format made at the longest (the fixture's, at 48: reused)
    done = bench("--formats", "tflite,onnx", "--threads", "1", "--rounds", "1", "--runs", "30", "--device", "local",
                 "--seq-len", "24,48", out=Path(os.path.relpath(tmp_path, ROOT)), artifacts=artifacts)
    assert done.returncode == 0, done.stderr
    assert not [p for p in artifacts.glob("*/*") if not p.name.endswith("-seq48")]  # never exported per length
    records = lines(tmp_path / "results.jsonl")
    assert len(records) == 2 * 2 * 2  # models x formats x lengths
    # A B interleaved at each length, the lengths alternating within the round
    assert [(r["format"], r["seq_len"], r["model"]) for r in records[:4]] == [
        ("tflite", 24, "squeezebert-tiny"), ("tflite", 24, "bert-tiny"),
        ("tflite", 48, "squeezebert-tiny"), ("tflite", 48, "bert-tiny")]
    assert [r["order"] for r in records] == list(range(8))
    assert all(len(r["timing"]["samples_ms"]) == 30 and r["runner"] == "python" for r in records)
    # the one timing protocol (android_bench.measurement.timing): real sentences at their real length (no padding), cold start
    # and memory, the warm-up and the denormal policy, all recorded with every measurement
    for r in records:
        extra = r["timing"]["extra"]
        assert r["artifact_seq_len"] == 48 and r["settings"]["seq_len"] == r["seq_len"]
        assert extra["inputs"]["seq_len"] == extra["inputs"]["real_tokens"] == r["seq_len"]
        assert extra["load_ms"] > 0 and extra["first_inference_ms"] > 0 and extra["peak_rss_mb"] > 50
        assert extra["protocol"] == {"warmup": 5, "runs": 30, "timed_runs": "back to back",
                                     "pause_ms_between_runtimes": 20.0, "timed_runs_per_turn": 10,
                                     "untimed_runs_after_a_length_switch": 2,
                                     "denormals": "flushed to zero (FTZ/DAZ) while timing"}
    assert records[0]["device_facts"]["cores"] == os.cpu_count()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {(r["format"], r["seq_len"], r["model"]) for r in summary["ratios"]} == {
        (f, n, "squeezebert-tiny") for f in ("tflite", "onnx") for n in (24, 48)}
    for r in summary["ratios"]:
        assert r["ci95"][0] <= r["ratio"] <= r["ci95"][1]
    assert "bert-tiny / squeezebert-tiny" in done.stdout and "95% CI" in done.stdout and "seq 24" in done.stdout
    # beside the paper's 4.3x: the FLOP ratio at each measured length, what an equally efficient runtime would show
    from android_bench.measurement.flops import count_flops

    flops = {(m, n): count_flops(m, seq_len=n)["flops"] for m in ("bert-tiny", "squeezebert-tiny") for n in (24, 48)}
    for r in summary["ratios"]:
        want = flops[("bert-tiny", r["seq_len"])] / flops[("squeezebert-tiny", r["seq_len"])]
        assert r["flop_ratio"] == pytest.approx(want) and f"FLOP ratio {want:.2f}x" in r["verdict"]
    for row in summary["latency"]:
        assert row["load_ms"] > 0 and row["first_inference_ms"] > 0 and row["peak_rss_mb"] > 0
        assert row["flops"] == flops[(row["model"], row["seq_len"])]
        assert row["gflop_per_s"] == pytest.approx(row["flops"] / row["median_ms"] / 1e6)
    # the latency at the length distribution, from the per-length medians, with what it is and where it comes from
    dist = summary["at_length_distribution"]
    assert dist["measured_lengths"] == [24, 48] and "source" in dist and "interpolation" in dist["method"]
    assert len(dist["results"]) == 4  # models x formats
    medians = {(r["format"], r["model"], r["seq_len"]): r["median_ms"] for r in summary["latency"]}
    for r in dist["results"]:  # the stand-in lengths (17-23 tokens) lie below 24: clamped to the 24-token median
        assert r["expected_ms"] == pytest.approx(medians[(r["format"], r["model"], 24)])
    assert "latency at a length distribution" in done.stdout
    assert "peak RSS MB" in done.stdout
    csv = (tmp_path / "summary.csv").read_text().splitlines()
    assert csv[0].startswith("device,model,format") and len(csv) == 9
    assert "load_ms,first_inference_ms,peak_rss_mb" in csv[0] and "flop_ratio" in csv[0] and "gflop_per_s" in csv[0]
    for png in ("latency.png", "memory.png", "latency_by_length.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_benchmark_inputs_are_real_tokens_at_every_length():
    import models
    from android_bench.measurement.timing import benchmark_inputs, describe_inputs

    tokenizer = models.load("bert-tiny", weights="random").tokenizer
    for n in (2, 3, 16, 128, 512):
        feed = benchmark_inputs(tokenizer, n)
        assert describe_inputs(feed)["seq_len"] == describe_inputs(feed)["real_tokens"] == n
        ids = feed["input_ids"][0].tolist()
        assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        assert tokenizer.pad_token_id not in ids and tokenizer.unk_token_id not in ids
        assert (feed["token_type_ids"].max() == 1) == (n >= 3)  # a pair, as MNLI feeds it


def test_expected_latency_interpolates_and_clamps():
    from android_bench.measurement.lengths import expected_latency, interpolate

    medians = {16: 10.0, 32: 20.0, 128: 80.0}
    assert interpolate(medians, 24) == 15.0 and interpolate(medians, 64) == 40.0
    assert interpolate(medians, 8) == 10.0 and interpolate(medians, 512) == 80.0  # clamped to the measured range
    assert expected_latency(medians, {24: 1, 64: 3}) == pytest.approx((15.0 + 3 * 40.0) / 4)


def test_native_tools_get_the_jobs_length(artifacts):
    """The command lines of the native tools at a job's length, on the real manifests of a resizable TFLite file
    and a dynamic ONNX file: benchmark_model gets every input's name and shape in the interpreter's order."""
    from ai_edge_litert.interpreter import Interpreter

    from android_bench.harness.artifacts import artifact_folder
    from android_bench.runners import Pushed, Settings
    from android_bench.runners.onnxruntime import OrtPerfTestRunner
    from android_bench.runners.tflite import TfliteBenchmarkModelRunner
    from export.runtimes import read_manifest

    folder = artifact_folder(artifacts, "bert-tiny", "tflite", "fp32", 48)
    manifest = read_manifest(folder)
    settings = Settings(threads=2, seq_len=24)
    cmd = shlex.join(TfliteBenchmarkModelRunner().command("/r", Pushed(model="/r/m.tflite", folder="/r",
                                                                       manifest=manifest), settings))
    order = [d["name"].removeprefix("serving_default_").removesuffix(":0") for d in
             sorted(Interpreter(model_path=str(folder / manifest["file"]["name"])).get_input_details(),
                    key=lambda d: d["index"])]
    assert f"--input_layer={','.join(order)} --input_layer_shape=1,24:1,24:1,24 " in cmd
    ranges = cmd.split("--input_layer_value_range=")[1].split()[0].split(":")
    assert sorted(ranges) == ["attention_mask,1,1", "input_ids,1000,1999", "token_type_ids,0,0"]
    onnx = read_manifest(artifact_folder(artifacts, "bert-tiny", "onnx", "fp32", 48))
    cmd = shlex.join(OrtPerfTestRunner().command("/r", Pushed(model="/r/m.onnx", folder="/r", manifest=onnx),
                                                 settings))
    assert "-f batch:1 -f sequence:24 " in cmd
    assert "-f sequence:48 " in shlex.join(OrtPerfTestRunner().command("/r", Pushed(model="/r/m.onnx", folder="/r",
                                                                                    manifest=onnx), Settings(threads=1)))


def test_killed_run_resumes_without_losing_a_measurement(tmp_path, artifacts):
    args = ["--formats", "onnx", "--threads", "1", "--rounds", "3", "--runs", "30", "--device", "local"]
    proc = subprocess.Popen([sys.executable, "-m", "android_bench", *TINY, "--artifacts", str(artifacts),
                             "--out", str(tmp_path), *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    results = tmp_path / "results.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not results.is_file() or len(results.read_text().splitlines()) < 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = results.read_text().splitlines()
    assert 2 <= len(before) < 6, "the kill should land mid-run"

    again = bench(*args, out=tmp_path, artifacts=artifacts)
    assert again.returncode == 2 and "--resume" in again.stderr  # never appends to old results silently

    resumed = bench(*args, "--resume", out=tmp_path, artifacts=artifacts)
    assert resumed.returncode == 0, resumed.stderr
    after = results.read_text().splitlines()
    assert after[:len(before)] == before  # what was measured is kept as it was
    keys = [(r["model"], r["round"]) for r in map(json.loads, after)]
    assert sorted(keys) == sorted((m, r) for m in ("squeezebert-tiny", "bert-tiny") for r in range(3))


BAD_FLAGS = {
    "format": (["--formats", "coreml"],
               "argument --formats: unknown format 'coreml'; choose from torchscript, onnx, tflite, executorch"),
    "precision": (["--precisions", "fp16"], "argument --precisions: unknown precision 'fp16'; choose from fp32, int8"),
    "threads list": (["--threads", "1,x"],
                     "argument --threads: '1,x' is not a comma-separated list of positive integer thread counts"),
    "zero threads": (["--threads", "0"], "argument --threads: thread counts must be at least 1, got '0'"),
    "zero runs": (["--runs", "0"], "argument --runs: must be at least 1, got 0"),
    "repeated length": (["--seq-len", "16,32,16"], "argument --seq-len: sequence lengths repeated in 16,32,16"),
    "length over the model's": (["--seq-len", "16,600"], "argument --seq-len: 600 is more than "
                                "squeezebert-mnli-headless takes (max_position_embeddings 512); pick lengths in 2..512"),
}


@pytest.mark.parametrize("module, case", [(m, c) for m in ("android_bench", "android_bench.studies.efficiency")
                                          for c in BAD_FLAGS] + [("android_bench.studies.precision", "format"),
                                                                 ("android_bench.studies.precision", "zero runs"),
                                                                 ("android_bench.studies.precision", "repeated length")])
def test_bad_flags_fail_at_once_in_one_line(tmp_path, module, case):
    args, message = BAD_FLAGS[case]
    done = subprocess.run([sys.executable, "-m", module, *args, "--out", str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert message in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()  # no work was started


def test_plan_interleaves_models_in_every_round():
    jobs = plan(["a", "b"], ["tflite"], ["fp32", "int8"], [1, 4], rounds=2)
    assert [j.model for j in jobs] == ["a", "b"] * 8
    assert [j.order for j in jobs] == list(range(16))
    jobs = plan(["a", "b"], ["tflite"], ["fp32"], [1], rounds=2, seq_lens=[16, 128])
    assert [(j.round, j.seq_len, j.model) for j in jobs] == [(r, n, m) for r in (0, 1) for n in (16, 128)
                                                             for m in ("a", "b")]


def test_big_core_mask_from_max_frequencies():
    assert big_core_mask([1_766_400] * 4 + [2_803_200] * 4) == "f0"  # Pixel 3: 4 little + 4 big cores
    assert big_core_mask([1_800_000, None]) is None  # unknown: no pinning rather than a guess


def test_facts_missing_are_recorded_not_guessed():
    text = ("prop.ro.product.model=Pixel 3\nprop.ro.soc.model=\nprop.ro.board.platform=sdm845\n"
            "prop.ro.product.cpu.abi=arm64-v8a\ncores=2\nmaxfreq.0=1766400\nmaxfreq.1=\ngovernor.0=schedutil\n"
            "thermal_status=\nbattery_temp=293\nzone_temp=\n")
    facts = parse_facts(text)
    assert facts["model"] == "Pixel 3" and facts["soc"] == "sdm845" and facts["battery_temp_c"] == 29.3
    assert facts["max_freq_khz"] == [1766400, None]
    assert {"thermal_status", "android_version", "max_zone_temp_c"} <= set(facts["missing"])
    no_sys = parse_facts("prop.ro.product.cpu.abi=x86_64\ncores=0\nmaxfreq.[0-9]*=\ngovernor.[0-9]*=\n")
    assert no_sys["max_freq_khz"] == [] and "max_freq_khz" in no_sys["missing"]  # no /sys: the shell's glob stays


def test_ratio_interval_covers_the_true_ratio():
    rng = np.random.default_rng(1)
    bert = rng.normal(430.0, 10.0, 90)
    squeeze = rng.normal(100.0, 3.0, 90)
    ratio = ratio_with_ci(bert, squeeze)
    assert ratio["ci95"][0] < 4.3 < ratio["ci95"][1]
    assert "consistent with the paper's 4.3x" in verdict(ratio)
    assert "not reproduced" in verdict({"ratio": 2.6, "ci95": [2.5, 2.7]})


def test_summary_keeps_failed_jobs_apart():
    ok = {"device": "d", "format": "onnx", "precision": "fp32", "threads": 1, "runner": "python", "round": 0}
    records = [{**ok, "model": "bert", "timing": {"mean_ms": 4.0, "samples_ms": [4.0, 4.2, 3.9]}},
               {**ok, "model": "sq", "timing": {"mean_ms": 1.0, "samples_ms": [1.0, 1.1, 0.9]}},
               {**ok, "model": "sq", "round": 1, "error": "runner exited 1"}]
    summary = summarize(records, baseline="bert")
    assert [r["model"] for r in summary["ratios"]] == ["sq"] and summary["ratios"][0]["ratio"] == 4.0
    assert len(summary["errors"]) == 1


def test_summary_shows_the_arm64_instruction_ratio_beside_the_measured_one(capsys):
    """A phone's summary with --counts: the emulated instruction ratio of the same format, precision and length."""
    from android_bench.arm64.count import ratios
    from android_bench.measurement.report import print_tables
    from android_bench.measurement.results import with_instruction_ratios

    ok = {"device": "pixel", "format": "tflite", "precision": "int8", "threads": 1, "runner": "tflite",
          "round": 0, "seq_len": 128}
    records = [{**ok, "model": "bert", "artifact_sha256": "b" * 64,
                "timing": {"mean_ms": 4.0, "samples_ms": [4.0, 4.2, 3.9]}},
               {**ok, "model": "sq", "artifact_sha256": "s" * 64, "timing": {"mean_ms": 1.0, "samples_ms": [1.0, 1.1, 0.9]}}]
    rows = [{"profile": profile, "format": "tflite", "precision": "int8", "seq_len": 128, "model": model,
             "instructions_per_inference": n, "artifact_sha256": model[0] * 64}
            for profile, scale in (("a76", 1), ("i8mm", 2)) for model, n in (("bert", 9e8 / scale), ("sq", 3e8))]
    counts = {"rows": rows, "ratios": ratios(rows, "bert", {"bert": {128: 3e10}, "sq": {128: 1e10}})}
    summary = with_instruction_ratios(summarize(records, baseline="bert"), counts)
    (row,) = summary["ratios"]
    assert row["ratio"] == 4.0 and row["arm64_instruction_ratio"] == {"a76": 3.0, "i8mm": 1.5}
    print_tables(summary)
    said = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "3.00x ARM64 instructions (emulated a76), not time" in said and "1.50x" in said
    # per artifact, the phone's effective rate: counted instructions over the measured median (1.0 ms for sq)
    sq = next(r for r in summary["latency"] if r["model"] == "sq")
    assert sq["arm64_instructions_per_ms"] == {"a76": 3e8, "i8mm": 3e8} and sq["arm64_same_artifact"]
    assert "not a clock rate" in sq["arm64_instructions_per_ms_label"]
    assert "300 M ARM64 instructions per ms (counted on a76, this artifact" in said


def test_native_executorch_runner_through_the_harness(tmp_path):
    """--runner native on this machine: the harness pushes et_bench_runner + libraries and a .pte, runs the
    tool with per-input value ranges and the export's shape, and parses its executor_runner output."""
    from android_bench.runners.native import build

    tools = tmp_path / "tools"
    try:
        build.build_runner(tools)
    except build.BuildError as exc:
        pytest.skip(str(exc))
    done = bench("--formats", "executorch", "--threads", "1", "--rounds", "1", "--runs", "30", "--device", "local",
                 "--runner", "native", "--tools", str(tools), out=tmp_path / "out", artifacts=tmp_path / "artifacts")
    assert done.returncode == 0, done.stderr
    rs = lines(tmp_path / "out" / "results.jsonl")
    assert [r["runner"] for r in rs] == ["executorch-runner"] * 2
    assert all(len(r["timing"]["samples_ms"]) == 30 and r["timing"]["extra"]["load_ms"] > 0 for r in rs)


def test_missing_native_tool_names_the_file_and_where_to_get_it(tmp_path, artifacts):
    done = bench("--formats", "tflite", "--threads", "1", "--rounds", "1", "--device", "local", "--runner", "native",
                 "--tools", str(tmp_path / "tools"), out=tmp_path / "out", artifacts=artifacts)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0, done.stderr
    assert "tools/x86_64/benchmark_model" in done.stderr and "ai.google.dev" in done.stderr


def test_int8_and_its_missing_fp32_come_from_one_conversion(tmp_path):
    from android_bench.harness.artifacts import artifact_folder, conversion_order, ensure_artifact

    assert conversion_order(["fp32", "int8"]) == ["int8", "fp32"]
    int8 = ensure_artifact(tmp_path, "bert-tiny", "onnx", "int8", weights="random", seq_len=16)
    fp32 = artifact_folder(tmp_path, "bert-tiny", "onnx", "fp32", 16)
    assert int8 == artifact_folder(tmp_path, "bert-tiny", "onnx", "int8", 16)
    q, f = (json.loads((d / "manifest.json").read_text()) for d in (int8, fp32))
    assert q["quantization"]["size_bytes"]["fp32"] == f["file"]["bytes"]  # the fp32 file of the same conversion
    assert ensure_artifact(tmp_path, "bert-tiny", "onnx", "fp32", weights="random", seq_len=16) == fp32  # reused
    assert json.loads((fp32 / "manifest.json").read_text()) == f


def test_interleaved_timing_alternates_turns_that_start_with_an_untimed_rewarm():
    from android_bench.measurement.timing import time_interleaved

    calls = []

    class Recorder:  # the schedule is what is tested here, not a runtime
        def __init__(self, name):
            self.name = name

        def run(self, feed):
            calls.append(self.name)

    times = time_interleaved({"a": Recorder("a"), "b": Recorder("b")}, {"a": None, "b": None}, runs=7, warmup=1,
                             block=3)
    assert {k: len(v) for k, v in times.items()} == {"a": 7, "b": 7}
    turns = "".join(calls)
    # warm-up, then turns of 1 untimed + 3 timed runs; the last turn has only the run still missing
    assert turns == "ab" + "aaaa" + "bbbb" + "aaaa" + "bbbb" + "aa" + "bb"


def test_local_jobs_run_each_runtime_in_its_own_process(artifacts, tmp_path):
    """android_bench.harness.run.run_local (the studies' way to time, as `android_bench --device local`) on two real
    tiny ONNX artifacts at two lengths: every job a process of its own, cold start and each process's own peak RSS."""
    from argparse import Namespace

    from android_bench.harness.protocol import plan
    from android_bench.harness.artifacts import artifact_folder
    from android_bench.harness.run import inputs_and_flops, run_local
    from android_bench.measurement import timing

    models = ["squeezebert-tiny", "bert-tiny"]
    args = Namespace(out=tmp_path / "out", resume=False, threads=[1], warmup=1, runs=4, denormals="flush",
                     weights="random")
    inputs, _, weights = inputs_and_flops(models, weights="random", seq_lens=[24, 48], folder=tmp_path / "inputs")
    folders = {(m, "onnx", "fp32", None): artifact_folder(artifacts, m, "onnx", "fp32", 48) for m in models}
    ballast = np.ones(2**27)  # 1 GiB resident in this process: a job must not report it as its own peak
    records = run_local(args, plan(models, ["onnx"], ["fp32"], [1], 1, [24, 48]), folders, inputs=inputs,
                        length_weights=weights).records()
    assert {(r["model"], r["seq_len"]) for r in records} == {(m, n) for m in models for n in (24, 48)}
    for r in records:
        extra = r["timing"]["extra"]
        assert len(r["timing"]["samples_ms"]) == 4 and all(ms > 0 for ms in r["timing"]["samples_ms"])
        assert extra["load_ms"] > 0 and extra["first_inference_ms"] > 0 and r["runner"] == "python"
        assert 20 < extra["peak_rss_mb"] < timing.peak_rss_mb() - ballast.nbytes / 2**20 / 2


def test_local_job_that_cannot_open_names_its_path(tmp_path):
    from argparse import Namespace

    from android_bench.harness.protocol import plan
    from android_bench.harness.run import run_local
    from export.runtimes import ArtifactError

    args = Namespace(out=tmp_path / "out", resume=False, threads=[1], warmup=1, runs=4, denormals="flush",
                     weights="random")
    with pytest.raises(ArtifactError, match=r"missing.*no manifest.json"):
        run_local(args, plan(["squeezebert"], ["onnx"], ["fp32"], [1], 1), {("squeezebert", "onnx", "fp32", None):
                  tmp_path / "missing"}, inputs={}, length_weights=None)
