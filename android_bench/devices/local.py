"""This machine as a device (`--device local`): its device folder a local directory, commands through sh."""
from __future__ import annotations

import os
import platform
import shlex
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from android_bench.devices import DeviceError, ShellResult
from android_bench.devices.facts import ABI_BY_MACHINE, FACTS_SCRIPT, THERMAL_SCRIPT, parse_facts, parse_thermal
from android_bench.measurement.machine import cpuinfo


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

    def push(self, local: Path, remote: str, progress=None) -> None:
        try:
            Path(remote).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local, remote)
            shutil.copymode(local, remote)
            if progress is not None:
                progress(Path(local).stat().st_size)
        except OSError as exc:  # copyfile names the source; what failed is writing the device folder
            Path(remote).unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror, remote) from exc

    def pull(self, remote: str, local: Path) -> None:
        if not Path(remote).is_file():
            raise DeviceError(f"local: {remote} does not exist")
        shutil.copyfile(remote, local)

    def facts(self) -> dict:
        facts = parse_facts(self.shell(FACTS_SCRIPT, what="reading its facts").output)
        facts.update(model=platform.node() or None, manufacturer=None, abi=ABI_BY_MACHINE.get(platform.machine()),
                     cpu=cpuinfo().get("model name"), os=f"{platform.system()} {platform.release()}")
        facts["missing"] = sorted(k for k, v in facts.items() if v is None or (isinstance(v, list) and not any(v)))
        return facts

    def thermal(self) -> dict:
        return parse_thermal(self.shell(THERMAL_SCRIPT, what="reading its temperatures").output)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
