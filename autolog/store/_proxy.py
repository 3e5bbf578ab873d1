"""Artifacts through a tracking server's proxy (``/api/2.0/mlflow-artifacts/artifacts/<path>``),
so that clients never need the storage's credentials.

A run's artifact URI from a server (``mlflow-artifacts:/1/<run>/artifacts``) is rewritten by the
REST store to the proxy's URL (``http://host:port/api/2.0/mlflow-artifacts/artifacts/1/...``);
``mlflow-artifacts://host:port/path`` (MLflow's other spelling) is served too.
"""

from __future__ import annotations

import os
import threading
from typing import Any
from urllib.parse import quote, urlsplit

from autolog.entities import FileInfo
from autolog.errors import InvalidInputError, NotFoundError
from autolog.store import _wire
from autolog.store._http import HttpSession
from autolog.store.artifacts import ArtifactRepository, clean_path

_sessions: dict[str, HttpSession] = {}
_lock = threading.Lock()


def share(session: HttpSession) -> None:
    """Send artifact requests to ``session``'s server through it (one connection pool, the same
    credentials as the REST store's)."""
    with _lock:
        _sessions[session.base] = session


def forget(session: HttpSession) -> None:
    with _lock:
        if _sessions.get(session.base) is session:
            del _sessions[session.base]


def _session(base: str) -> HttpSession:
    with _lock:
        session = _sessions.get(base)
        if session is None:
            session = _sessions[base] = HttpSession(base)
        return session


class ProxyArtifactRepository(ArtifactRepository):
    """Files below one folder of a tracking server's artifact proxy."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        parts = urlsplit(root)
        scheme = parts.scheme
        path = parts.path
        if scheme == _wire.PROXY_SCHEME:
            scheme = "https" if os.environ.get("AUTOLOG_PROXY_HTTPS") else "http"
        elif _wire.ARTIFACTS_API not in path:
            raise InvalidInputError(
                f"{root!r} is not a tracking server's artifact proxy URL "
                f"(…{_wire.ARTIFACTS_API}/<path>).")
        else:
            path = path.split(_wire.ARTIFACTS_API, 1)[1]
        self.prefix = path.strip("/")  # the folder below the proxy's root
        self.session = _session(f"{scheme}://{parts.netloc}")

    def _rel(self, path: str | None) -> str:
        rel = clean_path(path)
        return "/".join(p for p in (self.prefix, rel) if p)

    def _url(self, path: str | None) -> str:
        return f"{_wire.ARTIFACTS_API}/{quote(self._rel(path))}"

    def _request(self, method: str, path: str | None, **kw: Any) -> Any:
        return self.session.request(method, self._url(path), raw=True, **kw)

    def write_bytes(self, artifact_file: str, data: bytes, shared: bool = False) -> None:
        self._request("PUT", artifact_file, content=data)

    def log_file(self, local_path: str, artifact_path: str | None = None) -> None:
        if not os.path.isfile(local_path):
            raise NotFoundError(f"No file at {local_path!r} to log as an artifact.")
        name = os.path.basename(local_path)
        target = f"{clean_path(artifact_path)}/{name}" if clean_path(artifact_path) else name
        with open(local_path, "rb") as fh:
            self.write_bytes(target, fh.read())

    def log_dir(self, local_dir: str, artifact_path: str | None = None) -> None:
        if not os.path.isdir(local_dir):
            raise NotFoundError(f"No directory at {local_dir!r} to log as artifacts.")
        base = clean_path(artifact_path)
        for folder, _dirs, files in os.walk(local_dir):
            rel = os.path.relpath(folder, local_dir).replace(os.sep, "/")
            for name in files:
                parts = [p for p in (base, "" if rel == "." else rel, name) if p]
                with open(os.path.join(folder, name), "rb") as fh:
                    self.write_bytes("/".join(parts), fh.read())

    def read_bytes(self, artifact_file: str) -> bytes:
        try:
            return bytes(self._request("GET", artifact_file).content)
        except NotFoundError:
            raise NotFoundError(f"No artifact file {artifact_file!r} in {self.root}.") from None

    def list(self, path: str | None = None) -> list[FileInfo]:
        found = self.session.request("GET", _wire.ARTIFACTS_API, params={"path": self._rel(path)})
        prefix = clean_path(path)
        out = []
        for f in found.get("files", []):
            name = f["path"].rstrip("/").rsplit("/", 1)[-1]
            is_dir = bool(f.get("is_dir"))
            size = None if is_dir or f.get("file_size") is None else int(f["file_size"])
            out.append(FileInfo(f"{prefix}/{name}" if prefix else name, is_dir, size))
        return sorted(out, key=lambda f: f.path)

    def download(self, path: str | None = None, dst_path: str | None = None) -> str:
        import tempfile

        dst_root = dst_path or tempfile.mkdtemp(prefix="autolog-")
        rel = clean_path(path)
        name = rel.rsplit("/", 1)[-1] if rel else "artifacts"
        dest = os.path.join(dst_root, name)
        children = self.list(rel or None)
        if not children:
            data = self.read_bytes(rel)  # a file, or NotFoundError
            os.makedirs(dst_root, exist_ok=True)
            with open(dest, "wb") as fh:
                fh.write(data)
            return dest
        os.makedirs(dest, exist_ok=True)
        for child in children:
            self.download(child.path, dest) if child.is_dir else self._fetch(child.path, dest)
        return dest

    def _fetch(self, path: str, folder: str) -> None:
        with open(os.path.join(folder, path.rsplit("/", 1)[-1]), "wb") as fh:
            fh.write(self.read_bytes(path))

    def delete(self, path: str | None = None) -> None:
        try:
            self._request("DELETE", path)
        except NotFoundError:
            pass
