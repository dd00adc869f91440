"""Where a bundle is made from, per ABI, and what it records about that (part.json "sources").

arm64-v8a: the arm64 root (android_bench.devices.arm64.rootfs): Debian's /usr/bin/python3.11 and /usr/lib/python3.11,
its multiarch libraries, the aarch64 wheels in rootfs.site_packages(root) and torch in rootfs.TORCH_DIR.
x86_64: this machine: the running venv's base interpreter and standard library, its libpython, the venv's
site-packages, and the host's multiarch libraries.
"""
from __future__ import annotations

import hashlib
import platform
import sys
import sysconfig
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from android_bench.devices.arm64 import rootfs
from android_bench.runners.native import build, cross
from android_bench.runners.bundle._elf import BundleError

ABIS = ("arm64-v8a", "x86_64")
PY = "python3.11"
# What the base part's Python imports (checked by running the runners: numpy's, onnxruntime's and LiteRT's
# declared dependencies, flatbuffers, protobuf, ml_dtypes..., are never imported by inference).
BASE_DISTS = ("numpy", "onnxruntime", "ai-edge-litert")
# torch and what `import torch` and torch.jit.load need (its requirements but setuptools, which it does not import).
TORCH_DISTS = ("torch", *rootfs.TORCH_DEPS)
PACKAGES = ("libc6", "libstdc++6", "python3.11-minimal")  # recorded from dpkg, where the libraries come from
HOST_PACKAGES = ("libc6", "libstdc++6", "libc6-arm64-cross", "libstdc++6-arm64-cross", "g++-aarch64-linux-gnu")


@dataclass(frozen=True)
class Source:
    abi: str
    root: Path  # what absolute symlinks are relative to: / on this machine, the arm64 root
    python: Path  # the interpreter ELF
    stdlib: Path  # lib/python3.11
    lib_dirs: tuple[Path, ...]  # where the libraries are searched, first hit wins
    site: Path  # the runtimes' site-packages
    torch_site: Path
    loader: str  # glibc's dynamic loader's file name


def source(abi: str) -> Source:
    if abi not in ABIS:
        raise BundleError(f"no bundle for ABI {abi!r}; choose one of {', '.join(ABIS)}")
    if abi == "arm64-v8a":
        return _arm64()
    if build.android_abi() != abi:
        raise BundleError(f"the {abi} bundle is made from this machine's Python, which is {build.android_abi()}")
    return _host()


def _host() -> Source:
    base = Path(sys.base_prefix)
    python = Path(sys._base_executable).resolve()
    site = Path(sysconfig.get_paths()["purelib"])
    multiarch = Path(cross.TARGETS["x86_64"].sysroot)
    return Source("x86_64", Path("/"), python, base / "lib" / PY,
                  (base / "lib", multiarch, Path("/lib/x86_64-linux-gnu"), Path("/usr/lib")), site, site,
                  cross.TARGETS["x86_64"].loader)


def _arm64() -> Source:
    problem = rootfs.built()
    if problem is not None:
        raise BundleError(f"no arm64 root to bundle ({problem}): run `python -m android_bench.arm64 setup`")
    root = rootfs.root_dir()
    return Source("arm64-v8a", root, root / "usr" / "bin" / PY, root / "usr" / "lib" / PY,
                  (root / "usr" / "lib" / "aarch64-linux-gnu", root / "usr" / "lib"), rootfs.site_packages(root),
                  root / rootfs.TORCH_DIR.lstrip("/"), cross.TARGETS["arm64-v8a"].loader)


def distributions(site: Path, names) -> dict[str, metadata.Distribution]:
    """{name: distribution} installed in `site`; one missing is a BundleError."""
    found = {_norm(d.metadata["Name"]): d for d in metadata.distributions(path=[str(site)])}
    missing = [n for n in names if _norm(n) not in found]
    if missing:
        raise BundleError(f"{', '.join(missing)} not installed in {site}: nothing to bundle")
    return {n: found[_norm(n)] for n in names}


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def dpkg_versions(root: Path, packages=PACKAGES) -> dict[str, str]:
    """{package: version} from the root's dpkg database (a package not installed is left out)."""
    try:
        text = (root / "var" / "lib" / "dpkg" / "status").read_text(errors="replace")
    except OSError:
        return {}
    found = {}
    for stanza in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " ")
        name = fields.get("Package", "")
        if name in packages and fields.get("Status", "").endswith(" installed") and "Version" in fields:
            found[name] = fields["Version"]
    return found


def builder_hash() -> str:
    """This package's and the native runner's code: changing them rebuilds the bundle."""
    here = Path(__file__).parent
    files = [*sorted(here.glob("*.py")), Path(cross.__file__), Path(build.__file__), build.SOURCE]
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()[:16]


def base_sources(src: Source) -> dict:
    dists = distributions(src.site, BASE_DISTS)
    made = {"builder": builder_hash(), "abi": src.abi, "python": _python_version(src),
            **{name: d.version for name, d in dists.items()}, "executorch": metadata.version("executorch"),
            "packages": dpkg_versions(src.root), "python_file": _stamp(src.python),
            "host_packages": dpkg_versions(Path("/"), HOST_PACKAGES)}  # the tools' glibc and libstdc++
    if src.abi == "arm64-v8a":
        made["root"] = rootfs.read_state()
    return made


def torch_sources(src: Source, base_sha256: str) -> dict:
    dists = distributions(src.torch_site, TORCH_DISTS)
    return {"builder": builder_hash(), "abi": src.abi, **{name: d.version for name, d in dists.items()},
            "base": base_sha256}  # torch/lib holds what base/lib lacks: a new base remakes it


def _python_version(src: Source) -> str:
    if src.abi == "x86_64":
        return platform.python_version()
    return dpkg_versions(src.root).get("python3.11-minimal", "3.11")


def _stamp(path: Path) -> list:
    st = path.stat()
    return [st.st_size, int(st.st_mtime)]
