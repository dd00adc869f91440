"""Android phones and emulators through the real adb server (adbutils, which speaks the server's protocol)."""
from __future__ import annotations

import logging
import os
import shlex
from pathlib import Path

from android_bench.devices import DeviceError, ShellResult
from android_bench.devices.facts import FACTS_SCRIPT, THERMAL_SCRIPT, parse_facts, parse_thermal

log = logging.getLogger("android_bench")


class AdbDevice:
    """A device of the real adb server, through adbutils (which speaks the server's protocol)."""

    kind = "adb"

    def __init__(self, serial: str, *, host: str = "127.0.0.1", port: int | None = None):
        import adbutils

        self.serial = self.id = serial  # the id becomes the device's serial number once known (`identify`)
        port = port or int(os.environ.get("ANDROID_ADB_SERVER_PORT", 5037))
        self._client = adbutils.AdbClient(host=host, port=port)
        try:
            listed = {serial: state for serial, state in _list_devices(self._client)}
        except Exception as exc:
            raise DeviceError(f"no adb server at {host}:{port} ({_first_line(exc)}); start it with `adb start-server` "
                              "or pass -H/-P for a remote one") from exc
        state = listed.get(serial)
        if state is None:
            raise DeviceError(f"device {serial} is not attached to the adb server at {host}:{port} "
                              f"(attached: {', '.join(listed) or 'none'}); check `adb devices`")
        if state != "device":
            hint = {"unauthorized": "accept the USB debugging prompt on the phone",
                    "offline": "reconnect it (adb reconnect) or restart the adb server"}.get(state, "check `adb devices`")
            raise DeviceError(f"device {serial} is {state}; {hint}")
        self._device = self._client.device(serial)

    def remote_dir(self, run_id: str) -> str:
        return f"/data/local/tmp/{run_id}"

    def shell(self, cmd: str | list[str], timeout: float = 600, what: str = "a command") -> ShellResult:
        """Run `cmd` in the device's shell: a script, or an argv (quoted here, once). `what` names it if the device
        is lost meanwhile."""
        cmd = cmd if isinstance(cmd, str) else shlex.join(cmd)
        try:
            done = self._device.shell2(cmd, timeout=timeout, rstrip=False)
        except Exception as exc:
            raise DeviceError(f"device {self.serial} lost during {what} ({_first_line(exc)}); "
                              "reconnect it and rerun with --resume") from exc
        return ShellResult(done.returncode, done.output)

    def push(self, local: Path, remote: str, progress=None) -> None:
        """`progress(nbytes)` is called as the file goes (a bundle's part is hundreds of MB)."""
        try:
            with open(local, "rb") as source:
                self._device.sync.push(_Reader(source, progress), remote, mode=0o755, check=True)
        except Exception as exc:
            raise DeviceError(f"push of {Path(local).name} to {self.serial}:{remote} failed ({_first_line(exc)}); "
                              "check free space on the device (adb shell df /data/local/tmp)") from exc

    def pull(self, remote: str, local: Path) -> None:
        try:
            self._device.sync.pull(remote, str(local))
        except Exception as exc:
            raise DeviceError(f"pull of {self.serial}:{remote} failed ({_first_line(exc)})") from exc

    def facts(self) -> dict:
        return parse_facts(self.shell(FACTS_SCRIPT, timeout=60, what="reading its facts").output)

    def cancel(self, remote_dir: str) -> None:
        """Stop the benchmark commands running in `remote_dir` (Ctrl-C): every process whose command line names
        it, from a second shell; the blocked shell call then returns."""
        try:
            # "[/]data/...": matches the commands' paths but not this pkill's own command line
            self._device.shell2(f"pkill -KILL -f {shlex.quote(f'[{remote_dir[0]}]{remote_dir[1:]}')}", timeout=10)
        except Exception as exc:  # the device may be gone too: nothing left to stop
            log.warning("%s: could not stop its commands (%s)", self.serial, _first_line(exc))

    def thermal(self) -> dict:
        return parse_thermal(self.shell(THERMAL_SCRIPT, timeout=60, what="reading its temperatures").output)


class _Reader:
    """A file for adbutils' push: full sync DATA packets (64 KiB, the protocol's most; adbutils asks for 4 KiB), and
    `progress(nbytes)` after each."""

    def __init__(self, source, progress=None):
        self._source, self._progress = source, progress

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(64 * 1024)
        if self._progress is not None and data:
            self._progress(len(data))
        return data

    def close(self) -> None:
        self._source.close()


def _list_devices(client) -> list[tuple[str, str]]:
    """(serial, state) for every device the server knows, unusable ones included."""
    return [(info.serial, info.state) for info in client.list()]


def _first_line(exc: BaseException) -> str:
    # of several arguments only the first: adbutils raises AdbError(message, the whole command), a tuple as str
    text = str(exc.args[0] if len(exc.args) > 1 and isinstance(exc.args[0], str) else exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__
