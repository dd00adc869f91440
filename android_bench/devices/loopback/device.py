"""A loopback Android device for tests: a TCP server on 127.0.0.1 speaking adbd's side of the adb protocol.

The real adb server attaches it with `adb connect 127.0.0.1:PORT` and treats it as a phone. Shell commands run on
this machine under bubblewrap, where /data/local/tmp is a real host folder (`root`) and /system/bin/getprop serves
Pixel-3-like properties, so pushed scripts and binaries run as they would on a device. Faults (unauthorized,
offline, failing push, device lost mid-command) are attributes a test sets at any time.

The device is this module; the wire protocol is transport.py, its services shell.py and sync.py. Protocol
references (AOSP packages/modules/adb): protocol.txt (messages and streams), SERVICES.TXT, SYNC.TXT with
file_sync_protocol.h (`sync:`), shell_protocol.h (`shell,v2`).
"""
from __future__ import annotations

import asyncio
import platform
import shutil
import tempfile
import threading
from pathlib import Path

from android_bench.devices.loopback import shell, sync
from android_bench.devices.loopback.shell import DEVICE_TMP, SYSTEM_BIN
from android_bench.devices.loopback.transport import Connection

__all__ = ["ANDROID_ABI", "DEVICE_TMP", "FEATURES", "SYSTEM_BIN", "LoopbackDevice", "pixel3_props"]

# No sendrecv_v2 / delayed_ack: both clients then fall back to SEND/RECV v1 and plain OKAY flow control.
FEATURES = "shell_v2,cmd,stat_v2,ls_v2,fixed_push_mkdir"

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
        self._connections: set[Connection] = set()
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
        connection = Connection(self, reader, writer)
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
        return shell.sandbox_argv(bwrap, self._system_bin, self.root)

    async def _shell(self, stream, command: str, v2: bool, term: str) -> None:
        if self.drop_on_command and self.drop_on_command in command:
            self._lose()
            return
        # Regenerated when `props` changed since the last command (a test may change them while a command starts).
        self._getprop_script = shell.write_getprop(self._system_bin, dict(self.props), self._getprop_script)
        stderr = asyncio.subprocess.PIPE if v2 else asyncio.subprocess.STDOUT  # without v2, merged into stdout
        process = await shell.spawn(self._sandbox, command, term, stderr)
        await shell.serve_shell(stream, process, v2)

    # --- sync ---

    def mounts(self) -> list[tuple[str, Path, bool]]:
        """The device folders that are host folders: (device path, host path, writable)."""
        return [(DEVICE_TMP, self.root, True), (SYSTEM_BIN, self._system_bin, False)]

    async def _sync(self, stream) -> None:
        await sync.serve_sync(stream, self)
