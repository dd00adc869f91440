"""The loopback device's file service (`sync:`, what adb push, pull and ls speak): STAT/STA2/LST2, LIST/LIS2,
SEND and RECV over the device's mounts.

References (AOSP packages/modules/adb): SYNC.TXT with file_sync_protocol.h.
"""
from __future__ import annotations

import os
import posixpath
import struct
from pathlib import Path

SYNC_DATA_MAX = 64 * 1024
STAT_V2 = struct.Struct("<IQQIIIIQqqq")  # error, dev, ino, mode, nlink, uid, gid, size, atime, mtime, ctime


def host_path(mounts, device_path: str) -> tuple[Path, bool]:
    """Where a device path lives on this machine, and whether the device may write there; `mounts` lists
    (device folder, host folder, writable)."""
    path = posixpath.normpath("/" + device_path.lstrip("/"))
    for mount, host, writable in mounts:
        if path == mount or path.startswith(mount + "/"):
            return host / path[len(mount):].lstrip("/"), writable
    return Path(path), False


async def serve_sync(stream, device) -> None:
    """Serve `sync:` requests until QUIT, or a failed transfer (which ends the session, as with adbd).

    device: its `mounts()` (device folder, host folder, writable) and the fault `fail_push`, read at each SEND."""
    mounts = device.mounts()
    while True:
        request, length = struct.unpack("<4sI", await stream.read_exactly(8))
        if request == b"QUIT":
            return
        path = (await stream.read_exactly(length)).decode("utf-8", "surrogateescape")
        if request == b"STAT":  # v1 is lstat, with 32-bit fields and all zero for "no such file"
            try:
                st = os.lstat(host_path(mounts, path)[0])
                fields = (st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime))
            except OSError:
                fields = (0, 0, 0)
            await stream.write(struct.pack("<4sIII", b"STAT", *fields))
        elif request in (b"STA2", b"LST2"):
            try:
                host = host_path(mounts, path)[0]
                fields = _stat_v2(os.stat(host) if request == b"STA2" else os.lstat(host))
            except OSError as exc:
                fields = (exc.errno,) + (0,) * 10
            await stream.write(request + STAT_V2.pack(*fields))
        elif request in (b"LIST", b"LIS2"):
            await stream.write(_listing(mounts, path, v2=request == b"LIS2"))
        elif request == b"SEND":
            if not await _receive_file(stream, device, mounts, path):
                return  # like adbd, a failed transfer ends the sync session
        elif request == b"RECV":
            if not await _send_file(stream, mounts, path):
                return
        else:
            await stream.write(_sync_fail(f"unknown sync request {request!r}"))
            return


def _listing(mounts, path: str, v2: bool) -> bytes:
    folder = host_path(mounts, path)[0]
    try:
        names = [".", "..", *os.listdir(folder)]  # adbd sends readdir()'s entries: clients skip . and ..
    except OSError:
        names = []  # an unreadable folder lists as empty, as with adbd
    entries = []
    for name in names:
        try:
            st = os.lstat(folder / name)
        except OSError:
            continue  # gone since the listing
        raw = name.encode("utf-8", "surrogateescape")
        if v2:
            entries.append(b"DNT2" + STAT_V2.pack(*_stat_v2(st)) + struct.pack("<I", len(raw)) + raw)
        else:
            entries.append(struct.pack("<4sIIII", b"DENT", st.st_mode, st.st_size & 0xFFFFFFFF,
                                       int(st.st_mtime), len(raw)) + raw)
    # The end marker is a whole zeroed entry record with the DONE id.
    return b"".join(entries) + b"DONE" + bytes(STAT_V2.size + 4 if v2 else 16)


async def _receive_file(stream, device, mounts, spec: str) -> bool:
    """SEND: "path,mode", then DATA chunks and DONE with the mtime; answered OKAY or FAIL after DONE."""
    path, _, mode = spec.rpartition(",")
    target, writable = host_path(mounts, path)
    if device.fail_push:
        error = "No space left on device"
    elif not writable:
        error = "Read-only file system"
    else:
        error = None
    out = None
    if error is None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)  # the fixed_push_mkdir feature
            if target.is_file() or target.is_symlink():
                target.unlink()  # a new inode, as adbd does, so a running binary can be replaced
            out = open(target, "wb")
        except OSError as exc:
            error = exc.strerror
    try:
        while True:
            request, length = struct.unpack("<4sI", await stream.read_exactly(8))
            if request == b"DONE":
                mtime = length
                break
            if request != b"DATA":
                await stream.write(_sync_fail(f"unexpected {request!r} during SEND"))
                return False
            data = await stream.read_exactly(length)
            if out is not None:
                out.write(data)
    finally:
        if out is not None:
            out.close()
    if error is not None:
        await stream.write(_sync_fail(error))
        return False
    os.chmod(target, int(mode) & 0o777)  # the mode is st_mode in decimal; adbd keeps the permission bits
    os.utime(target, (mtime, mtime))
    await stream.write(b"OKAY" + bytes(4))
    return True


async def _send_file(stream, mounts, path: str) -> bool:
    """RECV: DATA chunks of at most 64 KiB, then DONE; FAIL if the file cannot be read."""
    try:
        source = open(host_path(mounts, path)[0], "rb")
    except OSError as exc:
        await stream.write(_sync_fail(exc.strerror))
        return False
    with source:
        while chunk := source.read(SYNC_DATA_MAX):
            await stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
    await stream.write(b"DONE" + bytes(4))
    return True


def _stat_v2(st: os.stat_result) -> tuple:
    return (0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink, st.st_uid, st.st_gid, st.st_size, int(st.st_atime),
            int(st.st_mtime), int(st.st_ctime))


def _sync_fail(message: str) -> bytes:
    data = message.encode()
    return b"FAIL" + struct.pack("<I", len(data)) + data
