"""FLOP counts (FlopCounterMode on the real module == the config's formula) and this machine's roofline."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import models
from android_bench.measurement.flops import analytic_macs, count_flops, count_module_flops
from android_bench.measurement.machine import roofline
from android_bench.studies.flops import main, parser
from android_bench.studies.peers import PEERS
from export import run_main

REPO = Path(__file__).resolve().parents[1]
TINY = [name for name, spec in models.REGISTRY.items() if spec.testing]
GROUP_KEYS = ("q_groups", "k_groups", "v_groups", "post_attention_groups", "intermediate_groups", "output_groups")


@pytest.mark.parametrize("task", models.TASKS)
@pytest.mark.parametrize("name", TINY)
def test_counter_equals_formula(name, task):
    result = count_flops(name, seq_len=32, batch=2, task=task)  # raises if the two disagree
    config = models.load(name, weights="random", task=task).config
    expected = {k: 2 * v for k, v in analytic_macs(config, seq_len=32, batch=2, task=task).items()}
    assert result["breakdown_flops"] == expected
    assert result["flops"] == sum(expected.values()) == 2 * result["macs"]
    assert ("classifier" in expected) == (task == "sequence-classification")


def _squeezebert_flops(**groups) -> dict:
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(**{**models.REGISTRY["squeezebert-tiny"].config_dict(), **groups})
    model = AutoModel.from_config(config, trust_remote_code=False).eval()
    ids = torch.ones(1, 16, dtype=torch.long)
    counted = count_module_flops(model, (ids,))
    assert counted["categories"] == {k: 2 * v for k, v in analytic_macs(config, seq_len=16).items()}
    return counted


def test_grouped_conv_counts_one_gth_of_dense():
    tiny = models.REGISTRY["squeezebert-tiny"].config_dict()
    assert tiny["intermediate_groups"] == tiny["output_groups"] == 4
    grouped = _squeezebert_flops()
    dense = _squeezebert_flops(**{k: 1 for k in GROUP_KEYS})
    assert grouped["categories"]["ffn"] * 4 == dense["categories"]["ffn"]
    assert grouped["by_op"]["aten.convolution"] < dense["by_op"]["aten.convolution"]
    # with every group at 1, SqueezeBERT's convs are BERT's Linears: the same count as tiny BERT
    bert = count_flops("bert-tiny", seq_len=16)
    assert dense["flops"] == bert["flops"]


def test_full_size_ratio_matches_the_paper():
    squeeze = count_flops("squeezebert-mnli-headless", seq_len=128)
    bert = count_flops("bert-base-uncased", seq_len=128)
    assert squeeze["gflops"] == pytest.approx(7.40, abs=0.01)
    assert bert["gflops"] == pytest.approx(22.35, abs=0.01)
    assert 2.9 <= bert["flops"] / squeeze["flops"] <= 3.1


def test_roofline_on_this_machine():
    r = roofline()
    for key in ("cores", "fma_units", "simd_fp32_lanes", "frequency_ghz", "peak_gflops"):
        assert r[key] is not None and r[key] > 0, (key, r["sources"].get(key))
    factors = r["cores"] * r["fma_units"] * r["simd_fp32_lanes"] * r["frequency_ghz"]
    assert r["peak_gflops"] == pytest.approx(2 * factors)
    assert set(r["sources"]) == {"cores", "fma_units", "simd_fp32_lanes", "frequency_ghz"}
    assert all(r["sources"].values())


def test_cli_writes_json(cli, tmp_path):
    out = tmp_path / "flops" / "flops.json"
    proc = cli("android_bench.studies.flops", "--models", "squeezebert-tiny,bert-tiny", "--seq-len", "32",
               "--threads", "1", "--latency-ms", "bert-tiny=2.5", "--out", str(out.parent))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert [m["model"] for m in report["models"]] == ["squeezebert-tiny", "bert-tiny"]
    assert report["models"][0]["ratio_to_first"] == 1.0
    assert report["models"][1]["achieved_gflop_per_s"] == pytest.approx(report["models"][1]["flops"] / 2.5e6)
    assert report["roofline"]["peak_gflops"] > 0
    assert "GFLOPs" in proc.stdout and "roofline" in proc.stdout


@pytest.mark.parametrize("argv, expect", [
    (["--models", "squeezebert-tiny,no-such-model"], "unknown model 'no-such-model': choose one of"),
    (["--models", "bert-tiny", "--latency-ms", "squeezebert-tiny=3"], "--latency-ms"),
    (["--models", "bert-tiny", "--seq-len", "16,x"], "argument --seq-len: '16,x' is not a comma-separated list"),
    (["--models", "bert-tiny", "--seq-len", "1,16"], "argument --seq-len: sequence lengths must be at least 2"),
    (["--models", "bert-tiny", "--seq-len", "16,513"], "argument --seq-len: 513 is more than bert-tiny takes"),
])
def test_bad_input_is_one_line(argv, expect, capsys):
    try:
        code = run_main(main, argv, parser=parser())
    except SystemExit as stop:  # a flag's type error exits from argparse itself, before main
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err and "Traceback" not in err
    if "unknown model" in expect:
        assert all(name in err for name in models.REGISTRY)


def test_efficiency_benchmark_runs_on_tiny_models(tmp_path):
    """android_bench.studies.efficiency end to end on tiny configs (numbers are meaningless at this size), at two lengths:
    one artifact per path made at the longest, timed at both in one round robin."""
    done = subprocess.run([sys.executable, "-m", "android_bench.studies.efficiency", "--models", "squeezebert-tiny,bert-tiny",
                           "--seq-len", "16,48", "--formats", "onnx", "--precisions", "fp32", "--threads", "1",
                           "--runs", "3", "--rounds", "1", "--weights", "random", "--out", str(tmp_path / "eff")], capture_output=True, text=True,
                          timeout=600, cwd=REPO)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "eff" / "efficiency.json").read_text())
    made = sorted(p.name for p in (tmp_path / "eff" / "artifacts" / "bert-tiny").iterdir())  # ours and the peers'
    assert made == sorted(f"{path}-seq48" for path in {r["path"] for r in report["results"]}) and "onnx-fp32-seq48" in made
    # every peer path, int8 ones included, converted and swapped in whole (no scratch folder left beside them)
    peers = ("peer-onnx", "peer-onnx-int8", "peer-litert-torch", "peer-litert-torch-int8")
    assert {f"{p}-seq48" for p in peers} <= set(made)
    # the CPU in the JSON and the table header; the run in the history beside --out (android_bench.measurement.machine)
    assert report["machine"]["kind"] and report["machine"]["cpu"] in done.stdout
    history = json.loads(Path(report["history"]["this_run"]).read_text())
    assert Path(report["history"]["this_run"]).parent == tmp_path / "history"
    assert history["benchmark"] == "efficiency" and history["report"]["results"] == report["results"]
    assert report["history"]["previous_run"] is None  # a fresh history
    rows = {(r["model"], r["path"], r["seq_len"]): r for r in report["results"]}
    assert {("squeezebert-tiny", "onnx-fp32", n) for n in (16, 48)} | {("bert-tiny", "peer-onnx", 16)} <= set(rows)
    flops = {(m, n): count_flops(m, seq_len=n)["flops"] for m in ("squeezebert-tiny", "bert-tiny") for n in (16, 48)}
    for (m, path, n), r in rows.items():
        assert r["flops"] == flops[(m, n)] and r["gflop_per_s"] == pytest.approx(r["flops"] / r["median_ms"] / 1e6)
        assert r["roofline_fraction"] > 0
        # every job one process of the Python runner, as `android_bench --device local` runs it: its own cold
        # start at its length and its own peak RSS
        assert r["load_ms"] > 0 and r["first_inference_ms"] > 0 and r["peak_rss_mb"] > 20
        assert r["cold_start_seq_len"] == n and r["invocations"] == 1 and r["timed_runs"] == 3
    # the same code path as the device harness: every job a record of the local device's Python runner, as it came
    records = [json.loads(line) for line in (tmp_path / "eff" / "results.jsonl").read_text().splitlines()]
    assert len(records) == len(rows) and {(r["device"], r["runner"]) for r in records} == {("local", "python")}
    assert sorted(r["order"] for r in records) == list(range(len(records)))
    # a peer's job names its path in `peer` and keeps its real format and precision (ours: peer None)
    kinds = {(r["peer"], r["format"], r["precision"]) for r in records}
    assert {(p.name, p.format, p.precision) for p in PEERS.values()} | {(None, "onnx", "fp32")} == kinds
    assert all(i["seq_len"] == i["real_tokens"] for feeds in report["inputs"].values() for i in feeds)
    assert {(r["path"], r["seq_len"]) for r in report["ratios"]} >= {("onnx-fp32", 16), ("onnx-fp32", 48),
                                                                     ("peer-onnx", 16)}
    for r in report["ratios"]:
        n = r["seq_len"]
        assert r["flop_ratio"] == pytest.approx(flops[("bert-tiny", n)] / flops[("squeezebert-tiny", n)])
    best = report["best_ours_vs_best_peer"]["1"]
    assert best["ours"]["path"] == "onnx-fp32" and best["seq_len"] == 48
    at_best = {r["seq_len"]: r for r in report["ratios_at_best_precision"]}  # one format, precision, thread count
    assert set(at_best) == {16, 48}
    for n, r in at_best.items():
        assert r["format"] == "onnx" and r["baseline"]["path"] == r["subject"]["path"] == "onnx-fp32"
        ratio = next(x["ratio"] for x in report["ratios"] if x["path"] == "onnx-fp32" and x["seq_len"] == n)
        assert r["ratio"] == pytest.approx(ratio)
    assert report["denormals"].startswith("flushed")
    # the latency at the length distribution (stated, with its source) and the plot
    dist = report["at_length_distribution"]
    assert dist["measured_lengths"] == [16, 48] and dist["source"] and dist["method"]
    assert 16 < dist["mean_tokens"] < 48
    for r in dist["results"]:
        medians = {n: rows[(r["model"], r["path"], n)]["median_ms"] for n in (16, 48)}
        assert min(medians.values()) <= r["expected_ms"] <= max(medians.values())
    assert "latency at a length distribution" in done.stdout
    assert (tmp_path / "eff" / "latency_by_length.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report["plot"] == str(tmp_path / "eff" / "latency_by_length.png")


def test_flops_per_length(tmp_path):
    out = tmp_path / "flops" / "flops.json"
    assert run_main(main, ["--models", "squeezebert-tiny,bert-tiny", "--seq-len", "16,32", "--out", str(out.parent)],
                    parser=parser()) == 0
    report = json.loads(out.read_text())
    assert [(m["model"], m["seq_len"]) for m in report["models"]] == [
        ("squeezebert-tiny", 16), ("bert-tiny", 16), ("squeezebert-tiny", 32), ("bert-tiny", 32)]
    for ratio in report["ratios_to_first"]:
        n = ratio["seq_len"]
        assert ratio["bert-tiny"] == pytest.approx(count_flops("bert-tiny", seq_len=n)["flops"]
                                                   / count_flops("squeezebert-tiny", seq_len=n)["flops"])
