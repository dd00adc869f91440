"""The repository itself: nothing machine-specific tracked (a symlink into /tmp, a virtualenv), README a front door."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tracked() -> list[tuple[str, str]]:
    """(mode, path) of every file git tracks, staged changes included."""
    out = subprocess.run(["git", "ls-files", "-s"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [(line.split()[0], line.split("\t", 1)[1]) for line in out.splitlines()]


def test_no_symlink_or_virtualenv_is_tracked():
    tracked = _tracked()
    assert tracked, "git ls-files listed nothing: not a checkout?"
    symlinks = [path for mode, path in tracked if mode == "120000"]
    assert not symlinks, f"symlinks tracked (machine-specific targets): {symlinks}"
    venvs = [path for _, path in tracked if path.endswith("pyvenv.cfg") or re.match(r"(.*/)?\.?venv(/|$)", path)]
    assert not venvs, f"a virtualenv is tracked: {venvs[:5]}"


def test_readme_is_a_front_door_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.encode()) <= 12 * 1024, "README.md over 12 KB: move the detail to docs/"
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    for page in ("docs/app-assets.md", "docs/export-and-int8.md", "docs/benchmarking.md", "docs/arm64.md",
                 "docs/measurements.md", "docs/design.md"):
        assert page in links, f"README links no {page}"
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / link).exists(), f"{doc.name} links {link}, which does not exist"


def test_the_packages_are_pyflakes_clean():
    """ruff's F rules (pyflakes: unused imports and names, undefined names, ...) on the four packages."""
    done = subprocess.run(["ruff", "check", "--select", "F", "--output-format", "concise", "models", "export",
                           "quantize", "android_bench"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
