"""A loopback Android device for tests: a TCP server on 127.0.0.1 speaking adbd's side of the adb protocol.

The real adb server attaches it with `adb connect 127.0.0.1:PORT` and treats it as a phone. Shell commands run on
this machine under bubblewrap, where /data/local/tmp is a real host folder (`root`) and /system/bin/getprop serves
Pixel-3-like properties, so pushed scripts and binaries run as they would on a device. Faults (unauthorized,
offline, failing push, device lost mid-command) are attributes a test sets at any time.

Protocol references (AOSP packages/modules/adb): protocol.txt (messages and streams), SERVICES.TXT, SYNC.TXT with
file_sync_protocol.h (`sync:`), shell_protocol.h (`shell,v2`).
"""
from __future__ import annotations

import asyncio
import os
import platform
import posixpath
import secrets
import shlex
import shutil
import signal
import struct
import tempfile
import threading
from pathlib import Path


def _tag(name: bytes) -> int:
    return int.from_bytes(name, "little")


A_CNXN, A_AUTH, A_OPEN, A_OKAY, A_WRTE, A_CLSE = map(_tag, (b"CNXN", b"AUTH", b"OPEN", b"OKAY", b"WRTE", b"CLSE"))
A_VERSION_SKIP_CHECKSUM = 0x01000001  # from this version on, neither side checks data_check
A_VERSION = A_VERSION_SKIP_CHECKSUM
MAX_PAYLOAD = 1024 * 1024
MAX_PAYLOAD_V1 = 4096  # what a peer may send before the CNXN exchange says otherwise
AUTH_TOKEN, AUTH_SIGNATURE = 1, 2
HEADER = struct.Struct("<6I")  # command, arg0, arg1, data_length, data_check, magic

# No sendrecv_v2 / delayed_ack: both clients then fall back to SEND/RECV v1 and plain OKAY flow control.
FEATURES = "shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir"
SHELL_STDIN, SHELL_STDOUT, SHELL_STDERR, SHELL_EXIT, SHELL_CLOSE_STDIN = range(5)
SYNC_DATA_MAX = 64 * 1024
STAT_V2 = struct.Struct("<IQQIIIIQqqq")  # error, dev, ino, mode, nlink, uid, gid, size, atime, mtime, ctime

DEVICE_TMP = "/data/local/tmp"
SYSTEM_BIN = "/system/bin"
# Not bound from the host: /data and /system are the device's own, /dev and /proc are mounted fresh.
NOT_FROM_HOST = {"data", "dev", "proc", "system"}
DEVICE_PATH = f"{SYSTEM_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Commands run on this machine, so the device reports the host's ABI: an arm64 ABI would send x86_64 hosts looking
# for binaries they cannot execute.
ANDROID_ABI = {"x86_64": "x86_64", "aarch64": "arm64-v8a", "arm64": "arm64-v8a", "i686": "x86", "armv7l": "armeabi-v7a"}


def pixel3_props() -> dict[str, str]:
    abi = ANDROID_ABI.get(platform.machine(), platform.machine())
    return {
        "ro.product.name": "blueline",
        "ro.product.device": "blueline",
        "ro.product.model": "Pixel 3",
        "ro.product.brand": "google",
        "ro.product.manufacturer": "Google",
        "ro.hardware": "blueline",
        "ro.board.platform": "sdm845",
        "ro.soc.manufacturer": "Qualcomm",
        "ro.soc.model": "SDM845",
        "ro.product.cpu.abi": abi,
        "ro.product.cpu.abilist": abi,
        "ro.build.version.release": "12",
        "ro.build.version.sdk": "31",
        "ro.build.type": "user",
        "ro.debuggable": "0",
    }


