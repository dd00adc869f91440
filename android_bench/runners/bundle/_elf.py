"""ELF dependencies of a bundle: what each file needs (DT_NEEDED), where the loader would find it (the launcher's
--library-path, then the file's own RUNPATH/RPATH with $ORIGIN expanded), and copying in what is missing.

Read with GNU readelf, which reads an aarch64 ELF as well as an x86_64 one.
"""
from __future__ import annotations

import functools
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
    runpath: bool  # the paths are DT_RUNPATH: used for this ELF's own needs only, never passed down


def is_elf(path: Path) -> bool:
    if path.is_symlink() or not path.is_file():
        return False
    with open(path, "rb") as f:
        return f.read(4) == ELF_MAGIC


def elves(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if is_elf(p))


def dynamic(path: Path) -> Dynamic:
    st = path.stat()
    return _dynamic(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _dynamic(path: str, size: int, mtime_ns: int) -> Dynamic:
    readelf = shutil.which("readelf")
    if readelf is None:
        raise BundleError("readelf not found: apt-get install binutils")
    done = subprocess.run([readelf, "-d", "-W", path], capture_output=True, text=True)
    if done.returncode != 0:
        raise BundleError(f"readelf cannot read {path}: {done.stderr.strip()[:200]}")
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", done.stdout)
    runpath = re.findall(r"\(RUNPATH\)\s+Library runpath: \[([^\]]*)\]", done.stdout)
    found = runpath or re.findall(r"\(RPATH\)\s+Library rpath: \[([^\]]*)\]", done.stdout)  # RUNPATH wins
    return Dynamic(tuple(needed), tuple(p for entry in found for p in entry.split(":") if p), bool(runpath))


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


def _search(infos: dict[Path, Dynamic], inside: Path) -> dict[Path, set[Path]]:
    """Per ELF, the folders of its own that glibc searches: its RUNPATH; or its RPATH plus the RPATHs of the ELFs
    that load it, up their chain (how torch.libs/libopenblas finds libgfortran beside it: libtorch_cpu's RPATH).
    Inherited from every ELF needing it by name: a superset of one real load order's chain."""
    own = {elf: set(own_paths(elf, dyn, inside)) for elf, dyn in infos.items()}
    inherited = {elf: set() for elf in infos}
    by_name: dict[str, list[Path]] = {}
    for elf in infos:
        by_name.setdefault(elf.name, []).append(elf)
    changed = True
    while changed:
        changed = False
        for loader, dyn in infos.items():
            give = inherited[loader] | (set() if dyn.runpath else own[loader])
            for dep in (d for name in dyn.needed for d in by_name.get(name, ()) if not infos[d].runpath):
                if not give <= inherited[dep]:
                    inherited[dep] |= give
                    changed = True
    return {elf: own[elf] | inherited[elf] for elf in infos}


def unresolved(part_folders: list[Path]) -> list[tuple[Path, str]]:
    """(ELF, library) pairs of the parts that the loader would not find: not in the parts' lib/ folders (the
    launcher's --library-path) nor in the ELF's own search folders inside the bundle."""
    folders = [Path(p).resolve() for p in part_folders]
    inside = Path(os.path.commonpath(folders)) if len(folders) > 1 else folders[0]
    lib_dirs = [p / "lib" for p in folders]
    infos = {elf: dynamic(elf) for part in folders for elf in elves(part)}
    search = _search(infos, inside)
    return [(elf, name) for elf, dyn in infos.items() for name in dyn.needed
            if not any((d / name).is_file() for d in [*lib_dirs, *search[elf]])]


def check_closed(part_folders: list[Path]) -> None:
    """Every ELF in the parts finds each library it needs in the parts' lib/ folders (the launcher's
    --library-path) or in its own RUNPATH/RPATH inside the bundle; else BundleError naming the ELF and library."""
    missing = unresolved(part_folders)
    if missing:
        elf, name = missing[0]
        inside = Path(os.path.commonpath([Path(p).resolve() for p in part_folders])).parent
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


def close_libraries(part_folders: list[Path], search: list[Path], root: Path) -> list[str]:
    """Copy into the last part's lib/ every library an ELF of the parts needs, transitively, that the loader would
    not find in the bundle (unresolved), from `search` (first hit wins; symlinks resolved inside `root`). Returns
    the names copied; one found nowhere is a BundleError."""
    lib = Path(part_folders[-1]) / "lib"
    lib.mkdir(exist_ok=True)
    copied: list[str] = []
    while missing := unresolved(part_folders):
        if all((lib / name).exists() for _, name in missing):  # copied, yet not found: never loop on it
            check_closed(part_folders)
        for elf, name in missing:
            if (lib / name).exists():
                continue
            source = next((d / name for d in search if (d / name).exists()), None)
            if source is None:
                raise BundleError(f"{name} (needed by {elf.name}) is in none of {', '.join(map(str, search))}")
            copy_file(source, lib / name, root)
            copied.append(name)
    return copied
