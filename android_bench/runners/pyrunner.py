"""The Python runner: times an artifact in the desktop runtime interface on any device that has Python.

Pushed to the device with models/, export/ and android_bench/measurement/timing.py, and run there as a script:

    python3 pyrunner.py --artifact DIR --inputs inputs.npz --threads 2 --warmup 5 --runs 30 --out result.json

It follows android_bench.measurement.timing, the protocol every Python-side benchmark uses: the inputs the host made
(padded real sentence pairs at the artifact's length), load time and first inference timed on their own, the
warm-up, timed runs with a pause before each, denormals flushed (or kept, `--denormals`), and the process's
peak resident memory. The result is written atomically; the last line printed is a completion marker,
because an interrupted `adb shell` may still exit 0.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DONE_MARKER = "PYRUNNER-DONE"


def main(argv=None) -> int:
    from android_bench.measurement import timing

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--artifact", type=Path, required=True, help="artifact folder (model file + manifest.json)")
    p.add_argument("--inputs", type=Path, required=True, help=".npz of the inputs to feed (android_bench.measurement.timing)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: the runtime's)")
    p.add_argument("--warmup", type=int, default=timing.WARMUP, help="untimed runs after the first inference")
    p.add_argument("--runs", type=int, default=timing.RUNS, help="timed runs")
    p.add_argument("--denormals", choices=list(timing.DENORMALS), default="flush", help="see android_bench.measurement.timing")
    p.add_argument("--out", type=Path, required=True, help="result JSON, written atomically")
    args = p.parse_args(argv)
    import numpy as np

    from export.runtimes import load_artifact

    with np.load(args.inputs) as data:
        feed = {name: data[name] for name in data.files}
    with timing.denormals(args.denormals):
        runtime, cold = timing.cold_start(lambda: load_artifact(args.artifact, threads=args.threads), feed)
        samples = timing.time_interleaved({"artifact": runtime}, {"artifact": feed}, runs=args.runs,
                                          warmup=args.warmup)["artifact"]
    result = {"runtime": runtime.name, **cold, "peak_rss_mb": timing.peak_rss_mb(), "samples_ms": samples,
              "threads": args.threads, "protocol": timing.record(warmup=args.warmup, runs=args.runs,
                                                                  denormals=args.denormals),
              "inputs": timing.describe_inputs(feed), "python": sys.version.split()[0]}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, args.out)
    print(DONE_MARKER, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
