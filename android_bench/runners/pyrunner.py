"""The Python runner: times an artifact in the desktop runtime interface on any device that has Python.

Pushed to the device with models/, export/ and android_bench/measurement/timing.py, and run there as a script:

    python3 pyrunner.py --artifact DIR --inputs inputs.npz --threads 2 --warmup 5 --runs 30 --out result.json

It follows android_bench.measurement.timing, the protocol every Python-side benchmark uses: the inputs the host made
(padded real sentence pairs at the artifact's length), load time and first inference timed on their own, the
warm-up, timed runs back to back (as the native tools run them), denormals flushed (or kept, `--denormals`), and
the process's peak resident memory. With `--profile` the artifact is opened with its runtime's per-op profiler on
(export.runtimes, profile=True: ONNX Runtime, ExecuTorch) and the result holds, under "op_profile", per op type
the median over the timed runs of its time and count ({op: {"ms", "count"}}). The result is written atomically;
the last line printed is a completion marker, because an interrupted `adb shell` may still exit 0.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from android_bench.measurement import timing

DONE_MARKER = "PYRUNNER-DONE"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--artifact", type=Path, required=True, help="artifact folder (model file + manifest.json)")
    p.add_argument("--inputs", type=Path, required=True, help=".npz of the inputs to feed (android_bench.measurement.timing)")
    p.add_argument("--threads", type=int, default=None, help="intra-op threads (default: the runtime's)")
    p.add_argument("--warmup", type=int, default=timing.WARMUP, help="untimed runs after the first inference")
    p.add_argument("--runs", type=int, default=timing.RUNS, help="timed runs")
    p.add_argument("--denormals", choices=list(timing.DENORMALS), default="flush", help="see android_bench.measurement.timing")
    p.add_argument("--profile", action="store_true", help="the runtime's per-op profiler on: op_profile in the result")
    p.add_argument("--out", type=Path, required=True, help="result JSON, written atomically")
    args = p.parse_args(argv)
    import numpy as np

    from export.runtimes import load_artifact

    with np.load(args.inputs) as data:
        feed = {name: data[name] for name in data.files}
    with timing.denormals(args.denormals):
        runtime, cold = timing.cold_start(lambda: load_artifact(args.artifact, threads=args.threads,
                                                                profile=args.profile), feed)
        timer = _Marked(runtime, feed)
        samples = timing.time_turns({"artifact": timer}, runs=args.runs, warmup=args.warmup)["artifact"]
    result = {"runtime": runtime.name, **cold, "peak_rss_mb": timing.peak_rss_mb(), "samples_ms": samples,
              "threads": args.threads, "protocol": timing.record(warmup=args.warmup, runs=args.runs,
                                                                  denormals=args.denormals),
              "inputs": timing.describe_inputs(feed), "python": sys.version.split()[0]}
    if args.profile:
        per_run = runtime.op_profile(skip=1)  # skip: the cold start's first inference
        if len(per_run) != timer.count:
            raise SystemExit(f"{runtime.name}'s profiler saw {len(per_run)} runs after the first, not {timer.count}")
        result["op_profile"] = op_medians([run for i, run in enumerate(per_run) if i not in timer.untimed])
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, args.out)
    print(DONE_MARKER, flush=True)
    return 0


class _Marked(timing.InProcess):
    """timing.InProcess noting which of its runs are untimed (the warm-up, each turn's first), so the profile keeps
    the timed runs only. Runs are counted from its first; the cold start's first inference came before."""

    def __init__(self, runtime, feed):
        super().__init__(runtime, feed)
        self.runtime, self.count, self.untimed = _Counted(runtime, self), 0, set()

    def _run(self, length):
        self.untimed.add(self.count)
        super()._run(length)


class _Counted:
    """A runtime whose runs are counted on `timer.count`."""

    def __init__(self, runtime, timer):
        self._runtime, self._timer = runtime, timer

    def run(self, inputs):
        try:
            return self._runtime.run(inputs)
        finally:
            self._timer.count += 1


def op_medians(per_run: list[dict]) -> dict:
    """{op type: {"ms", "count"}}: the median per-run time and count of each op type over `per_run`
    ({op: ms, "<op>#count": n} per run; an op absent from a run counts 0 there)."""
    import numpy as np

    ops = sorted({k for run in per_run for k in run if not k.endswith("#count")})
    return {op: {"ms": float(np.median([run.get(op, 0.0) for run in per_run])),
                 "count": int(np.median([run.get(f"{op}#count", 0) for run in per_run]))} for op in ops}


if __name__ == "__main__":
    sys.exit(main())
