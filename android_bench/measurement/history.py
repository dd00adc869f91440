"""The benchmarks' run history: one JSON per run beside the benchmark's output folder (OUT/../history: build/history
with every benchmark's default --out), with the machine (android_bench.measurement.machine), the commit and the
command; `previous_run` finds the last run of the same benchmark on the same kind of CPU to compare a change with."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def save_run(benchmark: str, report: dict, history: Path) -> Path:
    """Write this run (`report` with its "machine") as history/<UTC time>-<benchmark>.json, atomically."""
    from export import write_json_atomic

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = Path(history) / f"{stamp}-{benchmark}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, {"benchmark": benchmark, "time_utc": stamp, "commit": _commit(),
                             "command": [Path(sys.argv[0]).name, *sys.argv[1:]], "report": report})
    return path


def previous_run(benchmark: str, machine: dict, history: Path, *, before: Path | None = None) -> dict | None:
    """The newest history entry of `benchmark` on the same kind of CPU as `machine` (older than `before`), with
    its "path"; None when there is none."""
    entries = sorted(Path(history).glob(f"*-{benchmark}.json"), reverse=True) if Path(history).is_dir() else []
    for path in entries:
        if before is not None and path.name >= Path(before).name:
            continue
        try:
            entry = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # a damaged entry is skipped, not fatal: history is for comparing, never an input
        if entry.get("report", {}).get("machine", {}).get("kind") == machine["kind"]:
            return {**entry, "path": str(path)}
    return None

