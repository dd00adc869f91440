"""The loopback device (android_bench/devices/loopback) as the REAL adb server and adbutils see it, faults included.

Each test runs against Debian's adb and the adbutils wheel's adb (the session-scoped `adb_binary` fixture).
"""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import adbutils
import pytest

pytestmark = pytest.mark.timeout(60)  # every adb call has its own timeout too: nothing hangs the suite


def shell(adb_server, device, command: str, timeout: float = 20) -> subprocess.CompletedProcess:
    return adb_server.adb("-s", device.serial, "shell", command, timeout=timeout)


def test_listed_as_a_pixel_3(adb_server, loopback_device):
    listing = adb_server.adb("devices", "-l").stdout
    line = next(l for l in listing.splitlines() if l.startswith(loopback_device.serial + " "))
    assert line.split()[1] == "device" and "model:Pixel_3" in line.split() and "device:blueline" in line.split()


def test_shell_output_exit_code_and_cwd(adb_server, loopback_device):
    done = shell(adb_server, loopback_device, "echo hi; echo oops >&2; pwd")
    assert (done.returncode, done.stdout, done.stderr) == (0, "hi\n/\n", "oops\n")  # shell v2 keeps stderr apart
    assert shell(adb_server, loopback_device, "exit 3").returncode == 3
    assert shell(adb_server, loopback_device, "false").returncode == 1


def test_stdin_and_exec_out(adb_server, loopback_device):
    piped = adb_server.adb("-s", loopback_device.serial, "shell", "wc -c", input="x" * 300_000)
    assert piped.stdout.strip() == "300000"  # shell v2 forwards stdin, then closes it
    interactive = adb_server.adb("-s", loopback_device.serial, "shell", input="echo typed\nexit 7\n")
    assert (interactive.returncode, interactive.stdout) == (7, "typed\n")
    raw = adb_server.adb("-s", loopback_device.serial, "exec-out", "echo out; echo err >&2")
    assert raw.stdout == "out\nerr\n"  # exec: is one raw stream


def test_getprop(adb_server, make_loopback_device):
    device = make_loopback_device(props={"ro.build.version.sdk": "33"})
    assert adb_server.wait_for_state(device.serial, {"device"}) == "device"
    assert shell(adb_server, device, "getprop ro.product.model").stdout == "Pixel 3\n"
    assert shell(adb_server, device, "getprop ro.build.version.sdk").stdout == "33\n"
    assert shell(adb_server, device, "getprop no.such.prop fallback").stdout == "fallback\n"
    listing = shell(adb_server, device, "getprop").stdout.splitlines()
    assert "[ro.board.platform]: [sdm845]" in listing and "[ro.product.manufacturer]: [Google]" in listing
    device.props["ro.product.model"] = "Pixel 3 XL"  # read again by the next command
    assert shell(adb_server, device, "getprop ro.product.model").stdout == "Pixel 3 XL\n"


def test_push_pull_round_trip(adb_server, loopback_device, tmp_path):
    sent = tmp_path / "random.bin"
    sent.write_bytes(os.urandom(5 * 1024 * 1024 + 123))
    pushed = adb_server.adb("-s", loopback_device.serial, "push", str(sent), "/data/local/tmp/in/random.bin")
    assert pushed.returncode == 0, pushed.stderr
    assert (loopback_device.root / "in" / "random.bin").read_bytes() == sent.read_bytes()
    back = tmp_path / "back.bin"
    pulled = adb_server.adb("-s", loopback_device.serial, "pull", "/data/local/tmp/in/random.bin", str(back))
    assert pulled.returncode == 0, pulled.stderr
    assert back.read_bytes() == sent.read_bytes()


def test_push_pull_directories(adb_server, loopback_device, tmp_path):
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("b")
    pushed = adb_server.adb("-s", loopback_device.serial, "push", str(tree), "/data/local/tmp/")
    assert pushed.returncode == 0, pushed.stderr
    assert (loopback_device.root / "tree" / "sub" / "b.txt").read_text() == "b"
    pulled = adb_server.adb("-s", loopback_device.serial, "pull", "/data/local/tmp/tree", str(tmp_path / "back"))
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "back" / "a.txt").read_text() == "a" and (tmp_path / "back" / "sub" / "b.txt").read_text() == "b"


def test_pushed_script_runs_in_data_local_tmp(adb_server, loopback_device, tmp_path):
    script = tmp_path / "job.sh"
    script.write_text("#!/bin/sh\ncd \"$(dirname \"$0\")\" && pwd > where.txt && echo ran\n")
    script.chmod(0o755)
    assert adb_server.adb("-s", loopback_device.serial, "push", str(script), "/data/local/tmp/job.sh").returncode == 0
    assert stat.S_IMODE((loopback_device.root / "job.sh").stat().st_mode) == 0o755
    done = shell(adb_server, loopback_device, "/data/local/tmp/job.sh")
    assert done.stdout == "ran\n", done.stderr
    assert (loopback_device.root / "where.txt").read_text() == "/data/local/tmp\n"


