"""The one timing protocol of every Python-side benchmark: the Python runner on a device (pyrunner.py),
`android_bench.studies.precision` and `android_bench.studies.efficiency` all call it, so the same artifact gets the same number
whichever command times it.

- inputs: real sentence text through the model's tokenizer at exactly the timed length, every token real and
  attended, no padding (`benchmark_inputs`), batch 1; the host makes them and the device gets them as a file;
- cold start: load time and the first inference, timed on their own before any warm-up (`cold_start`);
- warm-up: WARMUP untimed runs at each timed length; then RUNS timed runs back to back, as the native tools
  (benchmark_model, onnxruntime_perf_test, the ExecuTorch runner) run them; several runtimes (and lengths) timed
  together alternate in turns of one untimed and up to BLOCK timed runs, each turn after a PAUSE_S pause when
  another runtime ran before (`time_turns`), each runtime in this process (`time_interleaved`): one process per
  job, scheduled by android_bench.harness.run for the device harness and the studies alike; a turn at another
  length than the runtime's last run starts with RESIZE_WARMUP more untimed runs;
- denormal floats flushed to zero while timing (`denormals`, recorded);
- peak resident memory: the process's own high-water mark (`peak_rss_mb`, VmHWM).

No torch or transformers at import: this module is pushed to devices with the Python runner.
"""
from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager

WARMUP = 5
RUNS = 30
PAUSE_S = 0.02  # before a turn that follows another runtime's (time_turns), never between one runtime's runs
BLOCK = 10  # timed runs per turn when several runtimes alternate (time_turns)
# Extra untimed runs when a runtime is fed another length than its last run: TFLite resizes its input tensors and
# re-plans (AllocateTensors, XNNPACK reshape), ONNX Runtime and ExecuTorch re-plan their buffers for the new
# shape. One-off costs of the switch, paid here and not in the timed runs.
RESIZE_WARMUP = 1
DENORMALS = {"flush": "flushed to zero (FTZ/DAZ) while timing", "keep": "kept (IEEE)"}
INPUTS = ("real sentence pairs at their real length: models.SENTENCE_PAIRS (premises joined, hypotheses joined, "
          "repeated as needed) through the model's tokenizer, truncated to the timed length; every token real and "
          "attended, no padding; batch 1")


def benchmark_inputs(tokenizer, seq_len: int) -> dict:
    """The inputs every Python-side benchmark feeds at `seq_len`: exactly `seq_len` real tokens, no padding.

    A pair (premise, hypothesis) as MNLI feeds it, each side the sample sentences joined (repeated until the pair
    is longer than `seq_len`), truncated by the tokenizer (longest first) to `seq_len`, [CLS] and [SEP]s included.
    At 2 tokens (below a pair's 3 special tokens) the premise alone, [CLS] [SEP]."""
    import numpy as np

    from models import INPUT_NAMES, SENTENCE_PAIRS

    premise, hypothesis = (" ".join(side) for side in zip(*SENTENCE_PAIRS))
    for repeat in (1, 2, 4, 8, 16, 32):
        texts = (" ".join([premise] * repeat), " ".join([hypothesis] * repeat))[: 2 if seq_len >= 3 else 1]
        enc = tokenizer(*texts, truncation=True, max_length=seq_len, return_tensors="np", return_token_type_ids=True,
                        return_attention_mask=True)
        if enc["input_ids"].shape[-1] >= seq_len:
            break
    feed = {name: np.ascontiguousarray(enc[name], dtype=np.int64) for name in INPUT_NAMES}
    if feed["input_ids"].shape != (1, seq_len) or int(feed["attention_mask"].sum()) != seq_len:
        raise ValueError(f"benchmark inputs came out {feed['input_ids'].shape} with "
                         f"{int(feed['attention_mask'].sum())} real tokens, not (1, {seq_len}) all real")
    return feed


def describe_inputs(feed: dict) -> dict:
    """What was fed, for the results: the kind, the length and how many tokens are real (not padding)."""
    mask = feed["attention_mask"]
    return {"kind": INPUTS, "seq_len": int(mask.shape[-1]), "real_tokens": int(mask.sum())}


def by_length(feeds: dict) -> dict[int, dict]:
    """{length: feed}: one feed (a dict of named arrays) becomes {its length: it}; a {length: feed} stays."""
    if isinstance(feeds, dict) and feeds and all(isinstance(k, int) for k in feeds):
        return dict(feeds)
    named = isinstance(feeds, dict) and "attention_mask" in feeds
    return {int(feeds["attention_mask"].shape[-1]) if named else 0: feeds}


def record(*, warmup: int, runs: int, denormals: str) -> dict:
    return {"warmup": warmup, "runs": runs, "timed_runs": "back to back", "pause_ms_between_runtimes": PAUSE_S * 1e3,
            "timed_runs_per_turn": BLOCK,
            "untimed_runs_after_a_length_switch": 1 + RESIZE_WARMUP, "denormals": DENORMALS[denormals]}


def cold_start(open_runtime, feed: dict):
    """(runtime, {"load_ms", "first_inference_ms"}): `open_runtime()` and its first run, each timed."""
    start = time.perf_counter()
    runtime = open_runtime()
    load_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    runtime.run(feed)
    return runtime, {"load_ms": load_ms, "first_inference_ms": (time.perf_counter() - start) * 1e3}


