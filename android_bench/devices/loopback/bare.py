"""The loopback device without a libc, on x86_64: its commands run under bubblewrap with nothing but a static
busybox at /bin (one link per applet), getprop at /system/bin, the device folder at /data/local/tmp, and a fresh
/dev and /proc. No /lib, no /usr, no /tmp: what an x86_64 Android emulator offers a glibc program (bionic only),
so what runs here was pushed self-contained (android_bench.runners.bundle).

    BareLoopbackDevice(root)      ABI x86_64, ro.kernel.qemu=1 (an emulator), otherwise the Pixel 3's props

The static busybox is Debian's busybox-static (/bin/busybox); its folder of applet links is made once under the
cache (android_bench.devices.cache).
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

from models.errors import UserError

from android_bench.devices.cache import cache_home
from android_bench.devices.loopback.device import DEVICE_TMP, SYSTEM_BIN, LoopbackDevice

BUSYBOX = Path("/bin/busybox")
INSTALL_HINT = "apt-get install busybox-static"
PT_INTERP = 3


class BareDeviceError(UserError):
    """No static x86_64 busybox to make the bare device's /bin from."""


def bare_props() -> dict[str, str]:
    return {"ro.product.cpu.abi": "x86_64", "ro.product.cpu.abilist": "x86_64", "ro.kernel.qemu": "1",
            "ro.product.model": "Pixel 3 bare x86_64"}


def is_static(path: Path) -> bool:
    """An x86_64 ELF with no program interpreter (PT_INTERP): it runs without any loader or libc."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or struct.unpack_from("<H", data, 18)[0] != 62:  # ELF64, x86-64
        return False
    phoff, = struct.unpack_from("<Q", data, 32)
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != PT_INTERP for i in range(phnum))


def bare_bin(busybox: Path = BUSYBOX) -> Path:
    """The bare /bin: a static busybox and one link per applet, made once (in a temporary folder, renamed)."""
    folder = cache_home() / "bare-x86_64" / "bin"
    if (folder / "busybox").is_file() and (folder / "sh").is_symlink():
        return folder
    if not busybox.is_file() or not is_static(busybox):
        raise BareDeviceError(f"no static x86_64 busybox at {busybox}: {INSTALL_HINT}")
    staging = folder.with_name(f"bin.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    shutil.copy2(busybox, staging / "busybox")
    applets = subprocess.run([str(staging / "busybox"), "--list"], capture_output=True, text=True, check=True).stdout
    for applet in applets.split():
        if applet != "busybox":
            (staging / applet).symlink_to("busybox")
    shutil.rmtree(folder, ignore_errors=True)
    try:
        os.replace(staging, folder)
    except OSError:  # another process made it meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def sandbox_argv(bwrap: str, bin_folder: Path, system_bin: Path, root: Path) -> list[str]:
    """bwrap's argv up to the command: its own empty root with /bin, /system/bin, /data/local/tmp, /dev, /proc."""
    # /sys/devices/system/cpu as an emulator has it (the harness reads cores and frequencies there)
    return [bwrap, "--die-with-parent", "--dev", "/dev", "--proc", "/proc", "--ro-bind", str(bin_folder), "/bin",
            "--ro-bind", "/sys/devices/system/cpu", "/sys/devices/system/cpu",
            "--ro-bind", str(system_bin), SYSTEM_BIN, "--bind", str(root), DEVICE_TMP, "--chdir", "/", "--"]


class BareLoopbackDevice(LoopbackDevice):
    def __init__(self, root, props: dict[str, str] | None = None, **faults):
        super().__init__(root, {**bare_props(), **(props or {})}, **faults)

    def _sandbox_argv(self, bwrap: str) -> list[str]:
        return sandbox_argv(bwrap, bare_bin(), self._system_bin, self.root)
