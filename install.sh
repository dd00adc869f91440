#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs the pinned environment. Usage: bash install.sh
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3.11}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
# torch first and alone: the CPU wheel on this disk; anything later that asks for torch keeps it.
pip install -q torch==2.13.0
pip install -q -e ".[test]"
pip install -q --no-deps -r requirements-nodeps.txt
python -c "import torch, transformers, onnxruntime, ai_edge_litert, executorch, onnx2tf; print('installed: torch', torch.__version__, '| transformers', transformers.__version__)"
