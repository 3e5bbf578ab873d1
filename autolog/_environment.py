"""The run's environment: command, host, installed distributions, git state, allowed variables.

Two halves, so that a run start stays cheap (well under 5 ms, once per process):

* :func:`process_tags`, on the caller's thread the first time a run starts (then cached with
  :func:`autolog._context.system_tags`): the command line, host, OS, CPU count and total
  memory, read from ``sys.argv`` and system calls; and the git branch, commit and remote URL,
  read from the ``.git`` folder's files (:mod:`autolog._context`). No subprocess.
* :func:`on_new_run` queues one task on the batching writer's thread, which finds what costs
  more (once per process, cached): the ``environment/requirements.txt`` listing of installed
  distributions from package metadata, the git dirty flag and the diff (``git status`` and
  ``git diff HEAD`` run there, never on the training path), and the GPU names from NVML.

Every part can be turned off with :func:`set_environment_logging` or
``AUTOLOG_ENVIRONMENT_EXCLUDE=requirements,git_diff`` (``AUTOLOG_LOG_ENVIRONMENT=false`` turns
all off). Environment variables are recorded only when named in the allow-list
(``environment_variables=[...]`` or ``AUTOLOG_ENVIRONMENT_VARIABLES=A,B``), as
``autolog.env.<NAME>`` tags, and secrets anywhere are masked (:mod:`autolog._redact`).
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any, Iterable

from autolog.errors import InvalidInputError

PARTS = ("command", "host", "git", "git_diff", "requirements", "gpus")
MAX_DIFF_BYTES = 1024 * 1024
ENV_OFF = "AUTOLOG_LOG_ENVIRONMENT"
ENV_EXCLUDE = "AUTOLOG_ENVIRONMENT_EXCLUDE"
ENV_VARIABLES = "AUTOLOG_ENVIRONMENT_VARIABLES"
REQUIREMENTS_FILE = "environment/requirements.txt"
DIFF_FILE = "environment/git.diff"

_parts: dict[str, bool] = {}
_variables: tuple[str, ...] | None = None


def set_environment_logging(*, command: bool = True, host: bool = True, git: bool = True,
                            git_diff: bool = True, requirements: bool = True, gpus: bool = True,
                            environment_variables: Iterable[str] | None = None) -> None:
    """Choose which parts of the environment runs started from now on record.

    Args:
        command: the command line (``autolog.command``), secret-looking arguments masked.
        host: host name, OS, CPU count and total memory (``autolog.host``, ``autolog.os``, ...).
        git: branch, commit, remote URL and dirty flag (``autolog.source.git.*``).
        git_diff: the ``environment/git.diff`` artifact of a dirty tree (capped at 1 MB).
        requirements: the ``environment/requirements.txt`` artifact.
        gpus: GPU names from NVML (``autolog.gpus``).
        environment_variables: names of variables to record as ``autolog.env.<NAME>``; none
            by default (``AUTOLOG_ENVIRONMENT_VARIABLES`` when not given).

    Raises:
        InvalidInputError: a variable name is not a string.
    """
    global _variables
    names = None if environment_variables is None else tuple(environment_variables)
    if names is not None and not all(isinstance(n, str) and n for n in names):
        raise InvalidInputError("environment_variables must be a list of variable names.")
    _parts.update(command=command, host=host, git=git, git_diff=git_diff,
                  requirements=requirements, gpus=gpus)
    _variables = names
    from autolog import _context

    _context.system_tags.cache_clear()


def part_on(part: str) -> bool:
    if part in _parts:
        return _parts[part]
    if os.environ.get(ENV_OFF, "").strip().lower() in ("0", "false", "no", "off"):
        return False
    excluded = {p.strip() for p in os.environ.get(ENV_EXCLUDE, "").split(",")}
    return part not in excluded


def _allowed_variables() -> tuple[str, ...]:
    if _variables is not None:
        return _variables
    return tuple(n.strip() for n in os.environ.get(ENV_VARIABLES, "").split(",") if n.strip())


def process_tags() -> dict[str, str]:
    """Command, host and allowed-variable tags (cheap: no subprocess, no package scan)."""
    from autolog._redact import mask_argv, mask_value

    global _slow_tags
    _slow_tags = None  # the settings changed (or first call): the writer finds them again

    tags: dict[str, str] = {}
    if part_on("command"):
        import shlex

        argv = [sys.executable, *sys.argv] if sys.argv and sys.argv[0] else [sys.executable]
        tags["autolog.command"] = " ".join(shlex.quote(a) for a in mask_argv(argv))[:8000]
    if part_on("host"):
        if hasattr(os, "uname"):
            # os.uname(): the host name and OS in one system call, without importing socket
            # or platform (a few ms on a run's start).
            u = os.uname()
            tags["autolog.host"] = u.nodename
            tags["autolog.os"] = f"{u.sysname} {u.release} {u.machine}"
        else:  # Windows
            import platform

            tags["autolog.host"] = platform.node()
            tags["autolog.os"] = f"{platform.system()} {platform.release()} {platform.machine()}"
        tags["autolog.cpu_count"] = str(os.cpu_count() or 0)
        memory = _total_memory_mb()
        if memory:
            tags["autolog.memory_total_mb"] = str(memory)
    for name in _allowed_variables():
        value = os.environ.get(name)
        if value is not None:
            tags[f"autolog.env.{name}"] = mask_value(name, value)[:8000]
    return tags


def _total_memory_mb() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    except (ValueError, OSError, AttributeError):
        return None  # not POSIX: psutil would know, but it is optional


# -- the writer-thread half ---------------------------------------------------------------------
_slow_tags: dict[str, str] | None = None  # dirty flag and GPU names, once the writer found them


def known_slow_tags() -> dict[str, str]:
    """The writer-found tags (git dirty flag, GPU names) once known, for a run's creation: after
    the first run of a process they cost its later runs no extra write."""
    if _slow_tags is None:
        return {}
    return {k: v for k, v in _slow_tags.items()
            if part_on("gpus" if k == "autolog.gpus" else "git")}


def on_new_run(run: Any, store: Any) -> None:
    """Queue the run's environment artifacts (and the slow tags, until known) on the writer.

    Nested runs get the tags but not the artifacts: their parent holds the same files.
    """
    nested = "mlflow.parentRunId" in run.data.tags
    wanted = {p for p in ("git", "git_diff", "requirements", "gpus") if part_on(p)}
    if nested:
        wanted -= {"git_diff", "requirements"}
    if _slow_tags is not None:
        wanted -= {"git", "gpus"}  # already on the run: start_run added known_slow_tags()
    if not wanted or not hasattr(store, "submit"):
        return
    from autolog import _context

    source_dir = _context.source_dir()
    run_id, artifact_uri = run.info.run_id, run.info.artifact_uri
    store.submit(lambda: _record(store, run_id, artifact_uri, source_dir, frozenset(wanted)))


def _record(store: Any, run_id: str, artifact_uri: str, source_dir: str,
            wanted: frozenset[str]) -> None:
    # On the writer thread: a failure here must not surface as a storage error at the user's
    # next flush, so it is logged and dropped.
    global _slow_tags
    try:
        from autolog.entities import RunTag

        if "requirements" in wanted:
            _write(artifact_uri, REQUIREMENTS_FILE, _requirements_bytes(), shared=True)
        dirty, diff = git_state(source_dir) if wanted & {"git", "git_diff"} else (None, None)
        if dirty and diff and "git_diff" in wanted:
            _write(artifact_uri, DIFF_FILE, diff)
        if wanted & {"git", "gpus"}:
            found: dict[str, str] = {}
            if dirty is not None:
                found["autolog.source.git.dirty"] = "true" if dirty else "false"
            names = gpu_names()
            if names:
                found["autolog.gpus"] = ", ".join(names)
            if "git" in wanted and "gpus" in wanted:
                _slow_tags = found
            tags = [RunTag(k, v) for k, v in found.items()
                    if ("gpus" if k == "autolog.gpus" else "git") in wanted]
            if tags:
                store.log_batch(run_id, tags=tags)
    except Exception as exc:  # noqa: BLE001
        from autolog.integrations import _config

        if _config.strict():
            raise  # tests see our bugs (as a storage error at the next flush)
        import logging

        logging.getLogger("autolog").warning("autolog: could not record the environment of run %s: %r", run_id, exc)


def _write(artifact_uri: str, artifact_file: str, data: bytes, shared: bool = False) -> None:
    from autolog.store import artifacts

    # shared: the same bytes every run (a local folder hard-links them to an earlier copy).
    artifacts.repository(artifact_uri).write_bytes(artifact_file, data, shared=shared)


@lru_cache(maxsize=1)
def _requirements_bytes() -> bytes:
    return requirements_text().encode()


@lru_cache(maxsize=1)
def requirements_text() -> str:
    """``name==version`` for every installed distribution, sorted, from package metadata."""
    from importlib import metadata

    seen: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name}=={dist.version}"
    return "".join(line + "\n" for _, line in sorted(seen.items()))


@lru_cache(maxsize=4)
def git_state(cwd: str) -> tuple[bool | None, bytes | None]:
    """(dirty, diff against HEAD capped at 1 MB, secrets masked); (None, None) outside git."""
    import subprocess

    # GIT_OPTIONAL_LOCKS=0: `git status` must not take the index lock under the user's feet.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=cwd, capture_output=True, timeout=10, check=False, env=env)
        if status.returncode != 0:
            return None, None
        dirty = bool(status.stdout.strip())
        if not dirty:
            return False, None
        diff = subprocess.run(["git", "diff", "HEAD", "--no-color", "--no-ext-diff"], cwd=cwd,
                              capture_output=True, timeout=20, check=False, env=env).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    from autolog._redact import mask_text

    truncated = len(diff) > MAX_DIFF_BYTES
    text = mask_text(diff[:MAX_DIFF_BYTES].decode("utf-8", "replace"))
    data = text.encode("utf-8")[:MAX_DIFF_BYTES]
    if truncated:
        note = b"\n# autolog: diff truncated at 1 MB\n"
        data = data[: MAX_DIFF_BYTES - len(note)] + note
    return True, data


@lru_cache(maxsize=1)
def gpu_names() -> tuple[str, ...]:
    from autolog import _system_metrics

    return tuple(_system_metrics.gpu_names())
