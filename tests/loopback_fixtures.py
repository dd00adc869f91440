"""pytest fixtures for the adb loopback device: a private adb server per session, a connected device per test.

    adb_binary            session, parametrized ["debian", "adbutils"]: the adb executable (skips if missing)
    adb_server            session: AdbServer (.binary .port .env .adb(*args, timeout, input) .client()
                          .state(serial) .wait_for_state(serial, states) .log_tail())
    loopback_device       a LoopbackDevice attached to adb_server and in state `device`
    make_loopback_device  make(**kwargs) -> LoopbackDevice built with kwargs (faults, props), `adb connect`ed but
                          not waited for, for states other than `device`

Every test using them runs once per adb binary: Debian's adb (29) and the one in the adbutils wheel (36) differ.

The arm64 variants (android_bench/devices/loopback/arm64.py) use Debian's adb only, through their own server:

    arm64_ready           session: skips (fails in CI) with how to build it when the arm64 device is not built
    arm64_adb_server      session: AdbServer of Debian's adb
    make_arm64_device     make(profile="a76", bare=False) -> Arm64LoopbackDevice in state `device`
    attached(server, device)  context manager: start, connect and wait for any device, from fixtures of any scope
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import adbutils
import pytest

from android_bench.devices.loopback import arm64
from android_bench.devices.loopback.device import LoopbackDevice

ADB_BINARIES = {
    "debian": Path("/usr/bin/adb"),
    "adbutils": Path(adbutils.__file__).parent / "binaries" / "adb",
}


@dataclass
class AdbServer:
    binary: str
    port: int
    env: dict[str, str]  # add to os.environ for anything that talks to this server (adb, adbutils, the CLI)

    def adb(self, *args: str, timeout: float = 30, input: str | None = None) -> subprocess.CompletedProcess:
        # Without input, stdin is closed: `adb shell` would otherwise forward the test runner's stdin to the device.
        return subprocess.run([self.binary, *args], env={**os.environ, **self.env}, capture_output=True, text=True,
                              input=input, stdin=subprocess.DEVNULL if input is None else None, timeout=timeout)

    def client(self) -> adbutils.AdbClient:
        return adbutils.AdbClient(host="127.0.0.1", port=self.port)

    def state(self, serial: str) -> str | None:
        """The serial's state in the server's device list (device, offline, unauthorized...), None if absent."""
        return next((d.state for d in self.client().list() if d.serial == serial), None)

    def wait_for_state(self, serial: str, wanted: set[str | None], timeout: float = 10) -> str | None:
        """Poll until the serial's state is in `wanted` (None: not listed) or time is up; the last state seen."""
        deadline = time.monotonic() + timeout
        while (state := self.state(serial)) not in wanted and time.monotonic() < deadline:
            time.sleep(0.05)
        return state

    def log_tail(self, lines: int = 30) -> str:
        log = Path(self.env["ANDROID_ADB_LOG_PATH"])
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", params=list(ADB_BINARIES), ids=list(ADB_BINARIES))
def adb_binary(request) -> str:
    path = ADB_BINARIES[request.param]
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.skip(f"no {request.param} adb binary at {path}")
    return str(path)


@contextlib.contextmanager
def running_adb_server(binary: str, home: Path):
    """A private adb server of `binary` (own port, HOME and log; no USB, mDNS or emulator scanning)."""
    port = _free_port()
    env = {
        "ANDROID_ADB_SERVER_PORT": str(port),
        "HOME": str(home),  # its own ~/.android/adbkey, generated on first start
        "ANDROID_ADB_LOG_PATH": str(home / "adb.log"),  # not the shared /tmp/adb.$UID.log
        # No USB, mDNS or emulator-port scanning: the server sees only the devices a test connects.
        "ADB_USB": "0",
        "ADB_LIBUSB": "0",
        "ADB_MDNS": "0",
        "ADB_EMU": "0",
    }
    server = AdbServer(binary, port, env)
    started = server.adb("start-server")
    if started.returncode != 0:
        pytest.fail(f"`adb start-server` failed: {started.stderr}{server.log_tail()}")
    try:
        yield server
    finally:
        server.adb("kill-server")


