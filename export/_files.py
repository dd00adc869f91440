"""Atomic file writes and file facts for manifests."""
from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from models.errors import UserError

# Set by the CLI's SIGTERM/SIGINT handler. The KeyboardInterrupt it raises can be swallowed by a library (an
# `except BaseException`, an exception in a __del__), so swap_in also checks this: an interrupted run never commits.
interrupted = threading.Event()


def ensure_writable_dir(path: Path) -> Path:
    """Create `path` (and parents) and prove we can write there, or fail with a one-line error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as exc:
        raise UserError(f"--out {path}: cannot write there ({exc.strerror or exc}); choose a writable folder") from exc
    return path


class DiskFull(UserError, OSError):
    """A full disk (ENOSPC) as one line; still an OSError with its errno and file name, so a caller that reports
    write failures its own way (the benchmark: what was measured is kept, --resume) sees it as one."""

    def __init__(self, message: str, path: Path):
        OSError.__init__(self, errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        self.message = message

    def __str__(self) -> str:
        return self.message


def no_space(path: Path, detail: str = "") -> DiskFull:
    """The one line for a full disk (ENOSPC), whichever writer hit it."""
    return DiskFull(f"no space left on the disk holding {Path(path).parent}{f' ({detail})' if detail else ''}; "
                    "free some space or write elsewhere (--out)", path)


def need_space(folder: Path, nbytes: int, what: str) -> None:
    """Refuse before a write of about `nbytes` into `folder` that the disk cannot hold: some writers (torch's C++
    serializers, TensorFlow) abort the process on a full disk instead of raising."""
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    if free < nbytes + (1 << 20):  # a margin for the manifest and the filesystem's own blocks
        raise no_space(Path(folder) / what, f"{what} needs {nbytes / 1e6:.1f} MB, {free / 1e6:.1f} MB are free")


def real_path(path: Path) -> Path:
    """`path` with every symlink in it followed (os.path.realpath), so a linked folder is acted on where it is."""
    return Path(os.path.realpath(path))


def _write_or_remove(path: Path, data: bytes) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data)
    except BaseException as exc:
        path.unlink(missing_ok=True)  # no partial file stays behind, whatever stopped the write
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise no_space(path, f"writing {path.name}") from exc
        raise


def write_bytes_checked(path: Path, data: bytes) -> None:
    """Write `data` (serialized in memory first) after checking the disk has room: a full disk is one line."""
    need_space(path.parent, len(data), path.name)
    _write_or_remove(path, data)


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    _write_or_remove(tmp, text.encode())
    os.replace(tmp, path)


def write_json_atomic(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_record(path: Path) -> dict:
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": sha256(path)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def scratch(out: Path, kind: str):
    """A hidden folder beside `out` (same filesystem, so the final move is a rename), named after this process and
    removed at the end, on errors and Ctrl-C too. Leftovers of processes that were killed (SIGKILL leaves no time
    to clean up) are removed first."""
    out = real_path(out)
    prefix = f".{out.name}.{kind}-"
    for old in out.parent.iterdir() if out.parent.is_dir() else ():
        pid = old.name[len(prefix):].split("-", 1)[0]
        if old.name.startswith(prefix) and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{prefix}{os.getpid()}-"))
    _scratch.add(path)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o777 & ~umask)  # it becomes the artifact folder: the permissions of a folder made by mkdir
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        _scratch.discard(path)


# This process's scratch folders not removed yet. A KeyboardInterrupt can land between a folder's creation and its
# `try`, or inside the `finally` that removes it; the CLI removes what is left here on its way out.
_scratch: set[Path] = set()


def remove_scratch() -> None:
    for path in list(_scratch):
        shutil.rmtree(path, ignore_errors=True)
        _scratch.discard(path)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where the system or filesystem lacks it."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def swap_in(stage: Path, out: Path) -> None:
    """Put the folder `stage` at `out` in one step; the previous `out` is removed after the swap succeeded. A
    symlink at `out` is followed (and kept): swapping the link itself out would leave it renamed beside."""
    if interrupted.is_set():
        raise KeyboardInterrupt
    out = real_path(out)
    if not out.exists():
        os.rename(stage, out)
    elif _exchange(stage, out):
        shutil.rmtree(stage)  # the old folder, now at the staging path
    else:  # no atomic exchange here: two renames, with a moment where `out` is absent (never mixed)
        old = stage.with_name(stage.name + ".old")
        os.rename(out, old)
        os.rename(stage, out)
        shutil.rmtree(old)


class FolderBusy(UserError):
    """Another process is writing the folder (it holds its lock)."""


def lock_path(folder: Path) -> Path:
    """The lock file of `folder`: beside it, since an export replaces the folder as a whole; beside the real folder
    when `folder` is a symlink, so writers through the link and through its target exclude each other."""
    folder = real_path(folder)
    return folder.parent / f".{folder.name}.lock"


@contextlib.contextmanager
def folder_lock(folder: Path, flag: str = "--out"):
    """Hold the advisory write lock (fcntl, exclusive, not waiting) on `folder` for the block: one writer per
    folder. A second writer fails at once in one line naming the holder (pid and command line, written into the
    lock file). The lock goes with the process, so a killed writer never leaves the folder locked. The lock file
    is removed on release, while still locked; a writer that locked a file removed meanwhile (it opened it just
    before) sees that the path no longer leads to its file and locks the new one instead."""
    path = lock_path(folder)
    if path in _held:  # this process holds it already (a CLI claims its --out, then export() does): nested use
        yield path
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _lock_file(path, folder, flag)
    except OSError as exc:  # a read-only filesystem, another user's folder
        raise UserError(f"{flag} {folder}: cannot create its lock file {path.name} beside it "
                        f"({exc.strerror or exc}); choose a writable {flag}") from exc
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv)[:120]})\n".encode(), 0)
        _held.add(path)
        try:
            yield path
        finally:
            _held.discard(path)
            path.unlink(missing_ok=True)  # under the lock: no one else holds this file
    finally:
        os.close(fd)  # releases the lock


def _lock_file(path: Path, folder: Path, flag: str) -> int:
    """An fd of `path`, exclusively locked, that `path` still names; FolderBusy when another process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise FolderBusy(f"{flag} {folder} is being written by {holder.splitlines()[0][:160]}; wait for it to "
                             f"finish or choose another {flag}") from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # its holder removed it as we opened it: lock the current one


_held: set[Path] = set()  # lock files this process holds
