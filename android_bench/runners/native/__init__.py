"""Native benchmark tools built from source here: et_bench_runner (ExecuTorch), see build.py."""
