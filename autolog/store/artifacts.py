"""Artifacts in a local folder (object storage comes later behind the same functions).

Standard-library helpers (shutil, tempfile) are imported where used: this module is part of
``import autolog``.
"""

from __future__ import annotations

import os

from autolog.entities import FileInfo
from autolog.errors import InvalidInputError, NotFoundError, StorageError


def _target(root: str, artifact_path: str | None) -> str:
    if artifact_path:
        norm = os.path.normpath(artifact_path)
        if os.path.isabs(artifact_path) or norm.startswith(".."):
            raise InvalidInputError(
                f"Invalid artifact_path {artifact_path!r}: it must be relative and stay inside "
                "the run's artifact folder.")
        return os.path.join(root, norm)
    return root


def log_file(root: str, local_path: str, artifact_path: str | None = None) -> None:
    """Copy a file into the run's artifact folder.

    Raises:
        NotFoundError: ``local_path`` does not exist.
        StorageError: the copy failed.
    """
    if not os.path.isfile(local_path):
        raise NotFoundError(f"No file at {local_path!r} to log as an artifact.")
    dest = _target(root, artifact_path)
    try:
        os.makedirs(dest, exist_ok=True)
        import shutil

        shutil.copy2(local_path, os.path.join(dest, os.path.basename(local_path)))
    except OSError as exc:
        raise StorageError(f"Could not store artifact {local_path!r}: {exc}") from exc


def log_dir(root: str, local_dir: str, artifact_path: str | None = None) -> None:
    """Copy a directory's contents into the run's artifact folder.

    Raises:
        NotFoundError: ``local_dir`` is not a directory.
        StorageError: the copy failed.
    """
    if not os.path.isdir(local_dir):
        raise NotFoundError(f"No directory at {local_dir!r} to log as artifacts.")
    dest = _target(root, artifact_path)
    try:
        import shutil

        shutil.copytree(local_dir, dest, dirs_exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Could not store artifacts from {local_dir!r}: {exc}") from exc


def write_bytes(root: str, artifact_file: str, data: bytes) -> str:
    """Write ``data`` as ``artifact_file`` (a relative path); return the absolute path.

    Raises:
        StorageError: the write failed.
    """
    path = _target(root, artifact_file)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)  # readers never see a half-written file
    except OSError as exc:
        raise StorageError(f"Could not write artifact {artifact_file!r}: {exc}") from exc
    return path


def list_files(root: str, path: str | None = None) -> list[FileInfo]:
    base = _target(root, path)
    if not os.path.isdir(base):
        return []
    out = []
    for name in sorted(os.listdir(base)):
        full = os.path.join(base, name)
        rel = os.path.relpath(full, root)
        is_dir = os.path.isdir(full)
        out.append(FileInfo(rel, is_dir, None if is_dir else os.path.getsize(full)))
    return out


def download(root: str, path: str, dst_path: str | None = None) -> str:
    """Copy an artifact file or folder to ``dst_path`` (a new temp folder by default).

    Raises:
        NotFoundError: the artifact does not exist.
    """
    import shutil
    import tempfile

    source = _target(root, path)
    if not os.path.exists(source):
        raise NotFoundError(f"No artifact {path!r} in {root}.")
    dst_root = dst_path or tempfile.mkdtemp(prefix="autolog-")
    dest = os.path.join(dst_root, os.path.basename(os.path.normpath(source)) if path else "artifacts")
    if os.path.isdir(source):
        shutil.copytree(source, dest, dirs_exist_ok=True)
    else:
        os.makedirs(dst_root, exist_ok=True)
        shutil.copy2(source, dest)
    return dest
