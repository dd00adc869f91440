"""android_bench.studies.op_profile end to end on a tiny config: the runtimes' own per-op profilers at 1 and 2 threads
(numbers are meaningless at this size; what is checked is that they are real, complete and consistent)."""
import json

import pytest


def test_op_profile_of_onnx_and_executorch(cli, tmp_path):
    proc = cli("android_bench.studies.op_profile", "--models", "squeezebert-tiny", "--formats", "onnx,executorch",
               "--precisions", "fp32", "--threads", "1,2", "--seq-len", "16", "--runs", "3", "--warmup", "1",
               "--rounds", "1", "--weights", "random", "--out", str(tmp_path / "prof"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "prof" / "op_profile.json").read_text())
    assert report["machine"]["cpu"] in proc.stdout and report["inputs"]["squeezebert-tiny"]["real_tokens"] == 16
    rows = {r["path"]: r for r in report["results"]}
    assert set(rows) == {"onnx-fp32", "executorch-fp32"}
    # squeezebert-tiny's grouped layers, 2 layers: ONNX one grouped Conv each (q+k+v, intermediate, output),
    # ExecuTorch one linear a group
    gemm = {"onnx-fp32": ("Conv", 2 * 3), "executorch-fp32": ("Fully Connected (NC, F32) GEMM", 2 * 3 * 4)}
    for path, r in rows.items():
        ops = {o["op"]: o for o in r["ops"]}
        op, count = gemm[path]
        assert op in ops and ops[op]["count"] >= count
        for t in ("1", "2"):
            assert 0 < r["ops_ms"][t] <= r["run_ms"][t] * 1.05  # the ops happen inside the timed run
        assert r["gain"]["2"] == pytest.approx(r["run_ms"]["1"] / r["run_ms"]["2"])
        top = r["ops"][0]
        assert top["ms"]["1"] == max(o["ms"]["1"] for o in r["ops"])  # sorted by time at the fewest threads
        assert top["gain"]["2"] == pytest.approx(top["ms"]["1"] / top["ms"]["2"])
        assert not any(o["op"] in ("OPERATOR_CALL", "DELEGATE_CALL") for o in r["ops"])  # wrappers not counted twice
    assert (tmp_path / "history").is_dir() and report["history"].startswith(str(tmp_path / "history"))
    assert f"{rows['onnx-fp32']['path']}" in proc.stdout and "2t gain" in proc.stdout


def test_op_profile_refuses_tflite_in_one_line(cli, tmp_path):
    proc = cli("android_bench.studies.op_profile", "--models", "squeezebert-tiny", "--formats", "tflite",
               "--out", str(tmp_path))
    err = proc.stderr.strip()
    assert proc.returncode != 0 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "no per-op profiler" in err and "onnx, executorch" in err
    assert not (tmp_path / "artifacts").exists()  # refused before any export


def test_runtime_profile_gives_per_op_times_within_each_run(exported):
    """export.runtimes' profile=True on a tiny ONNX artifact: one profile per run, every op type with a count, the
    op times of a run summing to at most that run's time."""
    import time

    from android_bench.measurement import timing
    from export.runtimes import load_artifact

    loaded, artifact = exported("onnx", "squeezebert-tiny", "feature-extraction", 16)
    feed = timing.benchmark_inputs(loaded.tokenizer, 16)
    runtime = load_artifact(artifact.dir, threads=1, profile=True)
    wall = []
    for _ in range(4):
        start = time.perf_counter()
        runtime.run(feed)
        wall.append((time.perf_counter() - start) * 1e3)
    per_run = runtime.op_profile(skip=1)
    assert len(per_run) == 3
    for run, ms in zip(per_run, wall[1:]):
        ops = [k for k in run if not k.endswith("#count")]
        assert "MatMul" in ops and all(run[f"{op}#count"] >= 1 for op in ops)
        assert 0 < sum(run[op] for op in ops) <= ms


def test_litert_refuses_profile_in_one_line(tmp_path):
    from export.runtimes import ArtifactError, open_runtime

    model = tmp_path / "model.tflite"
    model.write_bytes(b"\0" * 16)
    with pytest.raises(ArtifactError) as refused:
        open_runtime(model, input_names=["input_ids"], output_names=["logits"], profile=True)
    text = str(refused.value)
    assert len(text.splitlines()) == 1 and "profile" in text and "onnx, executorch" in text
