"""Serve a loopback device to the adb server, for using the harness by hand.

    python -m android_bench.devices.loopback --arm64 a76                   # until Ctrl-C; prints the serial
    python -m android_bench.devices.loopback --arm64 a76 --bare -- python -m android_bench --device {serial} ...

Starts the device (android_bench/devices/loopback: the x86 Pixel-3-like one, or with --arm64 PROFILE the arm64 one under
qemu-user), `adb connect`s it to the adb server of $ANDROID_ADB_SERVER_PORT (default 5037, started if needed),
and then either serves until Ctrl-C or runs the command after `--` with {serial} replaced, and exits with its
exit code. The device's /data/local/tmp is a temporary folder, removed at the end.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m android_bench.devices.loopback", description=__doc__.split("\n\n")[0])
    p.add_argument("--arm64", metavar="PROFILE", default=None,
                   help="the arm64 device with this CPU profile (a76, i8mm); needs python -m android_bench.arm64 setup")
    p.add_argument("--bare", action="store_true", help="arm64: nothing but a static busybox on the device (no libc)")
    p.add_argument("--adb", default=shutil.which("adb") or "adb", help="the adb binary")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ...: run it with {serial} replaced, then stop")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    from android_bench.devices.loopback.device import LoopbackDevice

    folder = tempfile.mkdtemp(prefix="loopback-data-local-tmp-")
    if args.arm64:
        from android_bench.devices.loopback.arm64 import Arm64LoopbackDevice, not_built

        if (reason := not_built()) is not None:
            p.exit(2, f"{p.prog}: error: {reason}\n")
        try:
            device = Arm64LoopbackDevice(folder, profile=args.arm64, bare=args.bare)
        except Exception as exc:  # an unknown profile: one line
            p.exit(2, f"{p.prog}: error: {exc}\n")
    else:
        device = LoopbackDevice(folder)
    device.start()
    try:
        subprocess.run([args.adb, "start-server"], capture_output=True, check=False)
        said = subprocess.run([args.adb, "connect", device.serial], capture_output=True, text=True).stdout.strip()
        if f"connected to {device.serial}" not in said:  # adb connect exits 0 on failure too
            p.exit(1, f"{p.prog}: error: adb connect {device.serial} failed: {said}\n")
        deadline = time.monotonic() + 15
        while f"{device.serial}\tdevice" not in subprocess.run([args.adb, "devices"], capture_output=True,
                                                               text=True).stdout:
            if time.monotonic() > deadline:
                p.exit(1, f"{p.prog}: error: {device.serial} never reached state `device`\n")
            time.sleep(0.1)
        print(f"serving {device.serial} ({device.props['ro.product.model']}, ABI {device.props['ro.product.cpu.abi']})",
              file=sys.stderr, flush=True)
        if command:
            return subprocess.run([part.replace("{serial}", device.serial) for part in command]).returncode
        print(device.serial, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    finally:
        subprocess.run([args.adb, "disconnect", device.serial], capture_output=True)
        device.stop()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
