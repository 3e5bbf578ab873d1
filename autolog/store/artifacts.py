"""Artifact repositories: one interface for where a run's files live.

A run's ``artifact_uri`` names its repository: a local folder (a plain path or ``file://``) is
built in; other schemes (``s3://``, the tracking server's artifact proxy) register a factory with
:func:`register_scheme`, imported only when such a URI is first used. Every caller (the fluent
API, ``Client``, the integrations, model saving and loading) goes through :func:`repository`, so a
new backend works everywhere at once. Cross-cutting behaviour (lazily drawn plots, say) wraps a
repository with the same interface.

Standard-library helpers (shutil, tempfile) are imported where used: this module is part of
``import autolog``.
"""

from __future__ import annotations

import abc
import contextlib
import importlib
import os
from typing import Callable, Iterator

from autolog.entities import FileInfo
from autolog.errors import InvalidInputError, NotFoundError, StorageError


def clean_path(artifact_path: str | None) -> str:
    """``artifact_path`` as a normalised relative '/'-path ('' for the root).

    Raises:
        InvalidInputError: the path is absolute or leaves the root (``..``).
    """
    if not artifact_path:
        return ""
    norm = os.path.normpath(artifact_path).replace(os.sep, "/")
    if os.path.isabs(artifact_path) or norm == ".." or norm.startswith("../"):
        raise InvalidInputError(
            f"Invalid artifact_path {artifact_path!r}: it must be relative and stay inside "
            "the run's artifact folder.")
    return "" if norm == "." else norm