class InProcess:
    """One runtime timed in this process: what the protocol's turns do, run by run. `feed` is one feed or
    {length: feed}; `at(length)` is the timer of one length (what `time_turns` alternates)."""

    def __init__(self, runtime, feed):
        self.runtime, self.feeds = runtime, by_length(feed)
        self.length = None  # the length of the last run

    def _run(self, length: int | None) -> None:
        length = max(self.feeds) if length is None else length
        self.runtime.run(self.feeds[length])
        self.length = length

    def warm(self, n: int, length: int | None = None) -> None:
        for _ in range(n):
            self._run(length)

    def turn(self, n: int, length: int | None = None, pause: float = 0.0) -> list[float]:
        """`pause` seconds idle, one untimed run (back in the warm state after whatever ran before; 1 +
        RESIZE_WARMUP at a length other than the last run's), then `n` timed runs back to back; ms."""
        length = max(self.feeds) if length is None else length
        time.sleep(pause)
        self.warm(1 + (RESIZE_WARMUP if self.length not in (None, length) else 0), length)
        feed, times = self.feeds[length], []
        for _ in range(n):
            start = time.perf_counter()
            self.runtime.run(feed)
            times.append((time.perf_counter() - start) * 1e3)
        return times


def time_interleaved(runtimes: dict, feeds: dict, *, runs: int = RUNS, warmup: int = WARMUP,
                     block: int = BLOCK) -> dict[object, list[float]]:
    """Timings in ms of runtimes in this process, each on its own inputs (`feeds`, same keys): `time_turns`."""
    return time_turns({key: InProcess(rt, feeds[key]) for key, rt in runtimes.items()}, runs=runs, warmup=warmup,
                      block=block)


def time_turns(timers: dict, *, runs: int = RUNS, warmup: int = WARMUP, block: int = BLOCK) -> dict[object, list[float]]:
    """Timings in ms: `warmup` untimed runs each, then turns in a round robin (A B C A B C ...) until each
    timer has `runs` timings; a turn is one untimed run and up to `block` timed runs (`InProcess.turn`). A
    timer is an `InProcess` runtime; the Python runner times its one runtime as the case of one.

    Why turns, not single runs: a run right after another model's is slower, and an app runs its one model
    again and again. Seq 128, 1 thread, 12 paths in one process (2-core EPYC, AVX-512 VNNI): alternating single
    runs were 2-22% slower than the same path alone (SqueezeBERT ExecuTorch fp32 61.2 vs 50.1 ms); turns of 5
    cut that to 0-8%. Turns still alternate, so drift reaches every path.

    With several timers each turn starts after a short pause: the thread pool of the runtime that ran before
    keeps spinning for a while (ORT's, XNNPACK's) and, on a 2-core machine, steals the next runtime's second
    thread (2 threads: ORT int8 SqueezeBERT 50.9 ms right after ORT fp32, 37.0 ms after a 20 ms pause). One
    runtime's own runs go back to back: a pause there idles its pool's threads and the next run pays their
    wake-up (LiteRT int8 SqueezeBERT, 32 tokens, 2 threads: 9.1 ms with a 20 ms pause before each run, 4.6 ms
    without; 2-core AMD EPYC VM, 2026-12-06)."""
    for timer in timers.values():
        timer.warm(warmup)
    times = {k: [] for k in timers}
    pause = PAUSE_S if len(timers) > 1 else 0.0
    while any(len(t) < runs for t in times.values()):
        for key, timer in timers.items():
            missing = min(block, runs - len(times[key]))
            if missing:
                times[key].extend(timer.turn(missing, pause=pause))
    return times


def peak_rss_mb() -> float:
    """This process's peak resident set size so far: VmHWM of /proc/self/status (Linux, Android), else ru_maxrss.

    Not ru_maxrss where VmHWM exists: Linux keeps ru_maxrss across exec, so a worker started from a big parent
    reported the parent's peak (every android_bench.studies.efficiency worker read 1515 MB, the parent's, at seq 128)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


@contextmanager
def denormals(mode: str):
    """Flush denormal floats to zero on this thread and the runtime threads started inside, or keep them.

    Padding tokens make ONNX Runtime compute on denormals (most likely its softmax over masked keys), and on
    x86 every denormal operand costs a microcode assist. DAZ removed the whole padding cost: at seq 128 with 105
    padding tokens that was 10 ms of 77 (SqueezeBERT) and 9 of 184 (BERT-base), fp32, 1 thread. XNNPACK (TFLite,
    ExecuTorch) flushes them itself, and phones' ARM cores do not pay for them, so "flush" (the default) times
    every path the way a phone would run it; "keep" shows the x86 cost. Open the runtimes inside: thread pools
    take the flags when they start, and ONNX Runtime, which resets them on session creation, is told to keep
    them. torch sets the flags; where it is not installed, "flush" is an error, not a silent "keep"."""
    if mode not in DENORMALS:
        raise ValueError(f"denormals {mode!r}: choose one of {', '.join(DENORMALS)}")
    try:
        import torch
    except ImportError:
        if mode == "flush":
            raise RuntimeError("--denormals flush needs torch on this device to set FTZ/DAZ; install it or pass "
                               "--denormals keep") from None
        yield
        return
    torch.set_flush_denormal(mode == "flush")  # FTZ/DAZ
    try:
        yield
    finally:
        torch.set_flush_denormal(False)  # a process's default, for callers that go on (tests)
