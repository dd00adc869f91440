"""Versions of the tools that made an artifact, and of this pipeline, for its manifest."""
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

TOOLS = ("torch", "transformers", "onnx", "onnxruntime", "onnxruntime-extensions", "onnx2tf", "tensorflow-cpu",
         "ai-edge-litert", "litert-torch", "executorch", "torchao", "mediapipe", "numpy")
PIPELINE = "squeezebert-mobile"


def tool_versions(names=TOOLS) -> dict[str, str]:
    found = {PIPELINE: pipeline_revision()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found


@cache
def pipeline_revision() -> str:
    """This checkout's git commit ("+dirty" with uncommitted changes to tracked files), so a benchmark can tell
    an artifact made by older code; outside a git checkout, the package version."""
    repo = Path(__file__).resolve().parents[1]
    try:
        def git(*args):
            return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30,
                                  check=True).stdout.strip()

        return git("rev-parse", "--short=12", "HEAD") + ("+dirty" if git("status", "--porcelain", "-uno") else "")
    except (OSError, subprocess.SubprocessError):
        try:
            return version(PIPELINE)
        except PackageNotFoundError:
            return "unknown"
