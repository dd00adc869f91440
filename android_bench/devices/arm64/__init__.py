"""The arm64 device: an aarch64 Debian userland under qemu-user on this x86 machine, where the aarch64 builds of
LiteRT, ONNX Runtime and ExecuTorch run the ARM kernels phones run (NEON, dot-product, i8mm). Built and inspected
with `python -m android_bench.arm64 setup|status`.

Modules: profiles (the pinned CPU models, never `max` with SME), host (Debian packages, binfmt_misc), rootfs
(debootstrap, the aarch64 wheels, the bare sandbox), sandbox (bwrap argv for the guest).
"""
