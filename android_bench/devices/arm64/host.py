"""This machine's part of the arm64 device: the Debian packages, and qemu-aarch64 registered with binfmt_misc
so that aarch64 binaries run directly (in chroot and bwrap too: the registration has the F flag, so the
interpreter is opened once, from the host, whatever root the binary sees). The registration is machine-wide."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from models.errors import UserError

BINFMT = Path("/proc/sys/fs/binfmt_misc")
ENTRY = BINFMT / "qemu-aarch64"
# command -> the Debian package that provides it
PACKAGES = {"qemu-aarch64-static": "qemu-user-static", "qemu-aarch64": "qemu-user",  # qemu-user: plugins (count)
            "debootstrap": "debootstrap",
            "update-binfmts": "binfmt-support", "bwrap": "bubblewrap", "aarch64-linux-gnu-g++": "g++-aarch64-linux-gnu"}


class HostError(UserError):
    """This machine cannot run the arm64 device: a package is missing, or binfmt_misc cannot be used here."""


def is_root() -> bool:
    return os.geteuid() == 0


def run(cmd: list[str], *, what: str, timeout: float = 1800, env: dict | None = None) -> str:
    """Run a host command; a failure is one line naming the command and its last words."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **(env or {})})
    except FileNotFoundError as exc:
        raise HostError(f"{what}: {cmd[0]} not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise HostError(f"{what}: {cmd[0]} did not finish in {timeout:.0f} s") from exc
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1][:300]
        raise HostError(f"{what} failed (exit {done.returncode}): {said}")
    return done.stdout


def ensure_packages(log=print) -> None:
    """apt-get install the missing packages (as root), else name them and how to install them."""
    missing = sorted({pkg for cmd, pkg in PACKAGES.items() if shutil.which(cmd) is None})
    if not missing:
        return
    if not is_root() or shutil.which("apt-get") is None:
        raise HostError(f"the arm64 device needs the Debian packages {' '.join(missing)}: sudo apt-get install "
                        f"--no-install-recommends {' '.join(missing)}, then rerun")
    log(f"apt-get install {' '.join(missing)}")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], what="apt-get install", env=env)
    except HostError:  # a stale package list: refresh once
        run(["apt-get", "update", "-qq"], what="apt-get update", env=env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], what="apt-get install", env=env)


def binfmt_state() -> str | None:
    """None when qemu-aarch64 is registered and enabled with the F flag, else what is wrong (one phrase)."""
    if not (BINFMT / "status").is_file():
        return "binfmt_misc is not mounted"
    if not ENTRY.is_file():
        return "qemu-aarch64 is not registered with binfmt_misc"
    text = ENTRY.read_text()
    if not text.startswith("enabled"):
        return "qemu-aarch64 is registered but disabled"
    flags = next((l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("flags:")), "")
    if "F" not in flags:
        return f"qemu-aarch64 is registered without the F flag (flags {flags!r}): it cannot run inside a chroot"
    return None


def ensure_binfmt(log=print) -> None:
    """Mount binfmt_misc and enable Debian's qemu-aarch64 registration, or say why that is impossible here."""
    problem = binfmt_state()
    if problem is None:
        return
    if not is_root():
        raise HostError(f"{problem}; registering qemu-aarch64 needs root: sudo mount -t binfmt_misc binfmt_misc "
                        f"{BINFMT} && sudo update-binfmts --enable qemu-aarch64")
    if not (BINFMT / "status").is_file():
        log(f"mount -t binfmt_misc binfmt_misc {BINFMT}")
        try:
            run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], what="mounting binfmt_misc")
        except HostError as exc:
            raise HostError(f"{exc}: this container may not register binary formats (it needs a privileged "
                            "container or a VM); aarch64 binaries cannot run here") from exc
    log("update-binfmts --enable qemu-aarch64")
    try:
        run(["update-binfmts", "--enable", "qemu-aarch64"], what="update-binfmts --enable qemu-aarch64")
    except HostError:  # qemu-user-static installed before binfmt-support: its format was never imported
        run(["update-binfmts", "--import", "qemu-aarch64"], what="update-binfmts --import qemu-aarch64")
        run(["update-binfmts", "--enable", "qemu-aarch64"], what="update-binfmts --enable qemu-aarch64")
    problem = binfmt_state()
    if problem is not None:
        raise HostError(f"{problem} after update-binfmts --enable qemu-aarch64; reinstall qemu-user-static "
                        "(apt-get install --reinstall qemu-user-static) and rerun")


def debian_mirror() -> str:
    """The Debian mirror apt already uses here (deb822 .sources or sources.list), else deb.debian.org."""
    lists = sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]
    for path in lists:
        try:
            text = path.read_text()
        except OSError:
            continue
        for stanza in text.split("\n\n"):
            fields = dict(l.split(":", 1) for l in stanza.splitlines() if ":" in l and not l.startswith("#"))
            suites = fields.get("Suites", "").split()
            if "bookworm" in suites and fields.get("Types", "").strip() == "deb":
                return fields["URIs"].split()[0]
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == "bookworm" and not parts[1].startswith("["):
                return parts[1]
    return "http://deb.debian.org/debian"
