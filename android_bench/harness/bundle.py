"""The runtime bundle on a device, for the jobs no native tool in --tools times: built here for the device's ABI
(android_bench.runners.bundle, cached by content) and pushed once to runners.bundle_dir(abi), one tar per part
unpacked there. A part is skipped when the device holds the same content (its `<part>.sha256` marker, written after
the unpacking succeeded: a push or unpacking that was cut off leaves none, so it is done again). The device's free
space is checked before anything is pushed."""
from __future__ import annotations

import logging
import re
import shlex
import sys

from models.errors import UserError

from android_bench.devices import DeviceError, free_bytes
from android_bench.runners import BUNDLE_ROOT, bundle_dir
from android_bench.runners.bundle import PARTS  # in push order: base first

log = logging.getLogger("android_bench")
MARGIN = 64 << 20  # room for the run folder's artifacts and results beside the bundle


def parts_needed(runners) -> list[str]:
    """The bundle parts the runners need, in push order (base first)."""
    wanted = {part for runner in runners for part in runner.bundle_parts}
    return [part for part in PARTS if part in wanted]


def build(abi: str, parts: list[str]):
    """The bundle for `abi` with `parts`, built or reused from the cache (android_bench.runners.bundle)."""
    from android_bench.devices.cache import cache_home
    from android_bench.runners import bundle

    return bundle.build(abi, cache_home() / "bundle", torch="torch" in parts, log=log.info)


def ensure_on_device(device, built, parts: list[str]) -> list[str]:
    """Push the `parts` of the bundle `built` that `device` lacks; the names of those pushed."""
    root = bundle_dir(built.abi)
    on_device = _markers(device, root)
    todo = [built.parts[name] for name in parts if on_device.get(name) != built.parts[name].sha256]
    if not todo:
        log.info("%s: the runtime bundle (%s) is on the device already", device.serial, ", ".join(parts))
        return []
    needed = sum(part.tar.stat().st_size + part.bytes for part in todo) + MARGIN  # the tar and its content at once
    free = free_bytes(device, BUNDLE_ROOT.rpartition("/")[0])
    if free is not None and free < needed:
        raise UserError(f"{device.serial} has {free / 1e6:.0f} MB free in /data/local/tmp; the runtime bundle "
                        f"({', '.join(p.name for p in todo)}) needs {needed / 1e6:.0f} MB there: free space on the "
                        "device, or pass --tools with the native tools")
    for part in todo:
        _push_part(device, root, part)
    return [part.name for part in todo]


def _markers(device, root: str) -> dict[str, str]:
    """{part: content sha256} of the parts completely on the device."""
    script = "; ".join(f"echo {p}=$(cat {shlex.quote(f'{root}/{p}.sha256')} 2>/dev/null)" for p in PARTS)
    output = device.shell(script, what="reading its bundle").output
    return {m.group(1): m.group(2) for m in re.finditer(r"^(\w+)=([0-9a-f]{64})\s*$", output, re.M)}


def _push_part(device, root: str, part) -> None:
    """One part: the stale copy and its marker removed, the tar pushed (with progress), unpacked, the tar removed,
    the marker written last."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    folder, tar, marker = (f"{root}/{part.name}{suffix}" for suffix in ("", ".tar", ".sha256"))
    device.shell(["rm", "-rf", folder, tar, marker], what="removing a stale bundle")
    device.shell(["mkdir", "-p", root], what="making the bundle folder")
    size = part.tar.stat().st_size
    log.info("%s: pushing the runtime bundle's %s part (%.0f MB)", device.serial, part.name, size / 1e6)
    with Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True,
                  disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"{device.serial}: {part.name}", total=size)
        device.push(part.tar, tar, progress=lambda n: progress.advance(task, n))
    q = shlex.quote
    unpacked = device.shell(f"cd {q(root)} && tar -xf {q(part.name + '.tar')} && rm -f {q(part.name + '.tar')} && "
                            f"echo {part.sha256} > {q(part.name + '.sha256.tmp')} && "
                            f"mv {q(part.name + '.sha256.tmp')} {q(part.name + '.sha256')} && echo BUNDLE-OK",
                            timeout=1800, what=f"unpacking the bundle's {part.name} part")
    if "BUNDLE-OK" not in unpacked.output:
        said = (unpacked.output.strip().splitlines() or ["no output"])[-1][:200]
        raise DeviceError(f"{device.serial}: unpacking the runtime bundle's {part.name} part failed ({said}); check "
                          "free space on the device and rerun")


def remove_from_device(device, abi: str) -> None:
    """--remove-bundle: the bundle off the device."""
    device.shell(["rm", "-rf", bundle_dir(abi)], what="removing the runtime bundle")
    log.info("%s: removed the runtime bundle (%s)", device.serial, bundle_dir(abi))
