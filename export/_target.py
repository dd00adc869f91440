"""An export's output folder, checked before any work: the real folder behind a symlinked --out, apart from the
model folder it is made from, with names the filesystem takes, writable, and holding nothing of the user's; and
its claim (the write lock, then those checks under it)."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from models.errors import UserError

from ._files import ensure_writable_dir, folder_lock, real_path

# The longest name made beside a folder: swap_in's `<scratch>.old`, scratch's `.{name}.{kind}-<pid>-<8 random>`
# with a pid of up to 7 digits (Linux's pid_max is at most 4194304) and the longest kind ("export").
_SCRATCH = ".{name}.export-1234567-xxxxxxxx.old"


def resolve_out(out: Path, flag: str = "--out") -> Path:
    """The real folder `out` names (every symlink in its path followed, once): the lock, scratch folders, checks and
    the swap then all act on it, and a link at `out` keeps pointing at the new artifact. A dangling link is one
    line: following it would create a folder wherever it points."""
    out = Path(out)
    check_names(out, flag=flag)  # first: a name too long fails even the look at a link
    if out.is_symlink() and not out.exists():
        raise UserError(f"{flag} {out} is a symlink to {os.readlink(out)}, which does not exist; create it or "
                        f"choose another {flag}")
    return real_path(out)


def check_names(out: Path, names: list[str] = (), flag: str = "--out", what: str = "a shorter --out") -> None:
    """Every name an export makes for `out` fits its filesystem (PC_NAME_MAX of the parent): the folder, its
    scratch folders and lock file beside it, and `names` (model files, made in a scratch folder there)."""
    out = Path(out)
    parent = out.parent
    while not parent.exists() and parent != parent.parent:  # created later, on the filesystem of its first ancestor
        parent = parent.parent
    try:
        limit = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        return  # the system does not say: the writes themselves will
    for name in (out.name, _SCRATCH.format(name=out.name), f".{out.name}.lock", *names):
        if len(os.fsencode(name)) > limit:
            shown = name if len(name) <= 60 else f"{name[:28]}...{name[-28:]}"
            raise UserError(f"{flag} {out}: the name {shown} that the export makes there is "
                            f"{len(os.fsencode(name))} bytes, more than the {limit} its filesystem takes; "
                            f"choose {what}")


def check_apart(out: Path, sources: dict[str, Path], flag: str = "--out") -> None:
    """`out` (replaced as a whole by the swap) neither is, nor is inside, nor holds a folder the model is read from
    (`sources`: {"model folder": path, "weights folder": path}): with or without --force."""
    out = real_path(out)
    for what, source in sources.items():
        source = real_path(source)
        if out == source:
            where = f"is the {what}"
        elif source in out.parents:
            where = f"is inside the {what} {source}"
        elif out in source.parents:
            where = f"holds the {what} {source} (the export replaces the whole folder)"
        else:
            continue
        raise UserError(f"{flag} {out} {where}; choose an --out apart from it")


def model_sources(model: str | None, weights: str | None) -> dict[str, Path]:
    """The folders a model is read from, as the CLIs name them: --model and --weights when they are folders."""
    given = {"model folder": model, "weights folder": weights}
    return {what: Path(p) for what, p in given.items() if p and p not in ("hub", "random") and Path(p).is_dir()}


def artifact_names(folder: Path) -> set[str]:
    """What an artifact wrote in `folder`: manifest.json and the files it lists (none when it is unreadable)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        records = [manifest["file"], *manifest.get("extra_files", []), *manifest.get("assets", [])]
        return {"manifest.json", *(r["name"] for r in records if isinstance(r.get("name"), str))}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return set()


def check_target(out: Path, *, force: bool = False) -> None:
    """`out` will be replaced as a whole: it must be new, empty, or hold only what an artifact wrote there (its
    manifest.json and the files that lists; anything else only with `force`), and its parent writable. Checked
    before any work, so no file of the user's goes without a word."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: a file is in the way; choose a folder path")
    if os.path.ismount(out):  # a rename cannot move a mount point: the swap would fail after the work
        raise UserError(f"--out {out} is a mount point, and an export replaces the folder as a whole; choose a "
                        "folder inside it")
    ensure_writable_dir(out.parent if out.parent != out else out)
    if out.is_dir() and not force:
        ours = artifact_names(out)
        foreign = sorted(p.name for p in out.iterdir() if p.name not in ours)
        if foreign:
            what = "files no artifact wrote" if "manifest.json" in ours else "other files and no manifest.json"
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise UserError(f"--out {out} holds {what} ({foreign[0]}{more}); an export replaces the whole folder: "
                            "move them away, choose another --out, or pass --force to delete them")


def check_out(out: Path, *, sources: dict[str, Path] | None = None, flag: str = "--out") -> Path:
    """The real folder of `out`, after the checks that need no lock: a dangling link, names too long, the model's
    own folders, a parent that cannot be written (where the scratch folders and the lock file go)."""
    out = resolve_out(out, flag)
    check_names(out, flag=flag)
    check_apart(out, sources or {}, flag)
    ensure_writable_dir(out.parent if out.parent != out else out)
    return out


@contextlib.contextmanager
def claim_target(out: Path, *, force: bool = False, flag: str = "--out", sources: dict[str, Path] | None = None):
    """Hold `out`'s write lock for the block (a second writer is refused at once) and check it under the lock.
    Yields the real folder (`resolve_out`), which every later step must use. `sources`: as in `check_apart`."""
    out = check_out(out, sources=sources, flag=flag)
    with folder_lock(out, flag):
        check_target(out, force=force)
        yield out
