"""Runtimes timed each in its own process, the parent driving android_bench.measurement.timing's turns.

`android_bench.studies.efficiency` times a dozen paths against each other. A phone app holds one model, and
`android_bench --device local` runs each artifact in a process of its own, so each path here gets one too: it
opens the runtime once (timed: load and first inference), then waits on a pipe while the others take their
turns, and reports its own peak resident memory (VmHWM) at the end. Measured 2026-12-03 (seq 128, 2-core EPYC,
AVX-512 VNNI): this did not close the whole gap to the local device; ONNX Runtime paths were still 23-26%
slower here at 1 thread while TFLite agreed within 0-12% (issue 18).
"""
from __future__ import annotations

import multiprocessing as mp

from android_bench.measurement import timing


def _serve(conn, open_runtime, feeds: dict, denormals: str) -> None:
    """The worker: open the runtime (cold start at the longest length), then run what the parent asks ("warm",
    "turn" at a length, "stop") until "stop"."""
    try:
        with timing.denormals(denormals):  # thread pools take the flags when they start: open inside
            runtime, cold = timing.cold_start(open_runtime, feeds[max(feeds)])
            conn.send(("ready", cold))
            timer = timing.InProcess(runtime, feeds)
            timer.length = max(feeds)  # the cold start ran there
            while True:
                command, n, length = conn.recv()
                if command == "warm":
                    conn.send(("ok", timer.warm(n, length)))
                elif command == "turn":
                    conn.send(("ok", timer.turn(n, length)))
                else:
                    conn.send(("ok", {"peak_rss_mb": timing.peak_rss_mb()}))
                    return
    except Exception as exc:  # the parent says which path failed; the message is the worker's
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


class Isolated:
    """A timer (android_bench.measurement.timing.time_turns) whose runtime lives in a process of its own.

    `open_runtime` is a picklable callable (a module-level function or a functools.partial of one) that returns
    the runtime; it runs in the worker, which is started with "spawn" so it inherits no thread pools. `feed` is one
    feed or {length: feed}: one worker, one loaded model, every length (`at(length)` is the timer of one length,
    android_bench.measurement.timing.AtLength); the cold start is timed at the longest."""

    def __init__(self, label: str, open_runtime, feed: dict, *, denormals: str = "flush"):
        self.label = label
        self.feeds = timing.by_length(feed)
        spawn = mp.get_context("spawn")
        self.conn, child = spawn.Pipe()
        self.process = spawn.Process(target=_serve, args=(child, open_runtime, self.feeds, denormals), daemon=True,
                                     name=f"timing {label}")
        self.process.start()
        child.close()
        self.cold_start = self._reply()  # {"load_ms", "first_inference_ms"}

    def _reply(self):
        try:
            status, value = self.conn.recv()
        except EOFError:
            self.process.join(5)
            raise RuntimeError(f"{self.label}: its timing process died (exit code {self.process.exitcode})") from None
        if status == "error":
            raise RuntimeError(f"{self.label}: {value}")
        return value

    def warm(self, n: int, length: int | None = None) -> None:
        self.conn.send(("warm", n, length))
        self._reply()

    def turn(self, n: int, length: int | None = None) -> list[float]:
        self.conn.send(("turn", n, length))
        return self._reply()

    def at(self, length: int) -> timing.AtLength:
        return timing.AtLength(self, length)

    def stop(self) -> dict:
        """{"peak_rss_mb"} of the worker, which then exits."""
        self.conn.send(("stop", 0, None))
        memory = self._reply()
        self.process.join(30)
        return memory

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
