"""The arm64 device's command and its instruction counts, run on this machine.

    python -m android_bench.arm64 setup     # build or reuse the device (android_bench.devices.arm64), as root
    python -m android_bench.arm64 status    # whether it is built, and what is missing
    python -m android_bench.arm64 count ... # ARM64 instructions per inference of each artifact (count.py)

What the device proves: an artifact computes the same on ARM kernels as on x86 and in eager. What it does not:
speed. Emulated code runs 100-300x slower than native and timings under qemu say nothing about a phone; the counts
(counter.py with the TCG plugin insn_count.c, count_guest.py in the guest) are exact work, not time.
"""
