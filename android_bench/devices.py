"""Devices: Android phones and emulators through the real adb server (adbutils), and this machine (`local`).

Both offer the same small surface: shell (exit code + output), push, pull, and `facts()`, the device
description recorded with every result. Facts a device does not expose are recorded as missing (None),
never guessed. A device's results are keyed on its `id`, its hardware serial number when it has one, so a phone or
emulator that reconnects under another adb serial continues its run (`identify`). An emulated device (an Android emulator, or an arm64 userland under qemu-user) says so in
`emulated`, and every report built from its timings is labelled with it: they are not phone speed.
"""
from __future__ import annotations

import logging
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from models.errors import UserError

log = logging.getLogger("android_bench")


class DeviceError(UserError):
    """The device went away, refused a command, or was never usable (offline, unauthorized)."""


@dataclass
class ShellResult:
    exit_code: int
    output: str


# One shell round trip for every fact; runs in Android's toybox sh and any POSIX sh. Lines are key=value.
FACTS_SCRIPT = r"""
for k in ro.product.manufacturer ro.product.model ro.soc.manufacturer ro.soc.model ro.board.platform \
         ro.hardware ro.product.cpu.abi ro.build.version.release ro.build.version.sdk ro.kernel.qemu ro.boot.qemu \
         ro.serialno ro.boot.serialno ro.boot.qemu.avd_name ro.kernel.qemu.avd_name; do
  echo "prop.$k=$(getprop $k 2>/dev/null)"
done
echo "cores=$(ls -d /sys/devices/system/cpu/cpu[0-9]* 2>/dev/null | wc -l)"
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  n=${c##*/cpu}
  echo "maxfreq.$n=$(cat $c/cpufreq/cpuinfo_max_freq 2>/dev/null)"
  echo "governor.$n=$(cat $c/cpufreq/scaling_governor 2>/dev/null)"
done
echo "uname=$(uname -m)"
echo "qemu_cpu=$QEMU_CPU"
echo "cpuinfo_x86=$(grep -c -m1 '^vendor_id' /proc/cpuinfo 2>/dev/null)"
""" + r"""
echo "thermal_status=$(dumpsys thermalservice 2>/dev/null | grep -m1 'Thermal Status' | sed 's/[^0-9]//g')"
echo "battery_temp=$(dumpsys battery 2>/dev/null | grep -m1 'temperature' | sed 's/[^0-9]//g')"
echo "zone_temp=$(cat /sys/class/thermal/thermal_zone*/temp 2>/dev/null | sort -n | tail -1)"
"""
# No trailing newline: adbutils appends `; echo EXIT:$?`, and a line starting with `;` is a syntax error.
FACTS_SCRIPT = FACTS_SCRIPT.strip()
THERMAL_SCRIPT = FACTS_SCRIPT[FACTS_SCRIPT.index('echo "thermal_status'):]

ABI_BY_MACHINE = {"x86_64": "x86_64", "aarch64": "arm64-v8a", "armv7l": "armeabi-v7a", "i686": "x86"}


def _int_or_none(text: str | None):
    return int(text) if text and text.strip().isdigit() else None


def emulation(prop: dict, raw: dict) -> str | bool:
    """How the device is emulated, or False. qemu-user passes QEMU_CPU on to the guest and (QEMU 7) shows it
    the host's /proc/cpuinfo; Android emulators set ro.kernel.qemu / ro.boot.qemu."""
    if raw.get("qemu_cpu"):
        return f"qemu-user, QEMU_CPU={raw['qemu_cpu']}"
    if raw.get("uname", "").startswith(("aarch64", "arm")) and raw.get("cpuinfo_x86") == "1":
        return "qemu-user (an x86 host's /proc/cpuinfo under an ARM userland)"
    if "1" in (prop.get("ro.kernel.qemu"), prop.get("ro.boot.qemu")):
        return "Android emulator (ro.kernel.qemu)"
    return False


def parse_facts(text: str) -> dict:
    """key=value lines from FACTS_SCRIPT -> the recorded device description (None where not exposed)."""
    raw = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            raw[key.strip()] = value.strip()
    prop = {k[len("prop."):]: v or None for k, v in raw.items() if k.startswith("prop.")}
    cores = sorted(int(k.split(".")[1]) for k in raw if k.startswith("maxfreq."))
    facts = {
        "manufacturer": prop.get("ro.product.manufacturer"),
        "model": prop.get("ro.product.model"),
        "soc": prop.get("ro.soc.model") or prop.get("ro.board.platform") or prop.get("ro.hardware"),
        "abi": prop.get("ro.product.cpu.abi") or ABI_BY_MACHINE.get(raw.get("uname", "")),
        "android_version": prop.get("ro.build.version.release"),
        "sdk": _int_or_none(prop.get("ro.build.version.sdk")),
        "cores": _int_or_none(raw.get("cores")),
        "max_freq_khz": [_int_or_none(raw.get(f"maxfreq.{c}")) for c in cores],
        "governor": [raw.get(f"governor.{c}") or None for c in cores],
        "emulated": emulation(prop, raw),
        **parse_thermal(text),
    }
    facts["missing"] = sorted(k for k, v in facts.items() if v is None or (isinstance(v, list) and not any(v)))
    # What stays when the device reconnects under another adb serial. Emulators of one release share a serial
    # number, so their AVD name goes with it.
    facts["identity"] = {"serialno": prop.get("ro.serialno") or prop.get("ro.boot.serialno"),
                         "avd_name": prop.get("ro.boot.qemu.avd_name") or prop.get("ro.kernel.qemu.avd_name")}
    return facts


