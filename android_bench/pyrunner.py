"""The Python runner: times an artifact in the desktop runtime interface on any device that has Python.

Pushed to the device with export/runtimes/ (and the one module it imports) and run there as a script:

    python3 pyrunner.py --artifact DIR --threads 2 --warmup 5 --runs 30 --out result.json

Inputs follow the artifact's manifest (names, dtypes, sequence length): token ids drawn from
`--id-range` so they stay inside the vocabulary, attention mask all ones, token types zero. The result
(per-run latencies in ms) is written atomically; the last line printed is a completion marker, because an
interrupted `adb shell` may still exit 0.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

DONE_MARKER = "PYRUNNER-DONE"


def make_inputs(manifest: dict, id_range: tuple[int, int]):
    import numpy as np

    rng = np.random.default_rng(0)
    seq_len = manifest["seq_len"]
    inputs = {}
    for spec in manifest["inputs"]:
        shape = [seq_len if d == "sequence" else 1 if d == "batch" else d for d in spec["shape"]]
        if spec["name"] == "input_ids":
            value = rng.integers(*id_range, size=shape)
        elif spec["name"] == "attention_mask":
            value = np.ones(shape)
        else:
            value = np.zeros(shape)
        inputs[spec["name"]] = value.astype(spec["dtype"])
    return inputs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--artifact", type=Path, required=True, help="artifact folder (model file + manifest.json)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: the runtime's)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    p.add_argument("--runs", type=int, default=30, help="timed runs")
    p.add_argument("--id-range", default="1000,2000", help="token ids drawn from [low,high)")
    p.add_argument("--out", type=Path, required=True, help="result JSON, written atomically")
    args = p.parse_args(argv)
    from export.runtimes import load_artifact, read_manifest

    manifest = read_manifest(args.artifact)
    low, high = (int(x) for x in args.id_range.split(","))
    inputs = make_inputs(manifest, (low, high))
    started = time.perf_counter()
    runtime = load_artifact(args.artifact, threads=args.threads)
    load_ms = (time.perf_counter() - started) * 1e3
    for _ in range(args.warmup):
        runtime.run(inputs)
    samples = []
    for _ in range(args.runs):
        start = time.perf_counter()
        runtime.run(inputs)
        samples.append((time.perf_counter() - start) * 1e3)
    result = {"runtime": runtime.name, "load_ms": load_ms, "samples_ms": samples, "threads": args.threads,
              "warmup": args.warmup, "python": sys.version.split()[0]}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, args.out)
    print(DONE_MARKER, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
