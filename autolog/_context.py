"""Automatic run tags: who ran what, from which code (read once per process, no subprocess
except one bounded ``git status`` for the dirty flag)."""

from __future__ import annotations

import os
import sys
from functools import lru_cache

from autolog._version import __version__


def _git_dir(start: str) -> str | None:
    path = os.path.abspath(start)
    while True:
        candidate = os.path.join(path, ".git")
        if os.path.isdir(candidate):
            return candidate
        if os.path.isfile(candidate):  # a worktree: "gitdir: <path>"
            with open(candidate) as fh:
                text = fh.read().strip()
            if text.startswith("gitdir:"):
                return os.path.normpath(os.path.join(path, text[7:].strip()))
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _read_commit(git_dir: str) -> str | None:
    try:
        with open(os.path.join(git_dir, "HEAD")) as fh:
            head = fh.read().strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head[4:].strip()
        common = git_dir
        commondir = os.path.join(git_dir, "commondir")
        if os.path.isfile(commondir):
            with open(commondir) as fh:
                common = os.path.normpath(os.path.join(git_dir, fh.read().strip()))
        for base in (git_dir, common):
            ref_file = os.path.join(base, ref)
            if os.path.isfile(ref_file):
                with open(ref_file) as fh:
                    return fh.read().strip()
        packed = os.path.join(common, "packed-refs")
        if os.path.isfile(packed):
            with open(packed) as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) == 2 and parts[1] == ref:
                        return parts[0]
    except OSError:
        return None
    return None


def source_name() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if path else (sys.argv[0] if sys.argv and sys.argv[0] else "<interactive>")


@lru_cache(maxsize=1)
def system_tags() -> dict[str, str]:
    """Tags set on every run this process creates."""
    import getpass
    import platform

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = "unknown"
    name = source_name()
    tags = {
        "autolog.user": user,
        "autolog.source.name": name,
        "autolog.source.type": "NOTEBOOK" if "ipykernel" in sys.modules else "LOCAL",
        "autolog.python_version": platform.python_version(),
        "autolog.version": __version__,
    }
    start = os.path.dirname(name) if os.path.exists(name) else os.getcwd()
    git_dir = _git_dir(start)
    if git_dir:
        commit = _read_commit(git_dir)
        if commit:
            tags["autolog.source.git.commit"] = commit
            dirty = _git_dirty(start)
            if dirty is not None:
                tags["autolog.source.git.dirty"] = "true" if dirty else "false"
    return tags


def _git_dirty(cwd: str) -> bool | None:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd, capture_output=True, text=True, timeout=3, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.stdout.strip()) if out.returncode == 0 else None
