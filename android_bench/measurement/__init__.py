"""Measurement, shared by every benchmark and run wherever the timing runs (this machine, a device's Python):
timing (the one timing protocol), results and statistics, lengths, FLOPs, the machine's CPU, the run history, and
the reports. Nothing here imports a device or a runner. `timing` loads neither torch nor transformers at import: it
is pushed to devices with the Python runner."""
