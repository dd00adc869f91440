"""The arm64 device: an aarch64 Debian userland under qemu-user on this x86 machine, where the aarch64 builds of
LiteRT, ONNX Runtime and ExecuTorch run the ARM kernels phones run (NEON, dot-product, i8mm).

    python -m android_bench.arm64 setup     # build or reuse it (~/.cache/squeezebert-mobile/arm64), as root
    python -m android_bench.arm64 status    # whether it is built, and what is missing

What it proves: an artifact computes the same on ARM kernels as on x86 and in eager. What it does not: speed.
Emulated code runs 100-300x slower than native and timings under qemu say nothing about a phone.

Modules: profiles (the pinned CPU models, never `max` with SME), host (Debian packages, binfmt_misc), rootfs
(debootstrap, the aarch64 wheels, the bare sandbox), sandbox (bwrap argv for the guest).
"""
