#!/usr/bin/env bash
# Creates .venv (Python 3.11), installs the pinned environment, and the system packages the tests use
# (adb and bubblewrap for the loopback device, busybox-static for its bare variant, mksh for the launcher test on
# Android's shell, g++ for the native ExecuTorch runner). Usage: bash install.sh
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3.11}
need=()
command -v adb >/dev/null || need+=(adb)
command -v bwrap >/dev/null || need+=(bubblewrap)
command -v g++ >/dev/null || need+=(g++)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v mksh >/dev/null || need+=(mksh)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "install.sh: apt-get install ${need[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  elif command -v apt-get >/dev/null && command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "install.sh: sudo apt-get install ${need[*]}"
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "install.sh: the tests need the system packages ${need[*]}; install them (Debian/Ubuntu: sudo apt-get install ${need[*]}) and rerun" >&2
    exit 1
  fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
# torch first and alone: the CPU wheel on this disk; anything later that asks for torch keeps it.
pip install -q torch==2.13.0
pip install -q -e ".[test]"
pip install -q --no-deps -r requirements-nodeps.txt
python -c "import torch, transformers, onnxruntime, onnxruntime_extensions, ai_edge_litert, executorch, onnx2tf, mediapipe; print('installed: torch', torch.__version__, '| transformers', transformers.__version__, '| mediapipe', mediapipe.__version__)"
