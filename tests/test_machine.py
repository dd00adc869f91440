"""android_bench.measurement.machine: the CPU recorded with every benchmark, and the run history."""
import json
from pathlib import Path

from android_bench.measurement import history, machine


def test_describe_reads_this_cpu():
    m = machine.describe()
    flags = set(Path("/proc/cpuinfo").read_text().split("flags", 1)[1].split("\n", 1)[0].lstrip(" \t:").split())
    assert set(m["flags"]) == flags and set(m["simd"]) == flags & set(machine.SIMD)
    assert m["cpu"] and m["logical_cpus"] >= 1 and m["cores"] >= 1
    assert m["threads_per_core"] == m["logical_cpus"] // m["cores"]
    assert m["cpu"] in m["kind"] and all(f in m["kind"] for f in m["simd"])
    assert m["cpu"] in machine.header(m)


def test_history_finds_the_last_run_on_the_same_kind_of_cpu(tmp_path):
    here = machine.describe()
    other = {**here, "kind": "another CPU [avx2]"}
    (tmp_path / "20260101T000000Z-efficiency.json").write_text(json.dumps({"report": {"machine": here, "n": 1}}))
    (tmp_path / "20260102T000000Z-efficiency.json").write_text(json.dumps({"report": {"machine": other, "n": 2}}))
    (tmp_path / "20260103T000000Z-efficiency.json").write_text("{damaged")  # skipped, never fatal
    (tmp_path / "20260104T000000Z-int8.json").write_text(json.dumps({"report": {"machine": here, "n": 3}}))
    saved = history.save_run("efficiency", {"machine": here, "n": 4}, tmp_path)
    entry = json.loads(saved.read_text())
    assert entry["benchmark"] == "efficiency" and entry["report"]["n"] == 4 and entry["time_utc"] in saved.name
    previous = history.previous_run("efficiency", here, tmp_path, before=saved)
    assert previous["report"]["n"] == 1 and previous["path"].endswith("20260101T000000Z-efficiency.json")
    assert history.previous_run("efficiency", other, tmp_path, before=saved)["report"]["n"] == 2
    assert history.previous_run("efficiency", here, tmp_path)["report"]["n"] == 4  # without `before`: the newest
    assert history.previous_run("flops", here, tmp_path) is None