def test_adbutils_client(adb_server, loopback_device, tmp_path):
    d = adb_server.client().device(loopback_device.serial)
    assert d.shell2("echo out; (exit 4)").returncode == 4  # shell v1 + adbutils' `echo MARKER$?` after the command
    v2 = d.shell2("echo out; echo err >&2; exit 5", v2=True)
    assert (v2.returncode, v2.stdout, v2.stderr) == (5, "out\n", "err\n")
    assert d.prop.model == "Pixel 3" and d.getprop("ro.soc.model") == "SDM845"
    assert d.sync.push(b"payload", "/data/local/tmp/p.txt") == 7
    assert (loopback_device.root / "p.txt").read_bytes() == b"payload"
    assert d.sync.read_bytes("/data/local/tmp/p.txt") == b"payload"
    d.sync.pull("/data/local/tmp/p.txt", str(tmp_path / "p.txt"))
    assert (tmp_path / "p.txt").read_bytes() == b"payload"
    assert d.sync.stat("/data/local/tmp/p.txt").size == 7 and not d.sync.exists("/data/local/tmp/missing")
    (loopback_device.root / "dir" / "sub").mkdir(parents=True)
    (loopback_device.root / "dir" / "sub" / "q.txt").write_text("q")
    assert sorted(f.path for f in d.sync.list("/data/local/tmp")) == [".", "..", "dir", "p.txt"]
    d.sync.pull("/data/local/tmp/dir", str(tmp_path / "dir"))
    assert (tmp_path / "dir" / "sub" / "q.txt").read_text() == "q"


def test_unauthorized(adb_server, make_loopback_device):
    device = make_loopback_device(auth_required=True)
    assert adb_server.wait_for_state(device.serial, {"unauthorized"}) == "unauthorized"
    refused = shell(adb_server, device, "echo hi")
    assert refused.returncode != 0 and "unauthorized" in refused.stderr


def test_silent_is_offline(adb_server, make_loopback_device):
    device = make_loopback_device(silent=True)
    assert adb_server.wait_for_state(device.serial, {"device"}, timeout=1) == "offline"  # and stays so


def test_failing_push(adb_server, loopback_device, tmp_path):
    loopback_device.fail_push = True
    local = tmp_path / "x.bin"
    local.write_bytes(b"x" * 100_000)
    done = adb_server.adb("-s", loopback_device.serial, "push", str(local), "/data/local/tmp/x.bin")
    assert done.returncode != 0 and "No space left on device" in done.stdout + done.stderr
    assert not (loopback_device.root / "x.bin").exists()
    with pytest.raises(adbutils.AdbError):
        adb_server.client().device(loopback_device.serial).sync.push(b"x", "/data/local/tmp/x.bin")


def test_only_data_local_tmp_is_writable(adb_server, loopback_device, tmp_path):
    local = tmp_path / "x.txt"
    local.write_text("x")
    done = adb_server.adb("-s", loopback_device.serial, "push", str(local), "/etc/x.txt")
    assert done.returncode != 0 and "Read-only file system" in done.stdout + done.stderr
    assert not Path("/etc/x.txt").exists()
    assert shell(adb_server, loopback_device, "touch /etc/x.txt").returncode != 0
    pulled = adb_server.adb("-s", loopback_device.serial, "pull", "/etc/os-release", str(tmp_path / "os-release"))
    assert pulled.returncode == 0 and (tmp_path / "os-release").read_bytes() == Path("/etc/os-release").read_bytes()


def test_device_lost_mid_command(adb_server, loopback_device):
    loopback_device.drop_on_command = "benchmark"
    done = shell(adb_server, loopback_device, "echo benchmark starts; sleep 30; echo finished", timeout=25)
    # Only the missing end tells: the interrupted `adb shell` exits 0 with adb 29 and 255 with adb 36.
    assert "finished" not in done.stdout and done.returncode in (0, 255)
    assert adb_server.wait_for_state(loopback_device.serial, {"offline", None}) in ("offline", None)
    assert shell(adb_server, loopback_device, "echo hi").returncode != 0
    with pytest.raises(ConnectionRefusedError):  # gone for good: the adb server's reconnects fail too
        socket.create_connection(("127.0.0.1", loopback_device.port), timeout=5).close()


def test_stop_kills_running_commands(adb_server, loopback_device):
    pid_file = loopback_device.root / "pid"
    with subprocess.Popen([adb_server.binary, "-s", loopback_device.serial, "shell", "echo $$ > /data/local/tmp/pid; "
                           "exec sleep 30"], env={**os.environ, **adb_server.env}, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as running:
        deadline = time.monotonic() + 10
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, "the command never started"
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        loopback_device.stop()
        running.wait(timeout=10)  # the client sees the device go
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)


def alive(pid: int) -> bool:
    """Running, as opposed to gone or a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
