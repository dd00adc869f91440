"""android_bench: latency of exported artifacts on Android devices over adb and on this machine, the desktop studies,
and ARM64 instruction counts.

Layers by where the code runs, each importing only those below it (import-linter checks it):
studies/ and arm64/ (desktop studies; the arm64 command and counts) <- harness/ (shared flags, artifacts, the
protocol, `python -m android_bench`) <- runners/ (one module per benchmark tool; the Python runner, whose
pyrunner.py runs on the device) <- devices/ (local, adb, the arm64 and loopback devices) <- measurement/ (timing,
results and statistics, lengths, FLOPs, the CPU, history, reports).
"""
