"""Automatic run tags: who ran what, where, from which code (read once per process from files
and system calls, no subprocess: the git dirty flag and diff are found on the writer thread,
see :mod:`autolog._environment`)."""

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


def _common_dir(git_dir: str) -> str:
    # A linked worktree keeps HEAD in its own folder; refs, packed-refs and config are shared.
    commondir = os.path.join(git_dir, "commondir")
    if os.path.isfile(commondir):
        with open(commondir) as fh:
            return os.path.normpath(os.path.join(git_dir, fh.read().strip()))
    return git_dir


def _read_head(git_dir: str) -> str | None:
    try:
        with open(os.path.join(git_dir, "HEAD")) as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def _read_branch(git_dir: str) -> str | None:
    head = _read_head(git_dir)
    if head and head.startswith("ref: refs/heads/"):
        return head[len("ref: refs/heads/"):]
    return None  # detached HEAD


def _read_remote_url(git_dir: str, remote: str = "origin") -> str | None:
    """The remote's URL from the repository's config file (the first remote if no origin)."""
    try:
        with open(os.path.join(_common_dir(git_dir), "config")) as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    urls: dict[str, str] = {}
    section = None
    for raw in lines:
        line = raw.strip()
        if line.startswith("["):
            section = None
            if line.startswith('[remote "') and line.endswith('"]'):
                section = line[len('[remote "'):-2]
        elif section is not None and "=" in line:
            key, _, value = line.partition("=")
            if key.strip().lower() == "url":
                urls.setdefault(section, value.strip().strip('"'))
    return urls.get(remote) or next(iter(urls.values()), None)


def _read_commit(git_dir: str) -> str | None:
    try:
        head = _read_head(git_dir)
        if head is None:
            return None
        if not head.startswith("ref:"):
            return head or None
        ref = head[4:].strip()
        common = _common_dir(git_dir)
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
    """Tags set on every run this process creates (the parts that
    :func:`autolog._environment.set_environment_logging` left on)."""
    import getpass

    from autolog import _environment

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = "unknown"
    name = source_name()
    tags = {
        "autolog.user": user,
        "autolog.source.name": name,
        "autolog.source.type": "NOTEBOOK" if "ipykernel" in sys.modules else "LOCAL",
        # sys.version's first word is what platform.python_version() returns, without the
        # ~2 ms import of platform on a run's start.
        "autolog.python_version": sys.version.split()[0],
        "autolog.version": __version__,
    }
    tags.update(_environment.process_tags())
    if _environment.part_on("git"):
        git_dir = _git_dir(source_dir())
        if git_dir:
            commit = _read_commit(git_dir)
            if commit:
                tags["autolog.source.git.commit"] = commit
            branch = _read_branch(git_dir)
            if branch:
                tags["autolog.source.git.branch"] = branch
            url = _read_remote_url(git_dir)
            if url:
                from autolog._redact import mask_text

                tags["autolog.source.git.repoURL"] = mask_text(url)
    return tags


def source_dir() -> str:
    """The folder of the running script (the working directory for a notebook or a REPL)."""
    name = source_name()
    return os.path.dirname(name) if os.path.exists(name) else os.getcwd()
