"""Which code produced a result: the package version and, in a git checkout, the commit.

Run records carry :func:`code_version` as ``code`` so that a table or a resumed sweep can tell
results of different code apart (a sweep skips the points it holds whatever code ran them;
``swalp sweep`` says how many of them other code produced).
"""

from __future__ import annotations

import functools
import importlib.metadata
import subprocess
from pathlib import Path
from typing import Any

#: The distribution that holds ``lpformats``, ``accel_model`` and ``swalp``.
DISTRIBUTION = "lowprec"
#: The source tree: a git checkout for an editable install, site-packages otherwise.
SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str | None:
    """Output of ``git -C SOURCE_ROOT args`` (stripped), None without git or outside a checkout."""
    try:
        done = subprocess.run(["git", "-C", str(SOURCE_ROOT), *args], capture_output=True, text=True,
                              timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """``{"version", "commit", "dirty"}``: the installed version of :data:`DISTRIBUTION`
    (None if it is not installed), the checked-out commit of the source tree and whether tracked
    files differ from it (both None when the source is not a git checkout). Computed once per
    process."""
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = None
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != SOURCE_ROOT:  # e.g. site-packages inside another repo
        return {"version": version, "commit": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"version": version, "commit": _git("rev-parse", "HEAD"),
            "dirty": None if status is None else bool(status)}


def same_code(a: Any, b: Any) -> bool:
    """Whether two ``code`` entries name the same code: equal version and equal commit (two
    installs outside a git checkout, commit None, compare by version alone; uncommitted
    changes are recorded as ``dirty`` but cannot be compared). A missing entry (records older
    than this field) is never the same."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return False
    return a.get("version") == b.get("version") and a.get("commit") == b.get("commit")


__all__ = ["code_version", "same_code"]
