"""The loopback device's shell service (`shell:`, `shell,v2:`, `exec:`): commands run on this machine under
bubblewrap, where /data/local/tmp is the device's host folder and /system/bin/getprop serves its properties.

References (AOSP packages/modules/adb): SERVICES.TXT, shell_protocol.h (`shell,v2`).
"""
from __future__ import annotations

import asyncio
import os
import shlex
import signal
import struct
from pathlib import Path

DEVICE_TMP = "/data/local/tmp"
SYSTEM_BIN = "/system/bin"
# Not bound from the host: /data and /system are the device's own, /dev and /proc are mounted fresh.
NOT_FROM_HOST = {"data", "dev", "proc", "system"}
DEVICE_PATH = f"{SYSTEM_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN = range(5)


def sandbox_argv(bwrap: str, system_bin: Path, root: Path) -> list[str]:
    """bwrap's argv up to the command: the host's top-level entries read-only, `system_bin` at /system/bin and the
    device's folder `root` at /data/local/tmp."""
    # Individual read-only binds of the host's top-level entries, not `--ro-bind / /`: bwrap cannot create the
    # /data/local/tmp mount point under a read-only /, but can under its own tmpfs root.
    # --die-with-parent: commands die with the device's thread (which forks them) if the test process dies.
    argv = [bwrap, "--die-with-parent", "--dev", "/dev", "--proc", "/proc"]
    for entry in sorted(os.scandir("/"), key=lambda e: e.name):
        if entry.name in NOT_FROM_HOST:
            continue
        if entry.is_symlink():
            argv += ["--symlink", os.readlink(entry.path), entry.path]
        elif entry.is_dir():
            argv += ["--ro-bind", entry.path, entry.path]
    return argv + ["--ro-bind", str(system_bin), SYSTEM_BIN, "--bind", str(root), DEVICE_TMP, "--chdir", "/", "--"]


def write_getprop(system_bin: Path, props: dict[str, str], previous: str) -> str:
    """Write /system/bin/getprop serving `props`, unless it is `previous` (the script last written); the script."""
    # Replaced atomically under running commands.
    listing = "".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items()))
    cases = "".join(f"  {shlex.quote(k)}) printf '%s\\n' {shlex.quote(v)} ;;\n" for k, v in props.items())
    script = ("#!/bin/sh\n"
              "# Android's property tool: no argument lists every property, `getprop KEY [DEFAULT]` prints one.\n"
              f"if [ $# -eq 0 ]; then\n  cat <<'PROPS'\n{listing}PROPS\n  exit 0\nfi\n"
              f'case "$1" in\n{cases}  *) printf \'%s\\n\' "${{2-}}" ;;\nesac\n')
    if script == previous:
        return script
    staged = system_bin / ".getprop"
    staged.write_text(script)
    staged.chmod(0o755)
    os.replace(staged, system_bin / "getprop")
    return script


async def spawn(sandbox: list[str], command: str, term: str, stderr: int) -> asyncio.subprocess.Process:
    """`command` (none: an interactive shell) under the sandbox, with the device's environment."""
    env = {"PATH": DEVICE_PATH, "HOME": "/", "TMPDIR": DEVICE_TMP, "ANDROID_DATA": "/data",
           "ANDROID_ROOT": "/system", "TERM": term}
    shell = ["/bin/sh", "-c", command] if command else ["/bin/sh"]
    # Own session, so a lost device or stop() can kill the whole process group, grandchildren included.
    return await asyncio.create_subprocess_exec(
        *sandbox, *shell, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
        env=env, start_new_session=True)


async def serve_shell(stream, process: asyncio.subprocess.Process, v2: bool) -> None:
    """Connect the stream to the command's stdin and output (v2: stdout, stderr and the exit code as packets),
    until the command ends or the stream does."""
    feeder = asyncio.create_task(_feed_stdin(stream, process, v2))
    try:
        if v2:
            await asyncio.gather(_pump(stream, process.stdout, SHELL_STDOUT),
                                 _pump(stream, process.stderr, SHELL_STDERR))
            code = await process.wait()
            await stream.write(shell_packet(SHELL_EXIT, bytes([code & 0xFF if code >= 0 else 128 - code])))
        else:
            await _pump(stream, process.stdout, None)
            await process.wait()
    finally:
        feeder.cancel()
        # Interrupted (client gone, device lost or stopped): kill the command's whole process group. A command
        # that finished on its own keeps what it left in the background, as on a phone.
        if process.returncode is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            await process.wait()  # reaped and its pipes closed while the loop still runs


async def _pump(stream, pipe: asyncio.StreamReader, packet_id: int | None) -> None:
    # With shell v2, each read becomes one packet that fits one WRTE; without it the bytes go as they are.
    room = stream.max_payload - 5 if packet_id is not None else stream.max_payload
    while chunk := await pipe.read(room):
        await stream.write(chunk if packet_id is None else shell_packet(packet_id, chunk))


async def _feed_stdin(stream, process: asyncio.subprocess.Process, v2: bool) -> None:
    try:
        while True:
            if v2:
                packet_id, length = struct.unpack("<BI", await stream.read_exactly(5))
                data = await stream.read_exactly(length)
                if packet_id == SHELL_CLOSE_STDIN:
                    break
                if packet_id != SHELL_STDIN:
                    continue  # window size changes mean nothing without a pty
            else:
                data = await stream.read()
            process.stdin.write(data)
            await process.stdin.drain()
    except (EOFError, ConnectionError):
        pass  # the stream closed (v1 has no other end of input), or the command stopped reading
    finally:
        process.stdin.close()


def shell_packet(packet_id: int, data: bytes) -> bytes:
    return struct.pack("<BI", packet_id, len(data)) + data
