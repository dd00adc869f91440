"""Where android_bench keeps what it builds or downloads once per machine (the arm64 root, aarch64 wheels,
cross-built SDKs): ~/.cache/squeezebert-mobile, or $SQUEEZEBERT_MOBILE_CACHE. It survives between runs and
clones, so CI on one machine builds the arm64 device once."""
from __future__ import annotations

import os
from pathlib import Path

ENV = "SQUEEZEBERT_MOBILE_CACHE"


def cache_home() -> Path:
    base = os.environ.get(ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache",
                                               "squeezebert-mobile")
    return Path(base).expanduser().resolve()