class LoopbackDevice:
    """An adb device on 127.0.0.1:`port` whose /data/local/tmp is the host folder `root`.

    The fault attributes are plain attributes: the device reads them when it handles each message, so a test may
    flip them from its own thread at any time (an attribute store is atomic).
    """

    def __init__(self, root: Path | str, props: dict[str, str] | None = None, *, auth_required: bool = False,
                 silent: bool = False, fail_push: bool = False, drop_on_command: str | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.props = {**pixel3_props(), **(props or {})}
        self.auth_required = auth_required  # answer CNXN with AUTH and never accept a key: `unauthorized`
        self.silent = silent  # accept TCP, never answer: `offline`
        self.fail_push = fail_push  # every sync SEND ends with FAIL "No space left on device"
        self.drop_on_command = drop_on_command  # a shell command containing this loses the device
        self.port: int | None = None
        self.serial: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[_Connection] = set()
        self._system_bin: Path | None = None
        self._getprop_script = ""
        self._sandbox: list[str] = []

    # --- lifecycle (called from the test's thread) ---

    def start(self) -> LoopbackDevice:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise RuntimeError("the loopback device runs shell commands under bubblewrap: install it (apt-get install "
                               "bubblewrap)")
        self._system_bin = Path(tempfile.mkdtemp(prefix="loopback-system-bin-"))
        self._sandbox = self._sandbox_argv(bwrap)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"loopback-device-{id(self):x}",
                                        daemon=True)
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self.serial = f"127.0.0.1:{self.port}"
        self.props.setdefault("ro.serialno", f"LOOPBACK{self.port}")
        return self

    def stop(self) -> None:
        """Close every connection, kill every command still running and end the device's thread."""
        if self._loop is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None
        shutil.rmtree(self._system_bin, ignore_errors=True)

    def _call(self, coroutine, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _shutdown(self) -> None:
        self._lose()
        # Let the connections and services wind down, their commands killed and reaped, before the loop stops.
        others = asyncio.all_tasks() - {asyncio.current_task()}
        if others:
            await asyncio.wait(others, timeout=10)

    def _lose(self) -> None:
        """The device vanishes: no new connections, and the open ones close (the adb server sees it go)."""
        self._server.close()
        for connection in list(self._connections):
            connection.close()

    # --- transport ---

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(self, reader, writer)
        self._connections.add(connection)
        try:
            await connection.run()
        finally:
            self._connections.discard(connection)

    def banner(self) -> str:
        # adbd's connection string: "<state>::" then ';'-separated key=value; `adb devices -l` shows
        # "product:blueline model:Pixel_3 device:blueline" from it.
        shown = [f"{k}={self.props.get(k, '')}" for k in ("ro.product.name", "ro.product.model", "ro.product.device")]
        return "device::" + ";".join([*shown, f"features={FEATURES}"])

    def service(self, name: str):
        """The coroutine function serving an OPENed service, or None to refuse it."""
        kind, colon, command = name.partition(":")
        kind, *options = kind.split(",")
        if not colon:
            return None
        if kind in ("shell", "exec"):
            # `exec:` and `shell:` without v2 are raw byte streams with stderr merged in and no exit code.
            v2 = kind == "shell" and "v2" in options
            term = next((o[len("TERM="):] for o in options if o.startswith("TERM=")), "dumb")
            return lambda stream: self._shell(stream, command, v2, term)
        if kind == "sync":
            return self._sync
        return None

    # --- shell ---

    def _sandbox_argv(self, bwrap: str) -> list[str]:
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
        return argv + ["--ro-bind", str(self._system_bin), SYSTEM_BIN, "--bind", str(self.root), DEVICE_TMP,
                       "--chdir", "/", "--"]

    def _write_getprop(self) -> None:
        # Regenerated when `props` changed since the last command; replaced atomically under running commands.
        props = dict(self.props)  # a test may change them while a command starts
        listing = "".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items()))
        cases = "".join(f"  {shlex.quote(k)}) printf '%s\\n' {shlex.quote(v)} ;;\n" for k, v in props.items())
        script = ("#!/bin/sh\n"
                  "# Android's property tool: no argument lists every property, `getprop KEY [DEFAULT]` prints one.\n"
                  f"if [ $# -eq 0 ]; then\n  cat <<'PROPS'\n{listing}PROPS\n  exit 0\nfi\n"
                  f'case "$1" in\n{cases}  *) printf \'%s\\n\' "${{2-}}" ;;\nesac\n')
        if script == self._getprop_script:
            return
        staged = self._system_bin / ".getprop"
        staged.write_text(script)
        staged.chmod(0o755)
        os.replace(staged, self._system_bin / "getprop")
        self._getprop_script = script

    async def _spawn(self, command: str, term: str, stderr: int) -> asyncio.subprocess.Process:
        self._write_getprop()
        env = {"PATH": DEVICE_PATH, "HOME": "/", "TMPDIR": DEVICE_TMP, "ANDROID_DATA": "/data",
               "ANDROID_ROOT": "/system", "TERM": term}
        shell = ["/bin/sh", "-c", command] if command else ["/bin/sh"]  # no command: an interactive shell
        # Own session, so a lost device or stop() can kill the whole process group, grandchildren included.
        return await asyncio.create_subprocess_exec(
            *self._sandbox, *shell, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=stderr,
            env=env, start_new_session=True)

    async def _shell(self, stream: _Stream, command: str, v2: bool, term: str) -> None:
        if self.drop_on_command and self.drop_on_command in command:
            self._lose()
            return
        process = await self._spawn(command, term, asyncio.subprocess.PIPE if v2 else asyncio.subprocess.STDOUT)
        feeder = asyncio.create_task(self._feed_stdin(stream, process, v2))
        try:
            if v2:
                await asyncio.gather(self._pump(stream, process.stdout, SHELL_STDOUT),
                                     self._pump(stream, process.stderr, SHELL_STDERR))
                code = await process.wait()
                await stream.write(_shell_packet(SHELL_EXIT, bytes([code & 0xFF if code >= 0 else 128 - code])))
            else:
                await self._pump(stream, process.stdout, None)
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

    @staticmethod
    async def _pump(stream: _Stream, pipe: asyncio.StreamReader, packet_id: int | None) -> None:
        # With shell v2, each read becomes one packet that fits one WRTE; without it the bytes go as they are.
        room = stream.max_payload - 5 if packet_id is not None else stream.max_payload
        while chunk := await pipe.read(room):
            await stream.write(chunk if packet_id is None else _shell_packet(packet_id, chunk))

    @staticmethod
    async def _feed_stdin(stream: _Stream, process: asyncio.subprocess.Process, v2: bool) -> None:
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

    # --- sync ---

    def _host_path(self, device_path: str) -> tuple[Path, bool]:
        """Where a device path lives on this machine, and whether the device may write there."""
        path = posixpath.normpath("/" + device_path.lstrip("/"))
        for mount, host, writable in ((DEVICE_TMP, self.root, True), (SYSTEM_BIN, self._system_bin, False)):
            if path == mount or path.startswith(mount + "/"):
                return host / path[len(mount):].lstrip("/"), writable
        return Path(path), False

    async def _sync(self, stream: _Stream) -> None:
        while True:
            request, length = struct.unpack("<4sI", await stream.read_exactly(8))
            if request == b"QUIT":
                return
            path = (await stream.read_exactly(length)).decode("utf-8", "surrogateescape")
            if request == b"STAT":  # v1 is lstat, with 32-bit fields and all zero for "no such file"
                try:
                    st = os.lstat(self._host_path(path)[0])
                    fields = (st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime))
                except OSError:
                    fields = (0, 0, 0)
                await stream.write(struct.pack("<4sIII", b"STAT", *fields))
            elif request in (b"STA2", b"LST2"):
                try:
                    host = self._host_path(path)[0]
                    fields = _stat_v2(os.stat(host) if request == b"STA2" else os.lstat(host))
                except OSError as exc:
                    fields = (exc.errno,) + (0,) * 10
                await stream.write(request + STAT_V2.pack(*fields))
            elif request in (b"LIST", b"LIS2"):
                await stream.write(self._listing(path, v2=request == b"LIS2"))
            elif request == b"SEND":
                if not await self._receive_file(stream, path):
                    return  # like adbd, a failed transfer ends the sync session
            elif request == b"RECV":
                if not await self._send_file(stream, path):
                    return
            else:
                await stream.write(_sync_fail(f"unknown sync request {request!r}"))
                return

    def _listing(self, path: str, v2: bool) -> bytes:
        folder = self._host_path(path)[0]
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

    async def _receive_file(self, stream: _Stream, spec: str) -> bool:
        """SEND: "path,mode", then DATA chunks and DONE with the mtime; answered OKAY or FAIL after DONE."""
        path, _, mode = spec.rpartition(",")
        target, writable = self._host_path(path)
        if self.fail_push:
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

    async def _send_file(self, stream: _Stream, path: str) -> bool:
        """RECV: DATA chunks of at most 64 KiB, then DONE; FAIL if the file cannot be read."""
        try:
            source = open(self._host_path(path)[0], "rb")
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


