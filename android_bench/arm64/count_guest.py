"""Runs inside the arm64 guest (aarch64 Python under qemu-user with the counting plugin): load an artifact in its
desktop runtime at 1 thread, then run it `--runs` times on the inputs file. No timing and no output: what the
plugin counts is the guest's instructions, and `count` subtracts two runs' totals, so loading cancels out.

    python count_guest.py --artifact DIR --inputs inputs.npz --runs N
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from the repository: its packages

DONE_MARKER = "COUNT-GUEST-DONE"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--artifact", required=True, help="artifact folder (model file + manifest.json)")
    p.add_argument("--inputs", required=True, help=".npz of the inputs to feed (android_bench.measurement.timing)")
    p.add_argument("--runs", type=int, required=True, help="inferences after loading")
    args = p.parse_args(argv)
    import numpy as np

    from export.runtimes import load_artifact

    with np.load(args.inputs) as data:
        feed = {name: data[name] for name in data.files}
    runtime = load_artifact(args.artifact, threads=1)
    for _ in range(args.runs):
        runtime.run(feed)
    print(DONE_MARKER, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