@pytest.fixture(scope="session")
def adb_server(adb_binary, tmp_path_factory):
    with running_adb_server(adb_binary, tmp_path_factory.mktemp("adb-home")) as server:
        yield server


def _connect(adb_server: AdbServer, device: LoopbackDevice, timeout: float = 15) -> None:
    # `adb connect` exits 0 even when it fails: its words tell. An unauthorized device makes it say "failed to
    # authenticate", yet the server lists it (as unauthorized). A silent one makes it wait 10 s for a CNXN, then
    # say "failed to connect", yet the server keeps it listed as offline: stop waiting once it is listed so.
    with subprocess.Popen([adb_server.binary, "connect", device.serial], env={**os.environ, **adb_server.env},
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as connecting:
        deadline = time.monotonic() + timeout
        while connecting.poll() is None and time.monotonic() < deadline:
            if device.silent and adb_server.state(device.serial) == "offline":
                connecting.kill()
                return
            time.sleep(0.05)
        connecting.kill()
        said = connecting.stdout.read().strip()
    if f"connected to {device.serial}" not in said and f"failed to authenticate to {device.serial}" not in said:
        pytest.fail(f"`adb connect {device.serial}` failed: {said or 'no answer'}\n{adb_server.log_tail()}")


@pytest.fixture
def make_loopback_device(adb_server, tmp_path):
    made: list[LoopbackDevice] = []

    def make(**kwargs) -> LoopbackDevice:
        device = LoopbackDevice(tmp_path / f"data-local-tmp-{len(made)}", **kwargs).start()
        made.append(device)
        _connect(adb_server, device)
        return device

    yield make
    for device in made:
        adb_server.adb("disconnect", device.serial)
        device.stop()


@pytest.fixture
def loopback_device(adb_server, make_loopback_device) -> LoopbackDevice:
    device = make_loopback_device()
    state = adb_server.wait_for_state(device.serial, {"device"})
    if state != "device":
        pytest.fail(f"{device.serial} is {state or 'not listed'} after `adb connect`, not `device`:\n"
                    f"{adb_server.log_tail()}")
    return device


@contextlib.contextmanager
def attached(adb_server: AdbServer, device: LoopbackDevice):
    """Start `device`, `adb connect` it and wait for state `device`; disconnect and stop it afterwards."""
    device.start()
    try:
        _connect(adb_server, device)
        state = adb_server.wait_for_state(device.serial, {"device"})
        if state != "device":
            pytest.fail(f"{device.serial} is {state or 'not listed'} after `adb connect`, not `device`:\n"
                        f"{adb_server.log_tail()}")
        yield device
    finally:
        adb_server.adb("disconnect", device.serial)
        device.stop()


@pytest.fixture(scope="session")
def arm64_ready():
    """Skips with how to build the arm64 device when it is not built; fails instead in CI (arm64.REQUIRED_ENV)."""
    reason = arm64.not_built()
    if reason is not None:
        (pytest.fail if arm64.required() else pytest.skip)(reason)


@pytest.fixture(scope="session")
def arm64_adb_server(arm64_ready, tmp_path_factory):
    if not ADB_BINARIES["debian"].is_file():
        pytest.fail(f"no Debian adb at {ADB_BINARIES['debian']}: apt-get install adb (install.sh does)")
    with running_adb_server(str(ADB_BINARIES["debian"]), tmp_path_factory.mktemp("arm64-adb-home")) as server:
        yield server


@pytest.fixture
def make_arm64_device(arm64_adb_server, tmp_path):
    made = []
    with contextlib.ExitStack() as stack:
        def make(**kwargs) -> arm64.Arm64LoopbackDevice:
            made.append(arm64.Arm64LoopbackDevice(tmp_path / f"arm64-data-local-tmp-{len(made)}", **kwargs))
            return stack.enter_context(attached(arm64_adb_server, made[-1]))

        yield make
