"""A converter step in a subprocess (TensorFlow, onnx2tf, mediapipe's writers): chatter to a log, failure to one line."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from models.errors import UserError


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL it when the exporter dies (PR_SET_PDEATHSIG), so a killed export does
    not leave onnx2tf running."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def run_step(cmd: list[str], *, log_file: Path, what: str, keep: Path) -> None:
    """Run a converter step in a subprocess; its chatter goes to `log_file`, a failure to one line. `keep`: the
    path prefix of the log kept on failure (the work folder is deleted)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with open(log_file, "w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                              preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    if done.returncode != 0:
        kept = Path(f"{keep}{log_file.name}")
        shutil.copyfile(log_file, kept)
        if done.returncode == -9:
            raise UserError(f"{what} was killed (out of memory?); close other work or use a larger machine; "
                            f"log: {kept}")
        lines = [l.strip() for l in log_file.read_text(errors="replace").splitlines() if l.strip()]
        errors = [l for l in lines if "error" in l.lower() and "oneDNN" not in l] or lines or ["no output"]
        raise UserError(f"{what} failed (exit {done.returncode}): {errors[-1][:300]}; log: {kept}")
