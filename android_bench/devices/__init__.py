"""Devices: Android phones and emulators through the real adb server (adbutils), and this machine (`local`).

Both offer the same small surface: shell (exit code + output), push, pull, and `facts()`, the device
description recorded with every result. Facts a device does not expose are recorded as missing (None),
never guessed. A device's results are keyed on its `id`, its hardware serial number when it has one, so a phone or
emulator that reconnects under another adb serial continues its run (`identify`). An emulated device (an Android emulator, or an arm64 userland under qemu-user) says so in
`emulated`, and every report built from its timings is labelled with it: they are not phone speed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from models.errors import UserError

class DeviceError(UserError):
    """The device went away, refused a command, or was never usable (offline, unauthorized)."""


@dataclass
class ShellResult:
    exit_code: int
    output: str


def free_bytes(device, folder: str) -> int | None:
    """Free bytes of the filesystem holding `folder` on the device (`df -Pk`, as toybox, busybox and coreutils print
    it); None when the device does not say."""
    import logging

    output = device.shell(["df", "-Pk", folder], what="reading its free space").output
    rows = [line.split() for line in output.splitlines() if line.strip()]
    try:
        return int(rows[-1][3]) * 1024
    except (IndexError, ValueError):
        logging.getLogger("android_bench").warning("%s: free space unknown (df said %r)", device.serial,
                                                   output.strip()[-80:])
        return None


def identify(devices: list) -> list[dict]:
    """Each device's facts, and its `id` set, what its results are keyed on: its serial number (and AVD name), the
    same when it reconnects under another adb serial; else, or if two attached devices share it, its adb serial."""
    facts = [device.facts() for device in devices]
    stable = ["/".join(v for v in (f.get("identity") or {}).values() if v) for f in facts]
    for device, name in zip(devices, stable):
        device.id = name if name and stable.count(name) == 1 else device.serial
    return facts


def connect(spec: str, *, host: str = "127.0.0.1", port: int | None = None, workdir: Path | None = None) -> list:
    """`local`, a serial, or `all` (every device in state `device`) -> devices."""
    if spec == "local":
        from android_bench.devices.local import LocalDevice

        return [LocalDevice(workdir)]
    if spec == "all":
        import adbutils

        from android_bench.devices.adb import AdbDevice, _first_line, _list_devices

        client = adbutils.AdbClient(host=host, port=port or int(os.environ.get("ANDROID_ADB_SERVER_PORT", 5037)))
        try:
            serials = [s for s, state in _list_devices(client) if state == "device"]
        except Exception as exc:
            raise DeviceError(f"no adb server at {host}:{port or 5037} ({_first_line(exc)}); "
                              "start it with `adb start-server`") from exc
        if not serials:
            raise DeviceError("--devices all: no device in state `device`; check `adb devices`")
        return [AdbDevice(s, host=host, port=port) for s in serials]
    from android_bench.devices.adb import AdbDevice

    return [AdbDevice(spec, host=host, port=port)]
