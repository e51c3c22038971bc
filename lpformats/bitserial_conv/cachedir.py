"""Where the bit-serial convolution keeps what it generates and learns: generated kernel
sources (and Numba's compiled code beside them) and the tuner's choices.

``LPFORMATS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/lpformats``, else ``~/.cache/lpformats``;
:func:`set_cache_root` overrides it for the process (tests, benchmarks).
"""

from __future__ import annotations

import os
from pathlib import Path

_override: Path | None = None


def cache_root() -> Path:
    """The cache folder now in force (not created here)."""
    if _override is not None:
        return _override
    if os.environ.get("LPFORMATS_CACHE_DIR"):
        return Path(os.environ["LPFORMATS_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lpformats"


def set_cache_root(path: str | os.PathLike | None) -> None:
    """Use ``path`` as the cache folder for the rest of the process (None: back to the
    environment's)."""
    global _override
    _override = None if path is None else Path(path)
