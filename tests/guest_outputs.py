"""Pushed to a device with models/ and export/ and run there: each artifact's outputs on given inputs.

    python guest_outputs.py ARTIFACT_DIR,INPUTS.npz,OUT.npz [...]

Opens the artifact in export.runtimes (the same interface as on the desktop, here with the device's builds of
the runtimes), runs it once on 1 thread, saves the named outputs. Last line: GUEST-OUTPUTS-DONE.
"""
import sys

import numpy as np

from export.runtimes import load_artifact

DONE = "GUEST-OUTPUTS-DONE"

for spec in sys.argv[1:]:
    artifact, inputs, out = spec.split(",")
    with np.load(inputs) as data:
        feed = {name: data[name] for name in data.files}
    np.savez(out, **load_artifact(artifact, threads=1).run(feed))
    print(f"{artifact}: {out}", flush=True)
print(DONE, flush=True)
