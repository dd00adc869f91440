"""ELF dependencies of a bundle: what each file needs (DT_NEEDED), where the loader would find it (the launcher's
--library-path, then the file's own RUNPATH/RPATH with $ORIGIN expanded), and copying in what is missing.

Read with GNU readelf, which reads an aarch64 ELF as well as an x86_64 one.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from models.errors import UserError

ELF_MAGIC = b"\x7fELF"


class BundleError(UserError):
    """The bundle cannot be built or is incomplete: a source missing, a library found nowhere."""


@dataclass(frozen=True)
class Dynamic:
    needed: tuple[str, ...]
    paths: tuple[str, ...]  # RUNPATH (or RPATH) entries as written, $ORIGIN unexpanded


def is_elf(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(4) == ELF_MAGIC


def elves(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if is_elf(p))


def dynamic(path: Path) -> Dynamic:
    readelf = shutil.which("readelf")
    if readelf is None:
        raise BundleError("readelf not found: apt-get install binutils")
    done = subprocess.run([readelf, "-d", "-W", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        raise BundleError(f"readelf cannot read {path}: {done.stderr.strip()[:200]}")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", done.stdout)
    paths = [p for found in re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[([^\]]*)\]", done.stdout)
             for p in found.split(":") if p]
    return Dynamic(tuple(needed), tuple(paths))


def own_paths(elf: Path, dyn: Dynamic, inside: Path) -> list[Path]:
    """The ELF's RUNPATH/RPATH folders with $ORIGIN expanded, those that stay inside `inside` only (an absolute
    path of the build machine, or one climbing out of the bundle, does not exist on the device)."""
    found = []
    for entry in dyn.paths:
        expanded = entry.replace("${ORIGIN}", "$ORIGIN").replace("$ORIGIN", str(elf.parent))
        folder = Path(os.path.normpath(expanded))
        if folder.is_relative_to(inside):
            found.append(folder)
    return found


def resolves(elf: Path, name: str, dyn: Dynamic, lib_dirs: list[Path], inside: Path) -> bool:
    return any((d / name).is_file() for d in [*lib_dirs, *own_paths(elf, dyn, inside)])


def check_closed(part_folders: list[Path]) -> None:
    """Every ELF in the parts finds each library it needs in the parts' lib/ folders (the launcher's
    --library-path) or in its own RUNPATH/RPATH inside the bundle; else BundleError naming the ELF and library."""
    folders = [Path(p).resolve() for p in part_folders]
    inside = Path(os.path.commonpath(folders)) if len(folders) > 1 else folders[0]
    lib_dirs = [p / "lib" for p in folders]
    missing = []
    for part in folders:
        for elf in elves(part):
            dyn = dynamic(elf)
            missing += [(elf, name) for name in dyn.needed if not resolves(elf, name, dyn, lib_dirs, inside)]
    if missing:
        elf, name = missing[0]
        more = f" (and {len(missing) - 1} more missing)" if len(missing) > 1 else ""
        raise BundleError(f"{elf.relative_to(inside)} needs {name}, which is in none of the bundle's lib/ folders "
                          f"nor its RUNPATH inside the bundle{more}")


def real_file(path: Path, root: Path) -> Path:
    """`path` with its symlinks followed as if `root` were / (an absolute link in the arm64 root points into it)."""
    for _ in range(40):
        if not path.is_symlink():
            return path
        target = os.readlink(path)
        path = Path(os.path.normpath(root / target.lstrip("/") if target.startswith("/") else path.parent / target))
    raise BundleError(f"too many symbolic links at {path}")


def copy_file(source: Path, dest: Path, root: Path) -> None:
    """Copy the file (never the link) with its mode."""
    real = real_file(source, root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(real, dest)
    os.chmod(dest, real.stat().st_mode & 0o777 | 0o444)


def close_libraries(part: Path, search: list[Path], root: Path, *, lib_dirs: list[Path] = ()) -> list[str]:
    """Copy into part/lib every library an ELF of `part` needs, transitively, that neither `lib_dirs` (another
    part's lib/), part/lib nor the ELF's own RUNPATH inside `part.parent` holds, from `search` (first hit wins;
    symlinks resolved inside `root`). Returns the names copied; one found nowhere is a BundleError."""
    lib = part / "lib"
    lib.mkdir(exist_ok=True)
    dirs, copied, queue = [*lib_dirs, lib], [], elves(part)
    while queue:
        elf = queue.pop()
        dyn = dynamic(elf)
        for name in dyn.needed:
            if resolves(elf, name, dyn, dirs, part.parent):
                continue
            source = next((d / name for d in search if (d / name).exists()), None)
            if source is None:
                raise BundleError(f"{name} (needed by {elf.relative_to(part)}) is in none of "
                                  f"{', '.join(map(str, search))}")
            copy_file(source, lib / name, root)
            copied.append(name)
            queue.append(lib / name)
    return copied