class ArtifactRepository(abc.ABC):
    """Files below one root URI. Paths are relative and '/'-separated; none leaves the root.

    Guarantees of every implementation: a written file is read back whole or not at all (no
    reader sees half a file); listing gives direct children, folders first-class, sorted by path;
    errors are :class:`NotFoundError` for a missing path, :class:`InvalidInputError` for a path
    that leaves the root, :class:`StorageError` for the backend failing; nothing else escapes.
    """

    def __init__(self, root: str) -> None:
        self.root = root

    @abc.abstractmethod
    def log_file(self, local_path: str, artifact_path: str | None = None) -> None:
        """Store a local file as ``<artifact_path>/<its name>``.

        Raises:
            NotFoundError: ``local_path`` is not a file.
            StorageError: the backend failed.
        """

    @abc.abstractmethod
    def log_dir(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Store a local folder's contents (recursively) under ``artifact_path``.

        Raises:
            NotFoundError: ``local_dir`` is not a folder.
            StorageError: the backend failed.
        """

    @abc.abstractmethod
    def write_bytes(self, artifact_file: str, data: bytes, shared: bool = False) -> None:
        """Store ``data`` as ``artifact_file``, replacing any file there.

        ``shared``: a hint that many runs store these same bytes (a requirements list); a
        backend may store them once and share them (the local folder hard-links them); others
        ignore it.

        Raises:
            StorageError: the backend failed.
        """

    @abc.abstractmethod
    def read_bytes(self, artifact_file: str) -> bytes:
        """Raises: NotFoundError: no file there."""

    @abc.abstractmethod
    def list(self, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``path`` (empty when there is nothing)."""

    @abc.abstractmethod
    def download(self, path: str | None = None, dst_path: str | None = None) -> str:
        """Copy a file or folder (the whole root when ``path`` is empty) below ``dst_path`` (a new
        temporary folder by default) and return the local path of the copy.

        Raises:
            NotFoundError: nothing at ``path``.
        """

    @abc.abstractmethod
    def delete(self, path: str | None = None) -> None:
        """Remove a file or folder (everything when ``path`` is empty); missing is not an error."""

    def local_path(self, path: str | None = None) -> str | None:
        """The local filesystem path of ``path`` when this repository is a local folder, else None.

        Lets a framework write or read a large folder in place instead of through a copy.
        """
        return None

    def exists(self, path: str) -> bool:
        parent, _, _ = clean_path(path).rpartition("/")
        target = clean_path(path)
        return any(f.path == target for f in self.list(parent or None))

    @contextlib.contextmanager
    def folder_to_log(self, artifact_path: str) -> Iterator[str]:
        """A local folder path (not yet existing) to write into; its contents end up stored under
        ``artifact_path`` when the block exits without an error."""
        local = self.local_path(artifact_path)
        if local is not None:
            yield local
            return
        import shutil
        import tempfile

        staging = tempfile.mkdtemp(prefix="autolog-upload-")
        try:
            target = os.path.join(staging, "folder")
            yield target
            self.log_dir(target, artifact_path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def local_copy(self, path: str) -> str:
        """A local path holding ``path``: the file itself for a local folder, else a download.

        Raises:
            NotFoundError: nothing at ``path``.
        """
        local = self.local_path(path)
        if local is not None:
            if not os.path.exists(local):
                raise NotFoundError(f"No artifact {path!r} in {self.root}.")
            return local
        return self.download(path)


class LocalArtifactRepository(ArtifactRepository):
    """A folder on this machine (or a mounted share)."""

    def local_path(self, path: str | None = None) -> str:
        rel = clean_path(path)
        return os.path.join(self.root, *rel.split("/")) if rel else self.root

    def log_file(self, local_path: str, artifact_path: str | None = None) -> None:
        if not os.path.isfile(local_path):
            raise NotFoundError(f"No file at {local_path!r} to log as an artifact.")
        dest = self.local_path(artifact_path)
        try:
            import shutil

            os.makedirs(dest, exist_ok=True)
            shutil.copy2(local_path, os.path.join(dest, os.path.basename(local_path)))
        except OSError as exc:
            raise StorageError(f"Could not store artifact {local_path!r}: {exc}") from exc

    def log_dir(self, local_dir: str, artifact_path: str | None = None) -> None:
        if not os.path.isdir(local_dir):
            raise NotFoundError(f"No directory at {local_dir!r} to log as artifacts.")
        try:
            import shutil

            shutil.copytree(local_dir, self.local_path(artifact_path), dirs_exist_ok=True)
        except OSError as exc:
            raise StorageError(f"Could not store artifacts from {local_dir!r}: {exc}") from exc

    def write_bytes(self, artifact_file: str, data: bytes, shared: bool = False) -> None:
        """Write one file atomically; ``shared``: bytes that many runs repeat, hard-linked to
        an earlier copy where possible (:mod:`autolog.store._local_files`)."""
        from autolog.store._local_files import write_file

        path = self.local_path(artifact_file)
        try:
            try:
                write_file(path, data, shared)
            except FileNotFoundError:
                # The folder is created only when missing: a run writes several files into
                # the same folder, and makedirs costs syscalls even when it exists.
                os.makedirs(os.path.dirname(path), exist_ok=True)
                write_file(path, data, shared)
        except OSError as exc:
            raise StorageError(f"Could not write artifact {artifact_file!r}: {exc}") from exc

    def read_bytes(self, artifact_file: str) -> bytes:
        path = self.local_path(artifact_file)
        if not os.path.isfile(path):
            raise NotFoundError(f"No artifact file {artifact_file!r} in {self.root}.")
        with open(path, "rb") as fh:
            return fh.read()

    def list(self, path: str | None = None) -> list[FileInfo]:
        base = self.local_path(path)
        if not os.path.isdir(base):
            return []
        prefix = clean_path(path)
        out = []
        for name in sorted(os.listdir(base)):
            full = os.path.join(base, name)
            is_dir = os.path.isdir(full)
            rel = f"{prefix}/{name}" if prefix else name
            out.append(FileInfo(rel, is_dir, None if is_dir else os.path.getsize(full)))
        return out

    def download(self, path: str | None = None, dst_path: str | None = None) -> str:
        import shutil
        import tempfile

        source = self.local_path(path)
        if not os.path.exists(source):
            raise NotFoundError(f"No artifact {path!r} in {self.root}.")
        dst_root = dst_path or tempfile.mkdtemp(prefix="autolog-")
        name = os.path.basename(os.path.normpath(source)) if clean_path(path) else "artifacts"
        dest = os.path.join(dst_root, name)
        if os.path.isdir(source):
            shutil.copytree(source, dest, dirs_exist_ok=True)
        else:
            os.makedirs(dst_root, exist_ok=True)
            shutil.copy2(source, dest)
        return dest

    def delete(self, path: str | None = None) -> None:
        import shutil

        target = self.local_path(path)
        if os.path.isdir(target):
            shutil.rmtree(target, ignore_errors=True)
        elif os.path.exists(target):
            os.remove(target)


# scheme -> "module:attribute" of a factory taking the URI; imported on first use so that the
# heavy client libraries (boto3, httpx) load only for the URIs that need them.
_SCHEMES: dict[str, str | Callable[[str], ArtifactRepository]] = {}


def register_scheme(scheme: str, factory: str | Callable[[str], ArtifactRepository]) -> None:
    """Serve URIs ``<scheme>://...`` with ``factory(uri)`` (a callable or "module:attribute")."""
    _SCHEMES[scheme] = factory


register_scheme("s3", "autolog.store.s3:S3ArtifactRepository")


def repository(uri: str) -> ArtifactRepository:
    """The repository for an artifact root URI (a run's ``artifact_uri``).

    Every repository comes wrapped in :class:`autolog.plots.repository.PlotRepository`: plots
    recorded as specs are listed under their drawn name and drawn on first read.

    Raises:
        InvalidInputError: no repository handles the URI's scheme.
    """
    from autolog.plots.repository import PlotRepository  # here: keeps `import autolog` light

    inner = _backend(uri)
    return inner if isinstance(inner, PlotRepository) else PlotRepository(inner)


def _backend(uri: str) -> ArtifactRepository:
    scheme, sep, rest = uri.partition("://")
    if not sep or len(scheme) == 1:  # a plain path (a Windows drive letter is no scheme)
        return LocalArtifactRepository(uri)
    if scheme == "file":
        return LocalArtifactRepository(rest)
    factory = _SCHEMES.get(scheme)
    if factory is None:
        raise InvalidInputError(
            f"No artifact repository for {uri!r}: supported are local folders"
            f"{''.join(', ' + s + '://' for s in sorted(_SCHEMES))}.")
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module), attr)
    return factory(uri)