def identify(devices: list) -> list[dict]:
    """Each device's facts, and its `id` set, what its results are keyed on: its serial number (and AVD name), the
    same when it reconnects under another adb serial; else, or if two attached devices share it, its adb serial."""
    facts = [device.facts() for device in devices]
    stable = ["/".join(v for v in (f.get("identity") or {}).values() if v) for f in facts]
    for device, name in zip(devices, stable):
        device.id = name if name and stable.count(name) == 1 else device.serial
    return facts


def parse_thermal(text: str) -> dict:
    raw = dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)
    battery = _int_or_none(raw.get("battery_temp"))
    zone = _int_or_none(raw.get("zone_temp"))
    return {"thermal_status": _int_or_none(raw.get("thermal_status")),  # Android PowerManager: 0 none .. 6
            "battery_temp_c": battery / 10 if battery is not None else None,  # dumpsys battery: tenths of a degree
            "max_zone_temp_c": zone / 1000 if zone is not None else None}  # sysfs: millidegrees


class LocalDevice:
    """This machine. Its 'device folder' is a temporary directory; commands run through sh."""

    serial = id = "local"
    kind = "local"

    def __init__(self, workdir: Path | None = None):
        # absolute: runners are started from inside the device folder, so a relative --out would not resolve
        self.base = Path(workdir or tempfile.mkdtemp(prefix="android-bench-local-")).resolve()
        self.base.mkdir(parents=True, exist_ok=True)
        self._running: set[subprocess.Popen] = set()

    def remote_dir(self, run_id: str) -> str:
        return str(self.base / run_id)

    def shell(self, cmd: str | list[str], timeout: float = 600, what: str = "a command") -> ShellResult:
        """Run `cmd` through sh: a script, or an argv (quoted here, once)."""
        cmd = cmd if isinstance(cmd, str) else shlex.join(cmd)
        # its own session: Ctrl-C reaches the harness, which stops the command with cancel()
        proc = subprocess.Popen(["sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        self._running.add(proc)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            proc.communicate()
            raise DeviceError(f"local: {what} timed out after {timeout:.0f} s") from exc
        finally:
            self._running.discard(proc)
        return ShellResult(proc.returncode, output)

    def cancel(self, remote_dir: str) -> None:
        """Stop every command running on this device now (Ctrl-C)."""
        for proc in list(self._running):
            _kill_group(proc)

    def push(self, local: Path, remote: str) -> None:
        Path(remote).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, remote)
        shutil.copymode(local, remote)

    def pull(self, remote: str, local: Path) -> None:
        if not Path(remote).is_file():
            raise DeviceError(f"local: {remote} does not exist")
        shutil.copyfile(remote, local)

    def facts(self) -> dict:
        facts = parse_facts(self.shell(FACTS_SCRIPT, what="reading its facts").output)
        facts.update(model=platform.node() or None, manufacturer=None, abi=ABI_BY_MACHINE.get(platform.machine()),
                     cpu=_cpu_name(), os=f"{platform.system()} {platform.release()}")
        facts["missing"] = sorted(k for k, v in facts.items() if v is None or (isinstance(v, list) and not any(v)))
        return facts

    def thermal(self) -> dict:
        return parse_thermal(self.shell(THERMAL_SCRIPT, what="reading its temperatures").output)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _cpu_name() -> str | None:
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        return None
    return match.group(1).strip() if match else None


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

    def push(self, local: Path, remote: str) -> None:
        try:
            self._device.sync.push(str(local), remote, mode=0o755, check=True)
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


def _list_devices(client) -> list[tuple[str, str]]:
    """(serial, state) for every device the server knows, unusable ones included."""
    return [(info.serial, info.state) for info in client.list()]


def _first_line(exc: BaseException) -> str:
    # of several arguments only the first: adbutils raises AdbError(message, the whole command), a tuple as str
    text = str(exc.args[0] if len(exc.args) > 1 and isinstance(exc.args[0], str) else exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def connect(spec: str, *, host: str = "127.0.0.1", port: int | None = None, workdir: Path | None = None) -> list:
    """`local`, a serial, or `all` (every device in state `device`) -> devices."""
    if spec == "local":
        return [LocalDevice(workdir)]
    if spec == "all":
        import adbutils

        client = adbutils.AdbClient(host=host, port=port or int(os.environ.get("ANDROID_ADB_SERVER_PORT", 5037)))
        try:
            serials = [s for s, state in _list_devices(client) if state == "device"]
        except Exception as exc:
            raise DeviceError(f"no adb server at {host}:{port or 5037} ({_first_line(exc)}); "
                              "start it with `adb start-server`") from exc
        if not serials:
            raise DeviceError("--devices all: no device in state `device`; check `adb devices`")
        return [AdbDevice(s, host=host, port=port) for s in serials]
    return [AdbDevice(spec, host=host, port=port)]
