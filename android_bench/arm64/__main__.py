"""`python -m android_bench.arm64 setup|status|count`: build (idempotent, cached) or check the arm64 device, or count
the ARM64 instructions per inference of artifacts on it (android_bench.arm64.count)."""
from __future__ import annotations

import argparse
import shutil
import time


def parser() -> argparse.ArgumentParser:
    from export import ArgumentParser

    from android_bench.arm64.count import add_arguments

    p = ArgumentParser(prog="python -m android_bench.arm64", description=__doc__.split(":", 1)[1].strip())
    commands = p.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)
    setup_p = commands.add_parser("setup", help="install the host packages, register qemu-aarch64, build the root "
                                                "and fetch the aarch64 runtimes (each step skipped when done)")
    setup_p.add_argument("--force", action="store_true", help="delete the root and build it again")
    status_p = commands.add_parser("status", help="what is built")
    count_p = commands.add_parser("count", help="ARM64 instructions per inference of each artifact (emulated, "
                                                "not time): table, OUT/counts.json and the history")
    add_arguments(count_p)
    for sub in (setup_p, status_p, count_p):
        sub.add_argument("-v", "--verbose", action="store_true", help="tracebacks instead of one-line errors")
    return p


def setup(force: bool = False, log=print) -> None:
    from android_bench.runners.native import cross
    from android_bench.devices.arm64 import host
    from android_bench.devices.arm64 import rootfs

    started = time.monotonic()
    last = [started]

    def took(what: str) -> None:
        now = time.monotonic()
        log(f"  {what}: {now - last[0]:.0f} s")
        last[0] = now

    if force:
        shutil.rmtree(rootfs.home(), ignore_errors=True)
    host.ensure_packages(log)
    host.ensure_binfmt(log)
    took("host packages and binfmt_misc")
    root = rootfs.build_debian(log)
    took("Debian arm64 root")
    pins = rootfs.install_runtimes(root, log)
    pins.append(rootfs.install_torch(root, log))
    took("aarch64 runtimes")
    rootfs.install_bare(root)
    sdk = cross.wheel_sdk(cross.target("arm64-v8a"), log=log)
    took("bare sandbox and the aarch64 executorch SDK")
    said = rootfs.smoke_check(root)
    took("smoke check under qemu")
    log(f"arm64 device ready in {time.monotonic() - started:.0f} s: {root} ({said}; {' '.join(pins)}; "
        f"executorch SDK {sdk.parent.name})")


def status() -> int:
    from android_bench.devices.arm64 import rootfs

    problem = rootfs.built()
    if problem:
        print(f"arm64 device not built: {problem}; run `python -m android_bench.arm64 setup`")
        return 1
    print(f"arm64 device built: {rootfs.root_dir()}, runtimes {' '.join(rootfs.runtime_pins())}")
    return 0


def main(argv=None) -> int:
    from export import run_main

    code = 0

    def go(args):
        nonlocal code
        if args.command == "setup":
            setup(force=args.force)
        elif args.command == "count":
            from android_bench.arm64.count import run

            run(args)
        else:
            code = status()

    return run_main(go, argv, parser=parser()) or code


if __name__ == "__main__":
    raise SystemExit(main())
