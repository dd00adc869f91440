"""Long work shows progress: each export stage with its elapsed time, live on a terminal (rich), and one log line
when it ends, so CI logs stay quiet but say where the time went."""
from __future__ import annotations

import contextlib
import logging
import sys
import time

log = logging.getLogger("export")
_live = None  # the one rich Progress while a stage runs (nested stages add rows to it)


@contextlib.contextmanager
def stage(text: str):
    """`with stage("onnx2tf"): ...`: a spinner and the elapsed time on a terminal; '<text>: 12.3 s' at the end."""
    global _live
    started = time.perf_counter()
    owner = _live is None and sys.stderr.isatty()
    if owner:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        _live = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                         console=Console(stderr=True), transient=True)
        _live.start()
    task = _live.add_task(text, total=None) if _live is not None else None
    try:
        yield
    finally:
        if task is not None:
            _live.remove_task(task)
        if owner:
            _live.stop()
            _live = None
        log.info("%s: %.1f s", text, time.perf_counter() - started)
