"""build(): the parts of a bundle, each made in a temporary folder beside its place, checked closed, its part.json
written last, then swapped in and tarred; reused when part.json records the same sources as now."""
from __future__ import annotations

import fcntl
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from android_bench.runners.bundle import _layout, _pack, _sources
from android_bench.runners.bundle._elf import BundleError, check_closed, close_libraries, copy_file

PARTS = ("base", "torch")
WORK = ".work"  # DIR/<abi>/.work: the ExecuTorch runner's build, kept so a rebuild skips compiling


@dataclass(frozen=True)
class Part:
    name: str
    folder: Path
    tar: Path
    sha256: str  # content hash: sha256 over the sorted lines "name\0sha256\n" of part.json's files
    bytes: int
    files: int


@dataclass(frozen=True)
class Bundle:
    abi: str
    parts: dict[str, Part]


def build(abi: str, out: Path, *, torch: bool = False, log=print) -> Bundle:
    """OUT/<abi>/base (and OUT/<abi>/torch) with their tars; see the package's docstring for the layout."""
    src = _sources.source(abi)
    home = Path(out).resolve() / abi
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second build of the same folder waits, then reuses
        parts = {"base": _part(home, "base", _sources.base_sources(src),
                               lambda stage: _fill_base(stage, src, home), log=log)}
        if torch:
            base = parts["base"]
            parts["torch"] = _part(home, "torch", _sources.torch_sources(src, base.sha256),
                                   lambda stage: _fill_torch(stage, src, base.folder), log=log)
    return Bundle(abi, parts)


def _part(home: Path, name: str, sources: dict, fill, *, log) -> Part:
    folder, tar = home / name, home / f"{name}.tar"
    manifest = _pack.read_manifest(folder)
    if manifest is not None and manifest.get("sources") == sources and tar.is_file():
        log(f"{home.name}/{name}: up to date ({manifest['bytes']} bytes, {len(manifest['files'])} files)")
        return _made(folder, tar, manifest)
    if manifest is not None and manifest.get("sources") == sources:  # killed between the swap and the tar
        _pack.write_tar(folder, tar, name)
        return _made(folder, tar, manifest)
    started = time.monotonic()
    log(f"{home.name}/{name}: building")
    stage = home / f".{name}.building"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        fill(stage)
        manifest = _pack.write_manifest(stage, abi=home.name, part=name, sources=sources)
        tar.unlink(missing_ok=True)  # an old tar must never sit beside a new folder
        _swap(stage, folder)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    _pack.write_tar(folder, tar, name)
    log(f"{home.name}/{name}: {manifest['bytes']} bytes, {len(manifest['files'])} files, tar {tar.stat().st_size} "
        f"bytes ({time.monotonic() - started:.0f} s)")
    return _made(folder, tar, manifest)


def _swap(stage: Path, folder: Path) -> None:
    """Replace `folder` by `stage`: the old one renamed away first (os.replace cannot overwrite a folder)."""
    old = folder.with_name(f".{folder.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(stage, folder)
    shutil.rmtree(old, ignore_errors=True)


def _made(folder: Path, tar: Path, manifest: dict) -> Part:
    return Part(manifest["part"], folder, tar, manifest["sha256"], manifest["bytes"], len(manifest["files"]))


def _fill_base(stage: Path, src: _sources.Source, home: Path) -> None:
    _layout.write_launcher(stage, src)
    _layout.copy_python(stage, src)
    _layout.copy_distributions(src.site, _sources.BASE_DISTS, stage / "site-packages", src.root)
    _layout.copy_tools(stage, src.abi, home / WORK)
    loader = next((d / src.loader for d in src.lib_dirs if (d / src.loader).exists()), None)
    if loader is None:
        raise BundleError(f"no {src.loader} in {', '.join(map(str, src.lib_dirs))}")
    copy_file(loader, stage / "lib" / src.loader, src.root)
    (stage / "lib" / src.loader).chmod(0o755)
    close_libraries([stage], list(src.lib_dirs), src.root)
    check_closed([stage])


def _fill_torch(stage: Path, src: _sources.Source, base: Path) -> None:
    _layout.copy_distributions(src.torch_site, _sources.TORCH_DISTS, stage / "site-packages", src.root)
    close_libraries([base, stage], list(src.lib_dirs), src.root)
    check_closed([base, stage])
    if not any((stage / "lib").iterdir()):
        (stage / "lib").rmdir()  # nothing base/lib lacks
