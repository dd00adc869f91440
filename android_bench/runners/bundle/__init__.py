"""A self-contained runtime per ABI, so a phone with nothing but USB debugging runs all four formats: CPython with
numpy, ONNX Runtime and LiteRT, optionally torch, and the ExecuTorch runner, each with glibc's loader and every
library it needs. A phone has bionic and no glibc, but a glibc program runs there when started through its own
loader with its own libraries, which is what the launcher does.

    python -m android_bench.runners.bundle --abi arm64-v8a --out DIR [--torch]

DIR/<abi>/ holds
    base/                       pushed always
      bin/python                POSIX sh launcher (below)
      lib/                      glibc's loader and every library an ELF of base needs (transitively), flat
      python/bin/python3.11     the interpreter ELF
      python/lib/python3.11/    its standard library with lib-dynload, pruned (tests, tkinter, idlelib, ensurepip,
                                lib2to3, pydoc_data, sqlite3, curses, __pycache__)
      site-packages/            numpy, onnxruntime, ai_edge_litert: what inference imports, not their declared
                                extras (flatbuffers, protobuf, ml_dtypes are never imported)
      tools/et_bench_runner     the ExecuTorch runner: sh wrapper starting et_bench_runner.bin through the
                                loader beside it, with its own libraries (android_bench.runners.native.cross)
      part.json
    torch/                      optional (--torch): torch and what `import torch` needs
      site-packages/            torch, typing_extensions, sympy, mpmath, filelock, networkx, jinja2, markupsafe,
                                fsspec (torch's C++ headers, test binaries and test libraries left out)
      lib/                      the libraries torch's ELFs need that base/lib lacks (absent when none)
      part.json
    base.tar, torch.tar         each an uncompressed pax tar of its folder, members "base/...", "torch/..."
    .work/                      the ExecuTorch runner's build, reused by the next build

Unpack the parts side by side on the device (`tar -xf base.tar` in ROOT, same for torch.tar) and run
ROOT/base/bin/python or ROOT/base/tools/et_bench_runner. The launcher finds its folder from $0, creates ROOT/tmp,
unsets LD_PRELOAD and sets PYTHONHOME=ROOT/base/python, PYTHONPATH=ROOT/base/site-packages:
ROOT/torch/site-packages (then the caller's PYTHONPATH), PYTHONNOUSERSITE=1, PYTHONDONTWRITEBYTECODE=1,
HOME=TMPDIR=ROOT/tmp, then execs ROOT/base/lib/<loader> --inhibit-cache --library-path
ROOT/base/lib:ROOT/torch/lib --argv0 ROOT/base/bin/python ROOT/base/python/bin/python3.11 "$@" (so
sys.executable is the launcher). A missing torch part is harmless.

part.json: {"schema": 1, "abi", "part", "files": [{"name", "bytes", "sha256"}], "bytes", "sha256" (over the
sorted lines "name\\0sha256\\n"), "sources"}. A build whose recorded sources equal the current ones reuses the part;
each part is made in a temporary folder, checked closed (check_closed) and swapped in whole, its tar written
under a temporary name, so a killed build never leaves a part that looks complete.

Sources: arm64-v8a from the arm64 root (python -m android_bench.arm64 setup), x86_64 from this machine (the venv's
base interpreter, its site-packages, the host's libraries).
"""
from __future__ import annotations

from android_bench.runners.bundle._build import PARTS, Bundle, Part, build
from android_bench.runners.bundle._elf import BundleError, check_closed
from android_bench.runners.bundle._sources import ABIS

__all__ = ["ABIS", "PARTS", "Bundle", "BundleError", "Part", "build", "check_closed"]
