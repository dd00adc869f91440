"""part.json (every file's size and sha256, a content hash, what the part was made from) and the part's tar:
uncompressed POSIX (pax) tar, deterministic (sorted members, mtime 0, owner 0), members relative ("base/..."), so
`tar -xf` of busybox or Android's toybox unpacks it in the folder the part should sit in."""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
from pathlib import Path

SCHEMA = 1
MANIFEST = "part.json"
BLOCK = 1 << 20


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def _entries(folder: Path) -> list[Path]:
    """Every path under `folder`, sorted by its relative POSIX name."""
    return sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix())


def _inside_link(path: Path, folder: Path) -> str | None:
    """The target of a symlink that stays inside `folder` (kept as a link), else None."""
    if not path.is_symlink():
        return None
    target = os.readlink(path)
    resolved = Path(os.path.normpath(path.parent / target))
    return target if not os.path.isabs(target) and resolved.is_relative_to(folder) else None


def write_manifest(folder: Path, *, abi: str, part: str, sources: dict) -> dict:
    files = []
    for path in _entries(folder):
        name = path.relative_to(folder).as_posix()
        if name == MANIFEST or path.is_dir() and not path.is_symlink():
            continue
        link = _inside_link(path, folder)
        if link is not None:
            files.append({"name": name, "bytes": 0, "sha256": hashlib.sha256(link.encode()).hexdigest(), "link": link})
        else:
            files.append({"name": name, "bytes": path.stat().st_size, "sha256": sha256_file(path)})
    content = hashlib.sha256("".join(f"{f['name']}\0{f['sha256']}\n" for f in files).encode()).hexdigest()
    manifest = {"schema": SCHEMA, "abi": abi, "part": part, "files": files,
                "bytes": sum(f["bytes"] for f in files), "sha256": content, "sources": sources}
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, folder / MANIFEST)
    return manifest


def read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("schema") == SCHEMA else None


def _info(path: Path, arcname: str, folder: Path) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    link = _inside_link(path, folder)
    if link is not None:
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, link, 0o777
    elif path.is_dir():
        info.type, info.mode = tarfile.DIRTYPE, 0o755
    else:
        info.type, info.size, info.mode = tarfile.REGTYPE, path.stat().st_size, path.stat().st_mode & 0o777
    return info


def write_tar(folder: Path, tar: Path, name: str) -> Path:
    """`tar` of `folder` with members under `name`/, written to a temporary name and renamed when complete.
    A symlink pointing out of the folder is stored as the file it points to."""
    tmp = tar.with_name(f".{tar.name}.{os.getpid()}.tmp")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
            out.addfile(_info(folder, name, folder))
            for path in _entries(folder):
                info = _info(path, f"{name}/{path.relative_to(folder).as_posix()}", folder)
                if info.type == tarfile.REGTYPE:
                    with open(path, "rb") as f:
                        out.addfile(info, f)
                else:
                    out.addfile(info)
        os.replace(tmp, tar)
    finally:
        tmp.unlink(missing_ok=True)
    return tar