def _shell_packet(packet_id: int, data: bytes) -> bytes:
    return struct.pack("<BI", packet_id, len(data)) + data


class _Connection:
    """One TCP connection from the adb server: the CNXN/AUTH handshake and the streams multiplexed over it."""

    def __init__(self, device: LoopbackDevice, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.device, self.reader, self.writer = device, reader, writer
        self.streams: dict[int, _Stream] = {}
        self.next_id = 1
        self.version = A_VERSION
        self.max_payload = MAX_PAYLOAD_V1
        self.online = False

    async def run(self) -> None:
        try:
            while True:
                command, arg0, arg1, length, _, magic = HEADER.unpack(await self.reader.readexactly(HEADER.size))
                if magic != command ^ 0xFFFFFFFF:
                    break  # not an adb peer
                payload = await self.reader.readexactly(length) if length else b""
                if not self.device.silent:
                    self.handle(command, arg0, arg1, payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.close()

    def send(self, command: int, arg0: int, arg1: int, payload: bytes = b"") -> None:
        check = sum(payload) & 0xFFFFFFFF if self.version < A_VERSION_SKIP_CHECKSUM else 0
        self.writer.write(HEADER.pack(command, arg0, arg1, len(payload), check, command ^ 0xFFFFFFFF) + payload)

    def handle(self, command: int, arg0: int, arg1: int, payload: bytes) -> None:
        if command == A_CNXN:
            self.version = min(arg0, A_VERSION)
            self.max_payload = min(arg1, MAX_PAYLOAD)
            if self.device.auth_required:
                self.send(A_AUTH, AUTH_TOKEN, 0, secrets.token_bytes(20))
            else:
                self.online = True
                self.send(A_CNXN, self.version, MAX_PAYLOAD, self.device.banner().encode())
        elif command == A_AUTH and arg0 == AUTH_SIGNATURE:
            # Reject every signature; once the host runs out of keys it sends its public key and waits for the
            # user to tap "Allow" on the phone, which never happens.
            self.send(A_AUTH, AUTH_TOKEN, 0, secrets.token_bytes(20))
        elif command == A_OPEN and self.online:
            self.open(arg0, payload.rstrip(b"\0").decode("utf-8", "surrogateescape"))
        elif command == A_OKAY and (stream := self.streams.get(arg1)):
            stream.okay()
        elif command == A_WRTE and (stream := self.streams.get(arg1)):
            stream.received(payload)
            self.send(A_OKAY, stream.local_id, stream.remote_id)
        elif command == A_CLSE and (stream := self.streams.pop(arg1, None)):
            stream.closed_by_peer()

    def open(self, remote_id: int, name: str) -> None:
        serve = self.device.service(name)
        if serve is None:
            self.send(A_CLSE, 0, remote_id)  # refused
            return
        stream = _Stream(self, self.next_id, remote_id)
        self.next_id += 1
        self.streams[stream.local_id] = stream
        self.send(A_OKAY, stream.local_id, remote_id)
        stream.task = asyncio.create_task(stream.serve(serve))

    def close(self) -> None:
        for stream in list(self.streams.values()):
            stream.abandon()
        self.streams.clear()
        self.writer.close()  # flushes what is queued (an OKAY just sent), then FIN


class _Stream:
    """One adb stream: the service's side reads what the client WRTEs and writes one WRTE at a time."""

    def __init__(self, connection: _Connection, local_id: int, remote_id: int):
        self.connection, self.local_id, self.remote_id = connection, local_id, remote_id
        self.task: asyncio.Task | None = None
        self.closed = False
        self._inbox: asyncio.Queue[bytes | None] = asyncio.Queue()  # None once closed
        self._buffer = bytearray()
        self._may_write = asyncio.Event()  # set while no WRTE of ours awaits its OKAY
        self._may_write.set()
        self._write_lock = asyncio.Lock()  # shell v2's stdout and stderr pumps share the stream

    @property
    def max_payload(self) -> int:
        return self.connection.max_payload

    async def serve(self, serve) -> None:
        try:
            await serve(self)
        except (EOFError, ConnectionError):
            pass  # the client closed the stream, or the device was lost
        finally:
            await self.close()

    # Called by the connection.
    def okay(self) -> None:
        self._may_write.set()

    def received(self, data: bytes) -> None:
        self._inbox.put_nowait(data)

    def closed_by_peer(self) -> None:
        self.abandon()
        self.connection.send(A_CLSE, self.local_id, self.remote_id)  # adbd answers a CLSE with a CLSE

    def abandon(self) -> None:
        self.closed = True
        self._may_write.set()
        self._inbox.put_nowait(None)
        if self.task is not None:
            self.task.cancel()  # kills the stream's command, if any

    # Called by the service.
    async def write(self, data: bytes) -> None:
        async with self._write_lock:
            for start in range(0, len(data), self.max_payload):
                await self._may_write.wait()
                if self.closed:
                    raise ConnectionResetError("stream closed")
                self._may_write.clear()
                self.connection.send(A_WRTE, self.local_id, self.remote_id, data[start:start + self.max_payload])
                await self.connection.writer.drain()

    async def read(self) -> bytes:
        """What the client sent next; EOFError once the stream is closed."""
        if not self._buffer:
            data = await self._inbox.get()
            if data is None:
                raise EOFError
            self._buffer += data
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    async def read_exactly(self, n: int) -> bytes:
        while len(self._buffer) < n:
            data = await self._inbox.get()
            if data is None:
                raise EOFError
            self._buffer += data
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    async def close(self) -> None:
        if self.closed:
            return
        await self._may_write.wait()  # the client has the last WRTE before it sees the CLSE
        if self.closed:
            return
        self.closed = True
        self.connection.streams.pop(self.local_id, None)
        self.connection.send(A_CLSE, self.local_id, self.remote_id)
