"""The timing protocol of the desktop benchmarks: interleaved runs with a pause, and the denormal policy."""
from __future__ import annotations

import time
from contextlib import contextmanager

PAUSE_S = 0.02


def time_interleaved(runtimes: dict, feeds: dict, *, runs: int, warmup: int) -> dict[object, list[float]]:
    """Interleaved timings in ms: each round runs every runtime once, on its own inputs (`feeds`, same keys).

    Each timed run starts after a short pause: the thread pool of the runtime that ran before keeps spinning
    for a while (ORT's, XNNPACK's) and, on a 2-core machine, steals the next runtime's second thread. With 2
    threads, ORT int8 SqueezeBERT measured 50.9 ms right after ORT fp32, 37.0 ms after a 20 ms pause."""
    for key, rt in runtimes.items():
        for _ in range(warmup):
            rt.run(feeds[key])
    times = {k: [] for k in runtimes}
    for _ in range(runs):
        for key, rt in runtimes.items():
            time.sleep(PAUSE_S)
            start = time.perf_counter()
            rt.run(feeds[key])
            times[key].append((time.perf_counter() - start) * 1e3)
    return times


DENORMALS = {"flush": "flushed to zero (FTZ/DAZ) while timing", "keep": "kept (IEEE)"}


@contextmanager
def denormals(mode: str):
    """Flush denormal floats to zero on this thread and the runtime threads started inside, or keep them.

    Padding tokens make ONNX Runtime compute on denormals (most likely its softmax over masked keys), and on
    x86 every denormal operand costs a microcode assist. DAZ removed the whole padding cost: at seq 128 with 105
    padding tokens that was 10 ms of 77 (SqueezeBERT) and 9 of 184 (BERT-base), fp32, 1 thread. XNNPACK (TFLite,
    ExecuTorch) flushes them itself, and phones' ARM cores do not pay for them, so "flush" (the default) times
    every path the way a phone would run it; "keep" shows the x86 cost. Open the runtimes inside: thread pools
    take the flags when they start, and ONNX Runtime, which resets them on session creation, is told to keep
    them."""
    import torch

    torch.set_flush_denormal(mode == "flush")  # FTZ/DAZ
    try:
        yield
    finally:
        torch.set_flush_denormal(False)  # a process's default, for callers that go on (tests)
